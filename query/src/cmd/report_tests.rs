//! `query report` on small chains: the outputs each kind of answer rests on, read back from the
//! index (a forward and a backward trace with a coinbase origin, a path, an exposure); the
//! command it records; the directories it refuses.

use std::path::Path;

use bitcoin::Txid;
use clap::Parser;
use indexer::network::Network;
use indexer::storage::store::hex_hash;

use super::report::{command_line, draw};
use super::tests::{ask, json, small_chain};
use crate::chain::Chain;
use crate::error::{QueryError, UsageError};
use crate::fixture::{address, script};
use crate::model::Body;
use crate::report::html::Picture;
use crate::report::{CaseReport, Hop};
use crate::tags::{pack, TagStore};

/// coin(s1) at height 1; A: coin -> s2 1000, s3 2000, s4 500 and B: A:0 -> s5 900, s6 50 at
/// height 2; C: A:1 and B:1 -> s7 1900, s2 100 at height 3. Wallets 5 and 7 may be tagged.
struct Case {
    dir: tempfile::TempDir,
    chain: Chain,
    coinbase: Txid,
    a: Txid,
    b: Txid,
    c: Txid,
}

fn case(tagged: bool) -> Case {
    let (t, coin, a, b, c) = small_chain();
    let (dir, db) = t.finish();
    let dir = dir.expect("a temporary directory");
    let tags = dir.path().join("tags");
    if tagged {
        let csv = format!(
            "address,label,category,source\n{},Shop,merchant,s\n{},Exchange X,exchange,s\n",
            address(5),
            address(7)
        );
        let store = TagStore::open_write(&tags, Network::Regtest).unwrap();
        store.import(&pack::parse_csv("t.csv", csv.as_bytes(), Network::Regtest).unwrap()).unwrap();
    }
    let store = if tagged { TagStore::open_read(&tags, Network::Regtest).unwrap() } else { None };
    let chain = Chain::open(&db, 1 << 20, None).unwrap().with_tags(store);
    Case { dir, chain, coinbase: coin.txid, a, b, c }
}

/// Runs `query report --out <dir>/<name> <args>` and reads back what it wrote.
fn report(case: &Case, name: &str, args: &[&str]) -> (CaseReport, Body, String) {
    let out = case.dir.path().join(name);
    let out = out.to_str().unwrap();
    let mut all = vec!["report", "--out", out];
    all.extend(args);
    let written = ask(&case.chain, &all).unwrap();
    let Body::Report(view) = &written.body else { panic!("expected a report") };
    assert_eq!(view.report, format!("{out}/report.json"));
    let text = std::fs::read_to_string(&view.report).unwrap();
    let report: CaseReport = serde_json::from_str(&text).unwrap();
    assert!(report.digest_holds());
    assert_eq!((view.digest.as_str(), view.hops), (report.digest.as_str(), report.hops.len() as u64));
    let html = std::fs::read_to_string(&view.html).unwrap();
    // The same command run on its own answers the same.
    let args: Vec<&str> = report.command.iter().map(String::as_str).collect();
    let plain = ask(&case.chain, &args).unwrap();
    assert_eq!(json(&plain), report.answer);
    (report, plain.body, html)
}

fn hash(chain: &Chain, height: u32) -> String {
    hex_hash(&chain.header(height).unwrap().hash)
}

/// (txid, vout, value, height, spender txid and vin) of each hop.
type Row = (Txid, Option<u32>, Option<u64>, u32, Option<(Txid, u32)>);

fn rows(hops: &[Hop]) -> Vec<Row> {
    hops.iter()
        .map(|h| {
            let spent = h.spent_by.as_ref().map(|s| (s.txid.parse().unwrap(), s.vin));
            (h.txid.parse().unwrap(), h.vout, h.value_sat, h.block.height, spent)
        })
        .collect()
}

/// Every hop names its block by the hash the index has at its height, and its script's address.
fn assert_blocks_and_scripts(chain: &Chain, hops: &[Hop]) {
    for h in hops {
        assert_eq!(h.block.hash, hash(chain, h.block.height), "{h:?}");
        if let Some(s) = &h.spent_by {
            assert_eq!(s.block.hash, hash(chain, s.block.height), "{h:?}");
        }
        if let Some(script) = &h.script_hex {
            let bytes = hex::decode(script).unwrap();
            assert_eq!(h.address, chain.address_of(&bytes));
        }
    }
}

#[test]
fn a_forward_trace_carries_every_output_it_read_with_what_spent_it() {
    let k = case(false);
    let (report, body, html) = report(&k, "fwd", &["trace", "forward", &k.a.to_string(), "--hops", "2"]);
    let Body::Trace(t) = body else { panic!("expected a trace") };
    let (a, b, c, coin) = (k.a, k.b, k.c, k.coinbase);
    // In chain order: the coin A spends (read for A's fee), then every output of A, B and C.
    let expected: Vec<Row> = vec![
        (coin, Some(0), Some(10_000), 1, Some((a, 0))),
        (a, Some(0), Some(1000), 2, Some((b, 0))),
        (a, Some(1), Some(2000), 2, Some((c, 0))),
        (a, Some(2), Some(500), 2, None),
        (b, Some(0), Some(900), 2, None),
        (b, Some(1), Some(50), 2, Some((c, 1))),
        (c, Some(0), Some(1900), 3, None),
        (c, Some(1), Some(100), 3, None),
    ];
    assert_eq!(rows(&report.hops), expected);
    assert_evidence_holds(&report, &t.edges);
    assert_eq!(report.hops[2].script_hex.as_deref(), Some(hex::encode(script(3).as_bytes()).as_str()));
    assert_eq!(report.hops[2].address.as_deref(), Some(address(3).as_str()));
    assert_blocks_and_scripts(&k.chain, &report.hops);
    assert_eq!((report.tip.height, report.tip.hash.clone()), (3, hash(&k.chain, 3)));
    assert_eq!((report.network.as_str(), report.format), ("regtest", crate::report::FORMAT));
    assert!(report.tool.starts_with("chaintrail query "));
    assert!(report.tags_used.is_empty() && !report.index.tags);
    assert!(report.case.created.ends_with('Z') && report.case.id.is_none());
    assert!(html.contains("<h1>Where did the money go?</h1>"));
    // The requests: taint from the same source and hops under every model; no tags, so no
    // deposits, and the taint sits in the four unspent outputs.
    let requests = report.requests.as_ref().expect("a forward trace has its requests");
    let asked = crate::report::requests::Asked { target: a.to_string(), hops: 2, max_txs: 10_000, min_sat: 1 };
    assert_eq!(requests.asked, asked);
    assert_eq!(requests.command[..3], ["taint".to_string(), a.to_string(), "--compare".into()]);
    assert!(requests.deposits.is_empty());
    let mut holders: Vec<(String, u32, u64)> =
        requests.holders.iter().map(|h| (h.txid.clone(), h.vout, h.tainted_sat.poison)).collect();
    holders.sort_unstable();
    let mut expected = [(a, 2, 500), (b, 0, 900), (c, 0, 1900), (c, 1, 100)].map(|(t, v, s)| (t.to_string(), v, s));
    expected.sort_unstable();
    assert_eq!(holders, expected);
    assert!(html.contains("<h2>For a freeze or disclosure request</h2>"), "the page has the requests");
}

#[test]
fn a_backward_trace_carries_the_outputs_its_inputs_spent_down_to_the_coinbase() {
    let k = case(false);
    let (report, body, _) = report(&k, "back", &["trace", "backward", &k.c.to_string(), "--hops", "3"]);
    let Body::Trace(t) = body else { panic!("expected a trace") };
    let origin = t.destinations.iter().find(|d| d.state == "coinbase").expect("a coinbase origin");
    assert_eq!(origin.txid, k.coinbase.to_string());
    assert_evidence_holds(&report, &t.edges);
    let spent: Vec<Row> = rows(&report.hops).into_iter().filter(|r| r.4.is_some()).collect();
    let (a, b, c) = (k.a, k.b, k.c);
    assert_eq!(
        spent,
        vec![
            (k.coinbase, Some(0), Some(10_000), 1, Some((a, 0))),
            (a, Some(0), Some(1000), 2, Some((b, 0))),
            (a, Some(1), Some(2000), 2, Some((c, 0))),
            (b, Some(1), Some(50), 2, Some((c, 1))),
        ]
    );
    assert_blocks_and_scripts(&k.chain, &report.hops);
}

#[test]
fn a_path_carries_the_outputs_of_the_txs_it_searched() {
    let k = case(false);
    let (report, body, html) = report(&k, "path", &["path", &k.a.to_string(), &k.c.to_string()]);
    let Body::Path(p) = body else { panic!("expected a path") };
    assert_evidence_holds(&report, &p.edges);
    let (a, c) = (k.a, k.c);
    assert!(rows(&report.hops).contains(&(a, Some(1), Some(2000), 2, Some((c, 0)))));
    assert_eq!(
        report.command,
        ["path", &a.to_string(), &c.to_string(), "--max-hops", "30", "--min-value", "0", "--max-txs", "1000000"]
    );
    assert!(html.contains("<h1>How did the money get from one to the other?</h1>"));
}

#[test]
fn an_exposure_carries_its_attributed_outputs_and_their_tags() {
    let k = case(true);
    let (report, body, html) = report(&k, "exp", &["exposure", &k.a.to_string()]);
    let Body::Exposure(e) = body else { panic!("expected an exposure") };
    assert!(!e.attributions.is_empty());
    let hops: Vec<(String, Option<u32>)> = report.hops.iter().map(|h| (h.txid.clone(), h.vout)).collect();
    for a in &e.attributions {
        assert!(hops.contains(&(a.txid.clone(), Some(a.vout))), "{a:?}");
    }
    assert!(report.index.tags);
    let tagged: Vec<(&str, &str)> =
        report.tags_used.iter().map(|t| (t.address.as_str(), t.tags[0].label.as_str())).collect();
    // In the index's order of scripts: the shop's (5) before the exchange's (7).
    assert_eq!(tagged, [(address(5).as_str(), "Shop"), (address(7).as_str(), "Exchange X")]);
    assert!(html.contains("<span class=\"tag\">Exchange X</span>"));
    assert!(html.contains("<h2>Tagged outputs where value was attributed, largest first</h2>"));
}

/// The hops are in chain order without repeats, and every edge of the answer is among them,
/// spent by the edge's input.
fn assert_evidence_holds(report: &CaseReport, edges: &[crate::model::EdgeView]) {
    let keys: Vec<(u32, String, Option<u32>)> =
        report.hops.iter().map(|h| (h.block.height, h.txid.clone(), h.vout)).collect();
    let mut unique = keys.clone();
    unique.dedup();
    assert_eq!(unique.len(), keys.len());
    for e in edges {
        let hop = report.hops.iter().find(|h| h.txid == e.from_txid && h.vout == Some(e.vout)).expect("edge in hops");
        let spent = hop.spent_by.as_ref().expect("spent");
        assert_eq!((spent.txid.as_str(), spent.vin), (e.to_txid.as_str(), e.vin));
    }
}

#[test]
fn the_command_spells_out_every_option_and_reads_back_the_same() {
    let k = case(false);
    let dir = k.dir.path().join("cmd");
    let out = dir.to_str().unwrap();
    let a = k.a.to_string();
    // --out after the command's own arguments works as well.
    let args = [
        "report",
        "trace",
        "backward",
        &a,
        "--top",
        "2",
        "--min-value",
        "0.5btc",
        "--stop-at-category",
        "exchange, mixer",
        "--out",
        out,
    ];
    let written = ask(&k.chain, &args).unwrap();
    let Body::Report(view) = written.body else { panic!("expected a report") };
    let report: CaseReport = serde_json::from_str(&std::fs::read_to_string(view.report).unwrap()).unwrap();
    let expected = [
        "trace",
        "backward",
        &a,
        "--hops",
        "3",
        "--min-value",
        "0.5btc",
        "--top",
        "2",
        "--max-txs",
        "10000",
        "--stop-at-category",
        "exchange,mixer",
    ];
    assert_eq!(report.command, expected);
    // Parsed again, the recorded command records itself.
    let cli = crate::cli::Cli::try_parse_from(
        ["query", "--db", "/unused", "report", "--out", "x"].into_iter().chain(expected),
    )
    .unwrap();
    let settings = crate::config::Settings::resolve(&cli).unwrap();
    let crate::cli::Command::Report(again) = &cli.command else { panic!("expected report") };
    assert_eq!(command_line(&again.command, &settings), expected);
}

#[test]
fn a_directory_that_is_not_empty_or_a_file_is_refused_before_anything_runs() {
    let k = case(false);
    let a = k.a.to_string();
    let full = k.dir.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("notes.txt"), "mine").unwrap();
    let refused =
        |out: &Path| ask(&k.chain, &["report", "--out", out.to_str().unwrap(), "trace", "forward", &a]).unwrap_err();
    let err = refused(&full);
    assert!(matches!(err, QueryError::Usage(UsageError::ReportDir { .. })), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "--out {} is not empty (it holds notes.txt): give a new or empty directory, so that no case file \
             is overwritten (see 'query report --help')",
            full.display()
        )
    );
    assert_eq!(std::fs::read_dir(&full).unwrap().count(), 1, "nothing was written");
    let err = refused(&full.join("notes.txt"));
    assert!(err.to_string().contains("notes.txt is a file, not a directory"), "{err}");
    // An empty directory is used; --out is required; only json and table summarise a report.
    let empty = k.dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    ask(&k.chain, &["report", "--out", empty.to_str().unwrap(), "trace", "forward", &a]).unwrap();
    // A forward trace's case file also has its requests in CSV.
    let mut written: Vec<String> =
        std::fs::read_dir(&empty).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    written.sort();
    assert_eq!(written, ["report.html", "report.json", "requests.csv"]);
    let err = ask(&k.chain, &["report", "trace", "forward", &a]).unwrap_err();
    assert!(matches!(err, QueryError::Usage(UsageError::ReportNoOut)), "{err}");
    let err = ask(&k.chain, &["--format", "svg", "report", "--out", "/unused", "trace", "forward", &a]).unwrap_err();
    assert!(matches!(err, QueryError::Usage(UsageError::GraphFormat { command: "report", .. })), "{err}");
    let err = ask(&k.chain, &["--format", "csv", "report", "--out", "/unused", "trace", "forward", &a]).unwrap_err();
    assert!(matches!(err, QueryError::Usage(UsageError::CsvFormat { command: "report" })), "{err}");
}

#[test]
fn without_graphviz_the_page_says_why_it_has_no_picture() {
    let key =
        crate::model::KeyView { secret_key_file: "k".into(), public_key_file: "k.pub".into(), public_key: "00".into() };
    let answer = crate::model::Report { body: Body::Key(key), notes: Vec::new() };
    match draw("no-such-graphviz-program", "digraph g {}", &answer) {
        Picture::Missing(why) => {
            assert!(why.contains("no-such-graphviz-program program, which was not found"), "{why}")
        }
        Picture::Svg(_) => panic!("drew without the program"),
    }
}
