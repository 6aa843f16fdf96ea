//! `query taint` as a command: sources, limits and their notes, tag categories, errors and the JSON
//! it answers with.

use bitcoin::Txid;
use indexer::network::Network;

use super::tests::{ask, json};
use crate::chain::Chain;
use crate::cli::Format;
use crate::error::{QueryError, UsageError};
use crate::fixture::{address, out, script, TestChain};
use crate::model::{Body, TaintView};
use crate::tags::{pack, TagStore};

/// A coin of 10,000 (wallet 1) is stolen by T into wallet 2 (9,900, fee 100). P pays 2,000 of it
/// to a shop (wallet 3) and keeps 7,800 (wallet 4; fee 100). M spends a clean coin of wallet 5
/// (6,000) and that 7,800 into 5,000, 4,900 (to an exchange, wallet 7) and 3,700 (fee 200).
/// Tagged: the shop, the exchange, and wallet 5, whose cluster wallet 4 joins in M.
struct Theft {
    _dir: Option<tempfile::TempDir>,
    chain: Chain,
    t: Txid,
    p: Txid,
    m: Txid,
}

fn theft(tagged: bool) -> Theft {
    let mut c = TestChain::new();
    let stolen = c.coin(script(1), 10_000);
    let clean = c.coin(script(5), 6_000);
    let t = c.send(&[stolen], &[(script(2), 9_900)]);
    let p = c.send(&[out(t, 0)], &[(script(3), 2_000), (script(4), 7_800)]);
    c.mine();
    let m = c.send(&[clean, out(p, 1)], &[(script(6), 5_000), (script(7), 4_900), (script(8), 3_700)]);
    c.mine();
    let (dir, db) = c.finish();
    let mut chain = Chain::open(&db, 1 << 20, None).unwrap();
    if tagged {
        let tags = dir.as_ref().unwrap().path().join("tags");
        let csv = format!(
            "address,label,category,source,confidence\n{},Shop,merchant,s,forensic\n{},Exchange X,exchange,s,forensic\n{},Mixer Y,mixer,s,forensic\n",
            address(3),
            address(7),
            address(5)
        );
        let store = TagStore::open_write(&tags, Network::Regtest).unwrap();
        store.import(&pack::parse_csv("t.csv", csv.as_bytes(), Network::Regtest).unwrap()).unwrap();
        drop(store);
        chain = chain.with_tags(TagStore::open_read(&tags, Network::Regtest).unwrap());
    }
    Theft { _dir: dir, chain, t, p, m }
}

fn view(body: &Body) -> &TaintView {
    match body {
        Body::Taint(v) => v,
        other => panic!("expected taint, got {other:?}"),
    }
}

/// (txid, vout, tainted, hop, spent) of each output.
fn rows(v: &TaintView) -> Vec<(String, u32, u64, u32, bool)> {
    v.outputs.iter().map(|o| (o.txid.clone(), o.vout, o.tainted_sat, o.hop, o.spent)).collect()
}

#[test]
fn fifo_from_the_theft_lists_every_tainted_output_and_the_books_balance() {
    let g = theft(false);
    let report = ask(&g.chain, &["taint", &g.t.to_string(), "--model", "fifo"]).unwrap();
    let v = view(&report.body);
    let (t, p, m) = (g.t.to_string(), g.p.to_string(), g.m.to_string());
    // M's line: clean 0..6000, tainted 6000..13800. Output 0 (0..5000) stays clean.
    assert_eq!(
        rows(v),
        [
            (t.clone(), 0, 9_900, 0, true),
            (p.clone(), 0, 2_000, 1, false),
            (p, 1, 7_800, 1, true),
            (m.clone(), 1, 3_900, 2, false),
            (m, 2, 3_700, 2, false)
        ]
    );
    assert_eq!((v.source.tainted_sat, v.frontier_tainted_sat, v.fees_tainted_sat), (9_900, 9_600, 300));
    assert!(v.by_category.is_empty() && !v.truncated);
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    let j = json(&report);
    assert_eq!(j["model"], "fifo");
    assert_eq!(j["source"], serde_json::json!({"target": t, "tainted_sat": 9_900}));
    assert_eq!((j["hops"].as_u64(), j["max_txs"].as_u64(), j["min_sat"].as_u64()), (Some(10), Some(10_000), Some(1)));
    let first = &j["outputs"][0];
    assert_eq!(first["address"], address(2));
    assert_eq!((first["value_sat"].as_u64(), first["height"].as_u64()), (Some(9_900), Some(3)));
    assert_eq!(first["time"], "2023-11-14T22:13:23Z");
    assert!(first.get("tags").is_none(), "{first}");
    for key in ["frontier_tainted_sat", "fees_tainted_sat", "truncated", "by_category"] {
        assert!(j.get(key).is_some(), "{key}");
    }
}

#[test]
fn tagged_outputs_add_up_by_category_through_their_own_tags_or_their_cluster() {
    let g = theft(true);
    let report = ask(&g.chain, &["taint", &g.t.to_string(), "--model", "fifo"]).unwrap();
    let j = json(&report);
    // Wallet 4 (P:1, 7,800) is in wallet 5's cluster; the exchange got 3,900, the shop 2,000.
    let categories: Vec<(&str, u64)> = j["by_category"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["category"].as_str().unwrap(), c["tainted_sat"].as_u64().unwrap()))
        .collect();
    // The exchange was paid by the mixer's cluster, which the taint reached first: what it got
    // is gross (counted at the mixer already), as exposure would stop at the mixer.
    assert_eq!(categories, [("mixer", 7_800), ("merchant", 2_000), ("exchange", 0)]);
    assert_eq!(j["by_category"][2]["gross_sat"], 3_900);
    assert_eq!(j["outputs"][3]["entity"]["gross_sat"], 3_900);
    assert_eq!(j["outputs"][3]["tags"][0]["label"], "Exchange X");
    // Wallet 4's own address has no tag: only the category total knows its cluster's.
    assert!(j["outputs"][2].get("tags").is_none());
    let text = crate::render::render(&report, Format::Table, &Default::default()).unwrap();
    assert!(text.contains("Exchange X (bcrt1q"), "{text}");
    assert!(text.contains("mixer                    0.00007800     78.78%   0.00000000"), "{text}");
}

#[test]
fn an_outpoint_or_an_address_starts_the_taint_and_limits_say_where_it_stopped() {
    let g = theft(false);
    let report = ask(&g.chain, &["taint", &format!("{}:1", g.p), "--model", "lifo"]).unwrap();
    let v = view(&report.body);
    // M laid from the last input: the tainted 7,800 first, into 5,000 and 2,800 of 4,900.
    assert_eq!(v.outputs.iter().map(|o| o.tainted_sat).collect::<Vec<_>>(), [7_800, 5_000, 2_800]);
    assert_eq!((v.source.tainted_sat, v.frontier_tainted_sat, v.fees_tainted_sat), (7_800, 7_800, 0));
    let report = ask(&g.chain, &["taint", &address(2), "--model", "haircut", "--hops", "1"]).unwrap();
    let v = view(&report.body);
    assert_eq!(v.source.target, address(2));
    // Wallet 2's coins are spent by P (hop 0), and P's outputs by M (hop 1, fee 113).
    assert_eq!((v.source.tainted_sat, v.frontier_tainted_sat, v.fees_tainted_sat), (9_900, 9_687, 213));
    // M's outputs (hop 1) are all unspent: nothing is left for a higher --hops.
    assert!(v.outputs.iter().filter(|o| o.hop == 1).all(|o| !o.spent));
    assert!(report.notes.iter().all(|n| !n.contains("raise --hops")), "{:?}", report.notes);
    let args = ["taint", &g.t.to_string(), "--model", "haircut", "--max-txs", "1", "--min-sat", "0.00002001"];
    let report = ask(&g.chain, &args).unwrap();
    let v = view(&report.body);
    assert!(v.truncated);
    assert_eq!((v.min_sat, v.frontier_tainted_sat, v.fees_tainted_sat), (2_001, 9_800, 100));
    assert!(report.notes.iter().any(|n| n.starts_with("stopped at --max-txs 1")), "{:?}", report.notes);
}

#[test]
fn poison_says_its_totals_pass_the_source() {
    let g = theft(false);
    let report = ask(&g.chain, &["taint", &g.t.to_string(), "--model", "poison"]).unwrap();
    let v = view(&report.body);
    assert_eq!((v.frontier_tainted_sat, v.fees_tainted_sat), (2_000 + 5_000 + 4_900 + 3_700, 300));
    assert!(report.notes.iter().any(|n| n.starts_with("poison taints whole outputs and fees")), "{:?}", report.notes);
}

#[test]
fn bad_targets_and_formats_are_errors_of_the_right_kind() {
    let g = theft(false);
    let err = ask(&g.chain, &["taint", &address(77), "--model", "fifo"]).unwrap_err();
    assert!(matches!(err, QueryError::UnseenAddress { .. }), "{err}");
    let err = ask(&g.chain, &["taint", "hello", "--model", "fifo"]).unwrap_err();
    assert!(matches!(err, QueryError::Usage(UsageError::Target(_))), "{err}");
    let err = ask(&g.chain, &["taint", &format!("{}:5", g.t), "--model", "fifo"]).unwrap_err();
    assert!(matches!(err, QueryError::NoSuchOutput { count: 1, .. }), "{err}");
    let err = ask(&g.chain, &["--format", "svg", "taint", &g.t.to_string(), "--model", "fifo"]).unwrap_err();
    assert!(matches!(err, QueryError::Usage(UsageError::GraphFormat { command: "taint", .. })), "{err}");
    let report = ask(&g.chain, &["--format", "csv", "taint", &g.t.to_string(), "--model", "fifo"]).unwrap();
    let text = crate::render::render(&report, Format::Csv, &Default::default()).unwrap();
    assert_eq!(text.lines().count(), 6, "{text}");
}
