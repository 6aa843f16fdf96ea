//! Shared helpers of the end-to-end tests: the built binaries, running the indexer against a test
//! node, and reading a database back for comparison.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use bitcoin::{Amount, OutPoint, ScriptBuf, TxOut};
use bitcoincore_rpc::RpcApi;
use chaintrail_tests::wallet::{unsigned_tx, OwnedScript, ScriptKind, Spent, Wallet};
use chaintrail_tests::TestEnv;
use indexer::storage::schema::{SealedMark, Table, Undo, TABLES};
use indexer::storage::store::Store;

/// A binary built from this workspace (`cargo build --workspace --bins` builds them all).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    let dir = exe.parent().and_then(Path::parent).expect("test binaries live in target/<profile>/deps");
    let path = dir.join(name);
    assert!(path.exists(), "{} is not built; run `cargo build --workspace --bins` first", path.display());
    path
}

/// Generates a chain with ground truth on the (fresh) test node: `txs` transactions, 150 a block.
pub fn generated(env: &TestEnv, seed: u64, txs: usize) -> chaintrail_tests::Truth {
    let params = chaintrail_tests::GenParams { seed, target_txs: txs, txs_per_block: 150, ..Default::default() };
    chaintrail_tests::generate(env.rpc(), &params).expect("the generator runs")
}

/// `query --db db args…`, which must succeed and print JSON.
pub fn query_json(db: &Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new(bin("query")).arg("--db").arg(db).args(args).output().expect("query runs");
    assert!(out.status.success(), "query {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("query {args:?} printed no JSON ({e})"))
}

/// Sends `sig` (`-TERM`, `-STOP`, `-CONT`) to `child`.
/// What `query --db DB --tags TAGS --format <format> <args>` prints; it must succeed.
pub fn query_text(db: &Path, tags: &Path, format: &str, args: &[&str]) -> String {
    let out = Command::new(bin("query"))
        .arg("--db")
        .arg(db)
        .arg("--tags")
        .arg(tags)
        .args(["--format", format])
        .args(args)
        .output()
        .expect("query runs");
    assert!(out.status.success(), "query {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

pub fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill").args([sig, &child.id().to_string()]).status().expect("kill runs");
    assert!(status.success(), "kill {sig} failed");
}

/// `indexer` pointed at the test node and `db`, with cookie auth.
pub fn indexer(env: &TestEnv, db: &Path) -> Command {
    indexer_on(env, db, "regtest")
}

/// `indexer` for `network`, pointed at the test node and `db`, with cookie auth.
pub fn indexer_on(env: &TestEnv, db: &Path, network: &str) -> Command {
    let mut cmd = Command::new(bin("indexer"));
    cmd.args(["--network", network, "--rpc-url", &env.rpc_url(), "--progress", "none"])
        .arg("--rpc-cookie")
        .arg(env.cookie_path())
        .arg("--db")
        .arg(db)
        .env("RUST_LOG", "info");
    cmd
}

/// Runs `indexer --once` and insists it succeeds.
pub fn index_once(env: &TestEnv, db: &Path, extra: &[&str]) -> Output {
    let out = indexer(env, db).arg("--once").args(extra).output().expect("indexer runs");
    assert!(out.status.success(), "indexer failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// Runs a command expected to fail; returns its exit code and standard error.
pub fn failing(mut cmd: Command) -> (i32, String) {
    let out = cmd.output().expect("command runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "expected failure, got success; stderr: {stderr}");
    let errors = stderr.lines().filter(|l| l.starts_with("error:")).count();
    assert_eq!(errors, 1, "expected exactly one `error:` line: {stderr}");
    (out.status.code().unwrap_or(-1), stderr)
}

/// The indexed tip height, read as a follower; `None` while there is no database or block yet.
pub fn tip(db: &Path) -> Option<u32> {
    let store = Store::open_follower(db, 1 << 20).ok()?;
    store.meta().ok().flatten().and_then(|m| m.tip).map(|t| t.0)
}

/// Polls until `done` holds, failing if the indexer exits first. There is no deadline: the test
/// moves on when the indexer has made the progress it waits for, however busy the machine is.
pub fn wait_while_running(child: &mut Child, what: &str, mut done: impl FnMut() -> bool) {
    while !done() {
        if let Some(status) = child.try_wait().expect("poll the indexer") {
            panic!("the indexer exited ({status}) while the test waited for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the running indexer has indexed `height` (as seen by a follower).
pub fn wait_for_tip(child: &mut Child, db: &Path, height: u32) {
    wait_while_running(child, &format!("the indexed tip to reach {height}"), || tip(db) == Some(height));
}

/// How a run that [`kill_after`] watched ended.
pub struct Killed {
    /// The height of the `k`-th event, on which the run was SIGKILLed; `None` when the indexer
    /// finished by itself before it.
    pub height: Option<u32>,
    /// Its log.
    pub log: String,
}

/// Runs the indexer until it SIGKILLs itself on its `k`-th `event` of this run
/// (`CHAINTRAIL_KILL_AFTER`): `durable` (a flushed bulk batch, or a block written through the
/// log) or `rolled back` (one block of a reorg taken back out). Kill points come from the
/// indexer's own progress, never a clock.
pub fn kill_after(cmd: Command, event: &str, k: usize) -> Killed {
    kill_after_hook(cmd, event, k, |_| {})
}

/// [`kill_after`], calling `hook` with every log line (to change the chain under the indexer at
/// a point of its progress).
pub fn kill_after_hook(mut cmd: Command, event: &str, k: usize, mut hook: impl FnMut(&str)) -> Killed {
    let mut child = cmd
        .env("RUST_LOG", "info,indexer=debug")
        .env("CHAINTRAIL_KILL_AFTER", format!("{event}:{k}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("indexer starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut seen = 0;
    let mut height = None;
    let mut log = String::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("read the indexer's log");
        log.push_str(&line);
        log.push('\n');
        hook(&line);
        if let Some(h) = event_height(&line, event) {
            seen += 1;
            if seen == k {
                height = Some(h);
            }
        }
    }
    let status = child.wait().expect("reaped");
    use std::os::unix::process::ExitStatusExt;
    let landed = status.signal() == Some(9);
    assert_eq!(landed, height.is_some(), "killed on its event {k} or finished without it ({status}):\n{log}");
    assert!(landed || status.success(), "the indexer failed:\n{log}");
    Killed { height, log }
}

/// The height of an `event` log line (`… event height=N`).
pub fn event_height(line: &str, event: &str) -> Option<u32> {
    let rest = line.split_once(&format!(" {event} height="))?.1;
    rest.split_whitespace().next()?.parse().ok()
}

/// A script's totals, if the index has ever seen it paid.
pub fn stats_of(store: &Store, script: &[u8]) -> Option<indexer::storage::store::ScriptStats> {
    let num = store.script_num(script).expect("read")?;
    store.script_stats(num).expect("read")
}

pub fn open(db: &Path) -> Store {
    Store::open_follower(db, 8 << 20).expect("the database opens")
}

/// Every row of every table but `undo`: what any query can see.
pub fn dump(db: &Path) -> Vec<(&'static str, Vec<indexer::storage::store::Row>)> {
    let store = open(db);
    logical_tables().filter(|t| *t != Undo::NAME).map(|t| (t, store.rows(t).expect("scan"))).collect()
}

/// Every table but the sealed mark: where rows are kept (segment file or column family) differs
/// between two runs that hold the same rows; [`indexer::storage::store::Store::rows`] reads both.
fn logical_tables() -> impl Iterator<Item = &'static str> {
    TABLES.iter().copied().filter(|t| *t != SealedMark::NAME)
}

/// Asserts two databases hold exactly the same rows, naming the first difference.
pub fn assert_same_index(a: &Path, b: &Path) {
    for ((cf, rows_a), (_, rows_b)) in dump(a).into_iter().zip(dump(b)) {
        assert_eq!(rows_a.len(), rows_b.len(), "column family {cf}: {} rows vs {}", rows_a.len(), rows_b.len());
        for (ra, rb) in rows_a.iter().zip(&rows_b) {
            assert_eq!(ra, rb, "column family {cf}: first differing row");
        }
    }
}

/// Per table (undo data and segment files included, the sealed mark not): its name, row count
/// and a SHA-256 over its rows in key order.
pub fn digest(db: &Path) -> Vec<(&'static str, usize, String)> {
    use bitcoin::hashes::{sha256, Hash, HashEngine};
    let store = open(db);
    logical_tables()
        .map(|t| {
            let rows = store.rows(t).expect("scan");
            let mut engine = sha256::Hash::engine();
            for (key, value) in &rows {
                for part in [key, value] {
                    engine.input(&(part.len() as u64).to_le_bytes());
                    engine.input(part);
                }
            }
            (t, rows.len(), sha256::Hash::from_engine(engine).to_string())
        })
        .collect()
}

/// Asserts two databases have the same [`digest`]; on a difference, names the first differing row.
pub fn assert_same_digest(a: &Path, b: &Path) {
    let (da, db) = (digest(a), digest(b));
    if da != db {
        assert_same_index(a, b);
        let differ: Vec<_> = da.iter().zip(&db).filter(|(x, y)| x != y).map(|(x, y)| (x.0, x.1, y.1)).collect();
        panic!("the digests differ (table, rows, rows): {differ:?}");
    }
}

/// A coin the test controls: a mature coinbase output paid to a wallet script.
pub struct Coin {
    pub outpoint: OutPoint,
    pub value: Amount,
}

pub fn mature_coin(env: &TestEnv, wallet: &mut Wallet) -> (OwnedScript, Coin) {
    let script = wallet.new_script(ScriptKind::P2wpkh);
    let address = script.address(bitcoin::Network::Regtest).expect("p2wpkh has an address");
    let hashes = env.mine(1, &address).expect("mine");
    env.mine_to_new(100).expect("mine");
    let block = env.rpc().get_block(&hashes[0]).expect("block");
    let coinbase = &block.txdata[0];
    let vout = coinbase.output.iter().position(|o| o.script_pubkey == *script.script_pubkey()).expect("paid") as u32;
    let coin = Coin {
        outpoint: OutPoint { txid: coinbase.compute_txid(), vout },
        value: coinbase.output[vout as usize].value,
    };
    (script, coin)
}

/// Spends `coins` (each with the script it pays) into one output to `to`, less a 1,000-sat fee.
pub fn spend(wallet: &Wallet, coins: &[(&OwnedScript, &Coin)], to: &ScriptBuf) -> bitcoin::Transaction {
    let total: Amount = coins.iter().map(|(_, c)| c.value).sum();
    let out = TxOut { value: total - Amount::from_sat(1_000), script_pubkey: to.clone() };
    let outpoints: Vec<OutPoint> = coins.iter().map(|(_, c)| c.outpoint).collect();
    let mut tx = unsigned_tx(&outpoints, vec![out]);
    let spent: Vec<Spent<'_>> = coins.iter().map(|(s, c)| Spent { script: s, value: c.value }).collect();
    wallet.sign(&mut tx, &spent).expect("sign");
    tx
}

/// Pays one coin to `to`, less a 1,000-sat fee.
pub fn pay(wallet: &Wallet, from: &OwnedScript, coin: &Coin, to: &ScriptBuf) -> bitcoin::Transaction {
    spend(wallet, &[(from, coin)], to)
}

/// Spawns `query … serve …` (`cmd`; standard output dropped, standard error piped here) and waits
/// for its start line, which names the address it listens on: the child, that line, and the rest
/// of its log to read on.
pub fn serving(mut cmd: Command) -> (Child, String, std::io::Lines<BufReader<std::process::ChildStderr>>) {
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("query serve starts");
    let mut lines = BufReader::new(child.stderr.take().expect("piped")).lines();
    let start = loop {
        match lines.next() {
            Some(Ok(line)) if line.starts_with("serving ") => break line,
            Some(Ok(_)) => continue,
            _ => panic!("query serve exited before serving: {:?}", child.wait()),
        }
    };
    (child, start, lines)
}

/// One coin paid on, whole but for a 1,000-sat fee, to a fresh script of another kind at every
/// step: a chain of payments to put one per block, so that blocks rolled back or killed midway
/// carry transactions, spends and address history.
pub struct Payer {
    pub wallet: Wallet,
    pub script: OwnedScript,
    pub coin: Coin,
    /// Every script that has held the coin, the current one last.
    pub holders: Vec<ScriptBuf>,
    /// Every payment made: payment `j` pays `holders[j + 1]`.
    pub payments: Vec<bitcoin::Transaction>,
}

impl Payer {
    /// Mines a coinbase to a new wallet (101 blocks, so it is spendable).
    pub fn new(env: &TestEnv, seed: u64) -> Payer {
        let mut wallet = Wallet::new(seed, bitcoin::Network::Regtest);
        let (script, coin) = mature_coin(env, &mut wallet);
        let holders = vec![script.script_pubkey().clone()];
        Payer { wallet, script, coin, holders, payments: Vec::new() }
    }

    /// The next payment; the coin is then its output.
    pub fn next(&mut self) -> bitcoin::Transaction {
        const KINDS: [ScriptKind; 4] =
            [ScriptKind::P2tr, ScriptKind::P2pkh, ScriptKind::P2shP2wpkh, ScriptKind::P2wpkh];
        let to = self.wallet.new_script(KINDS[self.holders.len() % KINDS.len()]);
        let tx = pay(&self.wallet, &self.script, &self.coin, to.script_pubkey());
        self.coin = Coin { outpoint: OutPoint { txid: tx.compute_txid(), vout: 0 }, value: tx.output[0].value };
        self.holders.push(to.script_pubkey().clone());
        self.script = to;
        self.payments.push(tx.clone());
        tx
    }

    /// Mines `n` blocks holding one payment each; returns their hashes.
    pub fn blocks(&mut self, env: &TestEnv, n: usize) -> Vec<bitcoin::BlockHash> {
        (0..n).map(|_| env.generate_block(&[self.next()]).expect("block")).collect()
    }
}

/// The reliability suite's full form (`CHAINTRAIL_RELIABILITY=full`; `tests/reliability.sh` sets
/// it): more kill points and deeper rollbacks than the reduced form `tests/run.sh` runs.
pub fn full_form() -> bool {
    std::env::var("CHAINTRAIL_RELIABILITY").is_ok_and(|v| v == "full")
}

/// Prints one figure of the reliability suite, for `tests/reliability.sh` to collect.
pub fn figure(name: &str, value: impl std::fmt::Display) {
    eprintln!("reliability: {name} = {value}");
}
