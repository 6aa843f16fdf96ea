//! Commands answered from small chains: what each result holds, and the JSON names it uses.

use bitcoin::{OutPoint, Txid};
use clap::Parser;

use super::Job;
use crate::chain::Chain;
use crate::cli::Cli;
use crate::config::Settings;
use crate::error::{QueryError, UsageError};
use crate::fixture::{address, out, script, TestChain};
use crate::model::{Body, Report};

/// coin(s1) -> A; A:0 -> B; A:1 and B:1 -> C (fee 50).
struct Small {
    _dir: Option<tempfile::TempDir>,
    chain: Chain,
    a: Txid,
    b: Txid,
    c: Txid,
}

/// The chain of [`Small`], mined, before its store is taken: the coin and A, B, C.
pub(super) fn small_chain() -> (TestChain, OutPoint, Txid, Txid, Txid) {
    let mut t = TestChain::new();
    let coin = t.coin(script(1), 10_000);
    let a = t.send(&[coin], &[(script(2), 1000), (script(3), 2000), (script(4), 500)]);
    let b = t.send(&[out(a, 0)], &[(script(5), 900), (script(6), 50)]);
    t.mine();
    let c = t.send(&[out(a, 1), out(b, 1)], &[(script(7), 1900), (script(2), 100)]);
    t.mine();
    (t, coin, a, b, c)
}

fn small() -> Small {
    let (t, _, a, b, c) = small_chain();
    let (dir, store) = t.into_store();
    Small { _dir: dir, chain: Chain::new(store, None).unwrap(), a, b, c }
}

pub(super) fn ask(chain: &Chain, args: &[&str]) -> Result<Report, QueryError> {
    let argv = ["query", "--db", "/unused"].iter().chain(args).copied();
    let cli = Cli::try_parse_from(argv).unwrap();
    let settings = Settings::resolve(&cli).unwrap();
    Job::prepare(&cli.command, &settings)?.run(chain)
}

pub(super) fn json(report: &Report) -> serde_json::Value {
    let text = crate::render::render(report, crate::cli::Format::Json, &Default::default()).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn tx_shows_inputs_outputs_spenders_and_fee() {
    let s = small();
    let report = ask(&s.chain, &["tx", &s.c.to_string()]).unwrap();
    let Body::Tx(v) = &report.body else { panic!("expected a tx") };
    assert_eq!(v.txid, s.c.to_string());
    assert_eq!(v.height, 3);
    assert_eq!((v.input_sat, v.output_sat, v.fee_sat), (2050, 2000, Some(50)));
    assert_eq!(v.inputs.len(), 2);
    assert_eq!((v.inputs[0].prev_txid.as_str(), v.inputs[0].prev_vout), (s.a.to_string().as_str(), 1));
    assert_eq!(v.inputs[1].address.as_deref(), Some(address(6).as_str()));
    assert!(v.outputs.iter().all(|o| o.spent_by.is_none()));
    let j = json(&report);
    assert_eq!(j["outputs"][1]["address"], address(2));
    assert_eq!(j["inputs"][0]["value_sat"], 2000);
    for key in ["txid", "height", "block_hash", "inputs", "outputs"] {
        assert!(j.get(key).is_some(), "{key}");
    }

    let report = ask(&s.chain, &["tx", &s.a.to_string()]).unwrap();
    let j = json(&report);
    assert_eq!(j["outputs"][0]["spent_by"]["txid"], s.b.to_string());
    assert_eq!(j["outputs"][0]["spent_by"]["vin"], 0);
    assert_eq!(j["outputs"][1]["spent_by"]["txid"], s.c.to_string());
    assert!(j["outputs"][2]["spent_by"].is_null());
}

#[test]
fn a_coinbase_has_no_inputs_and_no_fee() {
    let s = small();
    let Body::Tx(a) = ask(&s.chain, &["tx", &s.a.to_string()]).unwrap().body else { panic!() };
    let coinbase = &a.inputs[0].prev_txid;
    let report = ask(&s.chain, &["tx", coinbase]).unwrap();
    let j = json(&report);
    assert_eq!(j["coinbase"], true);
    assert_eq!(j["inputs"].as_array().unwrap().len(), 0);
    assert!(j["fee_sat"].is_null());
    assert_eq!(j["position"], 0);
}

#[test]
fn unknown_txids_and_foreign_addresses_are_errors_of_the_right_kind() {
    let s = small();
    let missing = "11".repeat(32);
    let err = ask(&s.chain, &["tx", &missing]).unwrap_err();
    assert!(matches!(err, QueryError::UnknownTx { .. }), "{err}");
    assert!(err.to_string().contains("indexed up to height 3"), "{err}");
    let mainnet = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
    let err = ask(&s.chain, &["address", mainnet]).unwrap_err();
    assert!(matches!(err, QueryError::Usage(UsageError::WrongNetwork { .. })), "{err}");
    assert_eq!(err.to_string(), format!("address {mainnet} is a mainnet address, but the database indexes regtest"));
    let err = ask(&s.chain, &["trace", "forward", &format!("{}:9", s.a)]).unwrap_err();
    assert!(matches!(err, QueryError::NoSuchOutput { count: 3, .. }), "{err}");
}

#[test]
fn address_has_totals_utxos_and_history() {
    let s = small();
    let report = ask(&s.chain, &["address", &address(2)]).unwrap();
    let Body::Address(v) = &report.body else { panic!("expected an address") };
    assert_eq!((v.balance_sat, v.received_sat, v.sent_sat, v.tx_count), (100, 1100, 1000, 3));
    assert_eq!((v.first_seen_height, v.last_seen_height), (Some(2), Some(3)));
    assert_eq!(v.utxo_count, 1);
    assert_eq!((v.utxos[0].txid.as_str(), v.utxos[0].vout), (s.c.to_string().as_str(), 1));
    let kinds: Vec<_> = v.history.iter().map(|h| (h.txid.clone(), h.kind, h.value_sat)).collect();
    assert_eq!(
        kinds,
        vec![(s.a.to_string(), "funded", 1000), (s.b.to_string(), "spent", 1000), (s.c.to_string(), "funded", 100)]
    );
    assert_eq!(v.next_cursor, None);
    let j = json(&report);
    for key in ["address", "balance_sat", "tx_count", "utxos", "received_sat", "sent_sat", "history", "next_cursor"] {
        assert!(j.get(key).is_some(), "{key}");
    }
    assert_eq!(j["utxos"][0]["value_sat"], 100);
    assert_eq!(j["utxos"][0]["height"], 3);
}

#[test]
fn utxos_are_listed_apart_from_the_history_page() {
    let s = small();
    let Body::Address(v) = ask(&s.chain, &["address", &address(2), "--limit", "1"]).unwrap().body else { panic!() };
    assert_eq!((v.history.len(), v.utxos.len(), v.utxos_truncated), (1, 1, false));
    let report = ask(&s.chain, &["address", &address(2), "--max-utxos", "0"]).unwrap();
    let Body::Address(v) = &report.body else { panic!() };
    assert_eq!((v.utxos.len(), v.utxo_count, v.utxos_truncated, v.balance_sat), (0, 1, true, 100));
    assert!(report.notes.iter().any(|n| n.contains("listing 0 of 1 unspent outputs")), "{:?}", report.notes);
}

#[test]
fn history_pages_follow_the_cursor_without_gaps_or_repeats() {
    let s = small();
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..5 {
        let mut args = vec!["address".to_string(), address(2), "--limit".into(), "1".into()];
        if let Some(a) = &after {
            args.extend(["--after".to_string(), a.clone()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let Body::Address(v) = ask(&s.chain, &args).unwrap().body else { panic!() };
        seen.extend(v.history.iter().map(|h| h.cursor.clone()));
        after = v.next_cursor;
        if after.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 3);
    let Body::Address(all) = ask(&s.chain, &["address", &address(2)]).unwrap().body else { panic!() };
    assert_eq!(seen, all.history.iter().map(|h| h.cursor.clone()).collect::<Vec<_>>());
    // A bare number is not a cursor (it would read as a height).
    let first_txnum = all.history[0].txnum.to_string();
    assert!(ask(&s.chain, &["address", &address(2), "--after", &first_txnum]).is_err());
    // A span of heights keeps the events of its blocks only, each with its block's time.
    let (first, last) = (all.history[0].height, all.history[2].height);
    assert!(first < last, "the fixture spreads the address over several blocks");
    let addr = address(2);
    let span = |args: &[&str]| {
        let mut all_args = vec!["address", addr.as_str()];
        all_args.extend(args);
        let Body::Address(v) = ask(&s.chain, &all_args).unwrap().body else { panic!() };
        v.history.iter().map(|h| h.height).collect::<Vec<_>>()
    };
    let heights: Vec<u32> = all.history.iter().map(|h| h.height).collect();
    let from = (first + 1).to_string();
    assert_eq!(span(&["--from-height", &from]), heights.iter().copied().filter(|&h| h > first).collect::<Vec<_>>());
    let to = first.to_string();
    assert_eq!(span(&["--to-height", &to]), heights.iter().copied().filter(|&h| h <= first).collect::<Vec<_>>());
    assert_eq!(span(&["--from-height", &from, "--to-height", &to]), Vec::<u32>::new());
    let day = &all.history[0].time[..10];
    assert_eq!(span(&["--from-date", day, "--to-date", day]), heights);
    assert_eq!(span(&["--to-date", "2000-01-01"]), Vec::<u32>::new());
    for h in &all.history {
        assert_eq!(h.time, crate::model::utc(s.chain.block_time(h.height).unwrap()));
    }
}

#[test]
fn an_unseen_address_is_empty_with_a_note() {
    let s = small();
    let report = ask(&s.chain, &["address", &address(77)]).unwrap();
    let Body::Address(v) = &report.body else { panic!() };
    assert_eq!((v.balance_sat, v.tx_count, v.first_seen_height), (0, 0, None));
    assert!(v.history.is_empty() && v.utxos.is_empty());
    assert!(report.notes[0].contains("never been seen"), "{:?}", report.notes);
}

#[test]
fn trace_json_names_and_roots_of_each_target_kind() {
    let s = small();
    let report = ask(&s.chain, &["trace", "forward", &s.a.to_string(), "--hops", "2"]).unwrap();
    let j = json(&report);
    assert_eq!(j["root"], s.a.to_string());
    assert_eq!(j["direction"], "forward");
    assert_eq!(j["truncated"], false);
    let txs = j["txs"].as_array().unwrap();
    assert_eq!(txs.len(), 3);
    assert_eq!((txs[0]["txid"].as_str().unwrap(), txs[0]["hop"].as_u64().unwrap()), (s.a.to_string().as_str(), 0));
    for key in ["txid", "height", "block_hash", "hop"] {
        assert!(txs[0].get(key).is_some(), "{key}");
    }
    let edge = &j["edges"][0];
    for key in ["from_txid", "vout", "to_txid", "vin", "value_sat", "address"] {
        assert!(edge.get(key).is_some(), "{key}");
    }
    assert!(edge.get("label").is_none());
    assert_eq!(edge["address"], address(2));

    // An outpoint forward starts at its spender; backward at its creator.
    let Body::Trace(t) = ask(&s.chain, &["trace", "forward", &format!("{}:1", s.a)]).unwrap().body else { panic!() };
    assert_eq!(t.txs[0].txid, s.c.to_string());
    let Body::Trace(t) = ask(&s.chain, &["trace", "backward", &format!("{}:1", s.a), "--hops", "1"]).unwrap().body
    else {
        panic!()
    };
    assert_eq!(t.txs[0].txid, s.a.to_string());
    assert_eq!(t.txs.len(), 2);
    // An address forward starts at every tx spending from it; backward at every tx paying it.
    let Body::Trace(t) = ask(&s.chain, &["trace", "forward", &address(2), "--hops", "1"]).unwrap().body else {
        panic!()
    };
    assert_eq!((t.txs[0].txid.as_str(), t.txs[0].hop), (s.b.to_string().as_str(), 0));
    // What B spends from the address (A:0, 1,000 sat) is the value traced.
    assert_eq!(t.source_sat, 1000);
    let Body::Trace(t) = ask(&s.chain, &["trace", "backward", &address(2), "--hops", "1"]).unwrap().body else {
        panic!()
    };
    let roots: Vec<_> = t.txs.iter().filter(|n| n.hop == 0).map(|n| n.txid.clone()).collect();
    assert_eq!(roots, vec![s.a.to_string(), s.c.to_string()]);
    // Backward, what A and C pay the address: 1,000 + 100, all from origins within a hop or two.
    assert_eq!(t.source_sat, 1100);
    assert_eq!(t.destinations.iter().map(|d| d.traced_sat.unwrap()).sum::<u64>(), 1100);
}

#[test]
fn an_unspent_outpoint_traces_to_nothing_with_a_note() {
    let s = small();
    let report = ask(&s.chain, &["trace", "forward", &format!("{}:2", s.a)]).unwrap();
    let Body::Trace(t) = &report.body else { panic!() };
    assert!(t.txs.is_empty() && t.edges.is_empty());
    assert!(report.notes[0].contains("unspent"), "{:?}", report.notes);
    // The money sits in that output: it is the one destination.
    assert_eq!(t.destinations.len(), 1, "{:?}", t.destinations);
    let d = &t.destinations[0];
    assert_eq!((d.state, d.traced_sat, Some(d.value_sat)), ("unspent", Some(t.source_sat), d.traced_sat));
}

#[test]
fn trace_destinations_name_each_end_and_add_up_to_the_source() {
    let s = small();
    let report = ask(&s.chain, &["trace", "forward", &s.a.to_string(), "--hops", "5"]).unwrap();
    let Body::Trace(t) = &report.body else { panic!() };
    // A sends 3,500: B keeps 900 (unspent) and pays 50 fee, C 1,900 + 100 and 50 fee; A:2 unspent.
    assert_eq!((t.source_sat, t.fees_sat, t.hops_reached), (3500, 100, 1));
    let ends: Vec<(&str, Option<u32>, u64, &str)> =
        t.destinations.iter().map(|d| (d.txid.as_str(), d.vout, d.traced_sat.unwrap(), d.state)).collect();
    let (a, b, c) = (s.a.to_string(), s.b.to_string(), s.c.to_string());
    assert_eq!(
        ends,
        vec![
            (a.as_str(), Some(2), 500, "unspent"),
            (b.as_str(), Some(0), 900, "unspent"),
            (c.as_str(), Some(0), 1900, "unspent"),
            (c.as_str(), Some(1), 100, "unspent")
        ]
    );
    assert_eq!(t.destinations.iter().map(|d| d.traced_sat.unwrap()).sum::<u64>() + t.fees_sat, t.source_sat);
    assert_eq!(t.destinations[1].address.as_deref(), Some(address(5).as_str()));
    assert_eq!(t.destinations[0].percent, Some(14.2857));
    // Stopping at address 5 ends B:0 there (named on B) and keeps B:1 going to C.
    let stop = address(5);
    let args = ["trace", "forward", &a, "--hops", "5", "--stop-at-address", &stop];
    let Body::Trace(t) = ask(&s.chain, &args).unwrap().body else { panic!() };
    let node = t.txs.iter().find(|n| n.txid == b).unwrap();
    assert_eq!((node.stopped, node.stopped_at.clone()), (true, vec![stop.clone()]));
    assert!(t.txs.iter().any(|n| n.txid == c));
    assert_eq!(t.destinations.iter().find(|d| d.txid == b).map(|d| d.state), Some("stopped"));
    // --follow largest: A's largest output (2,000) to C; the others end as not followed.
    let args = ["trace", "forward", &a, "--hops", "5", "--follow", "largest", "--min-value", "0.00000001btc"];
    let Body::Trace(t) = ask(&s.chain, &args).unwrap().body else { panic!() };
    assert_eq!(t.txs.iter().map(|n| n.txid.as_str()).collect::<Vec<_>>(), vec![a.as_str(), c.as_str()]);
    assert_eq!((t.follow, t.min_value_sat), ("largest", 1));
    let states: Vec<&str> = t.destinations.iter().map(|d| d.state).collect();
    assert_eq!(states, vec!["not_followed", "unspent", "unspent", "unspent"]);
}

#[test]
fn path_between_addresses_lists_txs_and_edges() {
    let s = small();
    // From address 1 (spent by A) to address 7 (paid by C): A -> C.
    let report = ask(&s.chain, &["path", &address(1), &address(7)]).unwrap();
    let j = json(&report);
    assert_eq!(j["found"], true);
    assert_eq!(j["hops"], 1);
    assert_eq!(j["txs"], serde_json::json!([s.a.to_string(), s.c.to_string()]));
    assert_eq!(j["edges"][0]["vout"], 1);
    assert_eq!(j["edges"][0]["value_sat"], 2000);
    // It ends in the output paying address 7, unspent, dated like its tx.
    let end = &j["destinations"];
    assert_eq!(end.as_array().unwrap().len(), 1, "{end}");
    assert_eq!((end[0]["txid"].as_str(), &end[0]["vout"]), (Some(s.c.to_string().as_str()), &serde_json::json!(0)));
    assert_eq!((&end[0]["value_sat"], &end[0]["state"]), (&serde_json::json!(1900), &serde_json::json!("unspent")));
    assert_eq!(end[0]["address"], address(7));
    assert_eq!(end[0]["time"], j["nodes"][1]["time"]);
    // To a txid: every output of it.
    let report = ask(&s.chain, &["path", &s.a.to_string(), &s.c.to_string()]).unwrap();
    assert_eq!(json(&report)["destinations"].as_array().unwrap().len(), 2);
    let report = ask(&s.chain, &["path", &s.c.to_string(), &s.a.to_string()]).unwrap();
    let j = json(&report);
    assert_eq!(j["found"], false);
    assert!(j["hops"].is_null());
    assert_eq!(j["txs"], serde_json::json!([]));
    assert!(report.notes[0].contains("no flow of funds"), "{:?}", report.notes);
}

#[test]
fn graph_formats_are_refused_for_tx_and_address_before_any_lookup() {
    let cli = Cli::try_parse_from(["query", "--db", "/x", "--format", "dot", "tx", "zz"]).unwrap();
    let settings = Settings::resolve(&cli).unwrap();
    let err = Job::prepare(&cli.command, &settings).unwrap_err();
    assert_eq!(err.to_string(), "--format dot is only for trace and path; use json or table for tx");
}
