//! `query-bench`: query timings on an indexed generated chain, printed as Markdown. Engine calls
//! are timed warm (the database opened once, each query run several times, the median kept); the
//! `query` binary is timed end to end as an investigator runs it; and a backward trace is timed
//! through the node's own RPC (`getrawtransaction` with `-txindex`) for comparison.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::process::Command;
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use bitcoin::hashes::Hash;
use bitcoin::Txid;
use bitcoincore_rpc::RpcApi;
use chaintrail_tests::node::connect_cookie;
use chaintrail_tests::Truth;
use clap::Parser;
use indexer::stages::clusters::read;
use indexer::storage::schema::{EventKind, TxNum};
use indexer::storage::store::Store;
use query::engine::{shortest_path, trace, Amount, Direction, PathLimits, Root, Select, TraceLimits};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    db: PathBuf,
    #[arg(long)]
    truth: PathBuf,
    #[arg(long)]
    rpc_url: String,
    #[arg(long)]
    rpc_cookie: PathBuf,
    /// Timed repetitions of each warm query.
    #[arg(long, default_value_t = 15)]
    runs: usize,
}

/// Median and minimum of `runs` calls of `f`, after one untimed warm-up call.
fn timed<T>(runs: usize, mut f: impl FnMut() -> anyhow::Result<T>) -> anyhow::Result<(Duration, Duration, T)> {
    let mut out = f()?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        out = f()?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok((times[times.len() / 2], times[0], out))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn num_of(store: &Store, txid: &str) -> anyhow::Result<TxNum> {
    let txid = Txid::from_str(txid)?;
    store.txnums(txid.as_byte_array())?.last().copied().with_context(|| format!("{txid} not indexed"))
}

/// Distinct txs with a history event of `kind` for a script, in chain order.
fn script_txs(store: &Store, script_hex: &str, kind: EventKind) -> anyhow::Result<Vec<TxNum>> {
    let num = store.script_num(&hex::decode(script_hex)?)?.context("script indexed")?;
    let mut txs: Vec<TxNum> = Vec::new();
    for (event, _) in store.history(num, 0, usize::MAX)? {
        if event.kind == kind && txs.last() != Some(&event.txnum) {
            txs.push(event.txnum);
        }
    }
    Ok(txs)
}

/// Roots that bring all their value into a trace.
fn whole(nums: &[u64]) -> Vec<Root> {
    nums.iter().map(|&num| Root { num, amount: Amount::Whole }).collect()
}

fn limits(direction: Direction, hops: u32) -> TraceLimits {
    TraceLimits { direction, hops, min_value: 0, select: Select::All, max_txs: 10_000_000, stop: Vec::new() }
}

/// The `query` binary next to this one, run once untimed and then `runs` times.
fn cli(db: &PathBuf, args: &[&str], runs: usize) -> anyhow::Result<Duration> {
    let exe = std::env::current_exe()?.with_file_name("query");
    let (median, _, _) = timed(runs, || {
        let out = Command::new(&exe).arg("--db").arg(db).args(args).output()?;
        ensure!(out.status.success(), "query {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        Ok(())
    })?;
    Ok(median)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let truth = Truth::load(&args.truth)?;
    let store = Store::open_follower(&args.db, 512 << 20)?;
    let mut rows: Vec<[String; 4]> = Vec::new();

    // Large 6-hop forward traces: from the early tx with the biggest one, and from every tx that
    // spends from the busiest address (a payment processor's hub), the largest the chain offers.
    let candidates: Vec<&str> =
        truth.txs.iter().filter(|t| t.kind != "coinbase").take(400).step_by(8).map(|t| t.txid.as_str()).collect();
    let mut best = (0usize, "");
    for txid in &candidates {
        let n = trace(&store, &whole(&[num_of(&store, txid)?]), &limits(Direction::Forward, 6))?.nodes.len();
        if n > best.0 {
            best = (n, txid);
        }
    }
    let root = num_of(&store, best.1)?;
    let (hub, _) = truth.busiest_script().context("no scripts")?;
    let hub_address = hub.address.clone().context("address")?;
    let hub_roots = script_txs(&store, &hub.script_hex, EventKind::Spent)?;
    let traces = [
        (format!("6-hop forward trace from a tx ({})", &best.1[..8]), vec![root], vec!["trace", "forward", best.1]),
        (
            "6-hop forward trace from the hub address".to_string(),
            hub_roots,
            vec!["trace", "forward", hub_address.as_str()],
        ),
    ];
    for (name, roots, args_cli) in traces {
        let (med, min, t) = timed(args.runs, || Ok(trace(&store, &whole(&roots), &limits(Direction::Forward, 6))?))?;
        let mut cli_args = args_cli.clone();
        cli_args.extend(["--hops", "6", "--max-txs", "1000000"]);
        let cli_t = cli(&args.db, &cli_args, 5)?;
        rows.push([
            name,
            format!("{} txs, {} edges", t.nodes.len(), t.edges.len()),
            format!("{} (min {})", ms(med), ms(min)),
            format!("{} ({:.1}× the engine)", ms(cli_t), cli_t.as_secs_f64() / med.as_secs_f64()),
        ]);
    }

    // A path of depth >= 20: a tx first reached at hop >= 20 from the same root.
    let deep = trace(&store, &whole(&[root]), &TraceLimits { max_txs: 2_000_000, ..limits(Direction::Forward, 40) })?;
    let first_deep =
        deep.nodes.iter().filter(|n| n.hop >= 20).min_by_key(|n| n.hop).context("no tx 20 hops from the root")?;
    let deepest = deep.nodes.iter().max_by_key(|n| n.hop).context("empty trace")?;
    let path_limits = PathLimits { max_hops: 40, min_value: 0, max_txs: 10_000_000 };
    for target in [first_deep, deepest] {
        let (med, min, p) = timed(args.runs, || Ok(shortest_path(&store, &[root], &[target.num], &path_limits)?))?;
        ensure!(p.txs.len() as u32 == target.hop + 1, "path length {} but BFS depth {}", p.txs.len(), target.hop);
        let target_txid = Txid::from_byte_array(store.tx(target.num)?.context("tx")?.txid).to_string();
        let cli_p = cli(&args.db, &["path", best.1, &target_txid, "--max-hops", "40"], 5)?;
        rows.push([
            format!("path search, depth {}", target.hop),
            format!("{} txs visited", p.visited),
            format!("{} (min {})", ms(med), ms(min)),
            ms(cli_p),
        ]);
    }

    // The address with the longest history.
    let (info, _) = truth.busiest_script().context("no scripts")?;
    let address = info.address.clone().context("address")?;
    let id = store.script_num(&hex::decode(&info.script_hex)?)?.context("the busiest script is indexed")?;
    let (med, min, n) = timed(args.runs, || Ok(store.history(id, 0, usize::MAX)?.len()))?;
    let cli_a = cli(&args.db, &["address", &address, "--limit", "100"], 5)?;
    rows.push([
        "address: full history scan".into(),
        format!("{n} history entries, {} UTXOs", store.utxos(id, usize::MAX)?.len()),
        format!("{} (min {})", ms(med), ms(min)),
        format!("{} (`address --limit 100`)", ms(cli_a)),
    ]);

    // A backward trace, ours and through the node's RPC: the same set of txs.
    let back_root = num_of(&store, &truth.case.consolidation_txid)?;
    let (med, min, ours) =
        timed(args.runs, || Ok(trace(&store, &whole(&[back_root]), &limits(Direction::Backward, 6))?))?;
    let rpc = connect_cookie(&args.rpc_url, &args.rpc_cookie, Duration::from_secs(60))?;
    // Both sides warm: one untimed run each, then the same number of timed runs, medians.
    let (rpc_med, _, theirs) = timed(args.runs, || rpc_backward(&rpc, &truth.case.consolidation_txid, 6))?;
    let ours_set: BTreeMap<String, u32> = ours
        .nodes
        .iter()
        .map(|n| Ok((Txid::from_byte_array(store.tx(n.num)?.context("tx")?.txid).to_string(), n.hop)))
        .collect::<anyhow::Result<_>>()?;
    ensure!(ours_set == theirs, "backward trace differs from the node's: {} vs {} txs", ours_set.len(), theirs.len());
    rows.push([
        "6-hop backward trace".into(),
        format!("{} txs", ours.nodes.len()),
        format!("{} (min {})", ms(med), ms(min)),
        format!("node RPC, same trace, warm (median of {}): {}", args.runs, ms(rpc_med)),
    ]);

    // The worst path search: between busy hub addresses, depth 20, with no path to find, so the
    // search exhausts both sides. (Forward edges run forward in the chain: from a hub active
    // only after another was last paid, nothing can reach it.)
    let hubs = truth.busiest_scripts(6);
    let mut worst: Option<(Duration, Duration, usize, String, String)> = None;
    for (from, _) in &hubs {
        for (to, _) in &hubs {
            if from.script_hex == to.script_hex {
                continue;
            }
            let starts = script_txs(&store, &from.script_hex, EventKind::Spent)?;
            let ends = script_txs(&store, &to.script_hex, EventKind::Funded)?;
            let hub_limits = PathLimits { max_hops: 20, min_value: 0, max_txs: 10_000_000 };
            let (med, min, p) = timed(3, || Ok(shortest_path(&store, &starts, &ends, &hub_limits)?))?;
            if p.txs.is_empty() && worst.as_ref().is_none_or(|w| med > w.0) {
                let (a, b) = (from.address.clone().context("address")?, to.address.clone().context("address")?);
                worst = Some((med, min, p.visited, a, b));
            }
        }
    }
    if let Some((med, min, visited, from, to)) = worst {
        let cli_p = cli(&args.db, &["path", &from, &to, "--max-hops", "20", "--max-txs", "10000000"], 3)?;
        rows.push([
            "path search, hub to hub, not found, depth 20 (slowest pair of the 6 busiest addresses)".into(),
            format!("{visited} txs visited"),
            format!("{} (min {}; median of 3)", ms(med), ms(min)),
            ms(cli_p),
        ]);
    }

    rows.extend(cluster_rows(&store, &args)?);

    println!("\n| query | size | engine, warm (median of {}) | end to end |", args.runs);
    println!("|---|---|---|---|");
    for r in rows {
        println!("| {} | {} | {} | {} |", r[0], r[1], r[2], r[3]);
    }
    Ok(())
}

/// The largest cluster: listing its members, and the chain of merges joining its earliest
/// script to its newest (the engine), then `query cluster` and `query cluster --why` end to end.
fn cluster_rows(store: &Store, args: &Args) -> anyhow::Result<Vec<[String; 4]>> {
    let Some(big) = read::largest(store, 1)?.first().copied() else { return Ok(Vec::new()) };
    let address = |num| -> anyhow::Result<Option<String>> {
        let script = store.script(num)?.context("script")?;
        Ok(bitcoin::Address::from_script(bitcoin::Script::from_bytes(&script), bitcoin::Network::Regtest)
            .ok()
            .map(|a| a.to_string()))
    };
    let (med, min, members) = timed(args.runs, || Ok(read::members(store, big.root)?))?;
    let first = address(big.first)?.context("the earliest script has an address")?;
    let mut newest = None;
    for &m in members.iter().rev() {
        if let Some(a) = address(m)? {
            newest = Some((m, a));
            break;
        }
    }
    let (last_num, last) = newest.context("a member with an address")?;
    let cli_c = cli(&args.db, &["cluster", &first, "--limit", "100"], 5)?;
    let (why_med, why_min, links) = timed(args.runs, || Ok(read::why(store, big.first, last_num)?))?;
    let cli_w = cli(&args.db, &["cluster", "--why", &first, &last], 5)?;
    Ok(vec![
        [
            "cluster: the largest one's members".into(),
            format!("{} addresses", members.len()),
            format!("{} (min {})", ms(med), ms(min)),
            format!("{} (`cluster --limit 100`, with every member's balance)", ms(cli_c)),
        ],
        [
            "cluster --why: its earliest address to its newest".into(),
            format!("{} links", links.map(|l| l.len()).unwrap_or(0)),
            format!("{} (min {})", ms(why_med), ms(why_min)),
            ms(cli_w),
        ],
    ])
}

/// The backward trace done the way a tool without an index must: one `getrawtransaction` per tx.
fn rpc_backward(rpc: &bitcoincore_rpc::Client, root: &str, hops: u32) -> anyhow::Result<BTreeMap<String, u32>> {
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    let mut frontier = vec![Txid::from_str(root)?];
    seen.insert(root.to_string(), 0);
    for hop in 1..=hops {
        let mut next = HashSet::new();
        for txid in &frontier {
            let tx = rpc.get_raw_transaction(txid, None)?;
            if tx.is_coinbase() {
                continue;
            }
            for input in &tx.input {
                let parent = input.previous_output.txid;
                if !seen.contains_key(&parent.to_string()) {
                    next.insert(parent);
                }
            }
        }
        frontier = next.into_iter().collect();
        for t in &frontier {
            seen.insert(t.to_string(), hop);
        }
    }
    Ok(seen)
}
