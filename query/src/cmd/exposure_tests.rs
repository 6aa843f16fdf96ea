//! `query exposure` as a command: target checks, errors, notes and the JSON it answers with.

use bitcoin::Txid;
use indexer::network::Network;

use super::tests::{ask, json};
use crate::chain::Chain;
use crate::error::{QueryError, UsageError};
use crate::fixture::{address, out, script, TestChain};
use crate::model::Body;
use crate::tags::{pack, TagStore};

/// Wallet 1's coin of 10,000 pays 3,000 to wallet 2, 4,000 to wallet 3 and 2,900 back to
/// wallet 1 (fee 100); wallet 3 then pays 1,000 to wallet 4 and 2,950 to wallet 5 (fee 50).
struct Paid {
    _dir: Option<tempfile::TempDir>,
    chain: Chain,
    pay: Txid,
}

fn paid() -> Paid {
    let mut t = TestChain::new();
    let coin = t.coin(script(1), 10_000);
    let pay = t.send(&[coin], &[(script(2), 3000), (script(3), 4000), (script(1), 2900)]);
    t.send(&[out(pay, 1)], &[(script(4), 1000), (script(5), 2950)]);
    t.mine();
    let (dir, store) = t.into_store();
    Paid { _dir: dir, chain: Chain::new(store, None).unwrap(), pay }
}

#[test]
fn without_tags_everything_is_unattributed_and_the_sums_still_hold() {
    let p = paid();
    let report = ask(&p.chain, &["exposure", &address(1)]).unwrap();
    let Body::Exposure(v) = &report.body else { panic!("expected exposure") };
    assert_eq!((v.total_sat, v.unattributed_sat, v.fees_sat), (7100, 6950, 150));
    assert_eq!(v.unattributed_by_reason.unspent_sat, 6950);
    assert!(v.direct.is_empty() && v.indirect.is_empty());
    assert!(report.notes.iter().any(|n| n.starts_with("no tags are loaded")), "{:?}", report.notes);
    let j = json(&report);
    for key in [
        "target",
        "direction",
        "hops",
        "total_sat",
        "direct",
        "indirect",
        "attributions",
        "unattributed_sat",
        "fees_sat",
        "unattributed_by_reason",
        "truncated",
    ] {
        assert!(j.get(key).is_some(), "{key}");
    }
    assert_eq!(j["direction"], "out");
    assert_eq!(j["target"], address(1));
}

#[test]
fn a_txid_in_measures_its_inputs_and_hops_bound_the_walk() {
    let p = paid();
    let report = ask(&p.chain, &["exposure", &p.pay.to_string(), "--direction", "in", "--hops", "0"]).unwrap();
    let Body::Exposure(v) = &report.body else { panic!("expected exposure") };
    assert_eq!((v.direction, v.hops, v.total_sat), ("in", 0, 10_000));
    // The one input's output is wallet 1's coin: untagged, and hop 0 is the last.
    assert_eq!(v.unattributed_by_reason.hop_limit_sat, 10_000);
    assert!(report.notes.iter().any(|n| n.contains("raise --hops")), "{:?}", report.notes);
    let report = ask(&p.chain, &["exposure", &p.pay.to_string(), "--direction", "in"]).unwrap();
    let Body::Exposure(v) = &report.body else { panic!("expected exposure") };
    assert_eq!(v.unattributed_by_reason.coinbase_sat, 10_000);
}

#[test]
fn bad_targets_are_errors_of_the_right_kind() {
    let p = paid();
    let err = ask(&p.chain, &["exposure", &format!("{}:0", p.pay)]).unwrap_err();
    assert!(matches!(err, QueryError::Usage(UsageError::ExposureOutpoint(_))), "{err}");
    assert!(err.to_string().contains("exposure takes an address or a txid"), "{err}");
    let err = ask(&p.chain, &["exposure", "hello"]).unwrap_err();
    assert!(matches!(err, QueryError::Usage(UsageError::Target(_))), "{err}");
    let err = ask(&p.chain, &["exposure", &"11".repeat(32)]).unwrap_err();
    assert!(matches!(err, QueryError::UnknownTx { .. }), "{err}");
    let err = ask(&p.chain, &["exposure", &address(77)]).unwrap_err();
    assert!(matches!(err, QueryError::UnseenAddress { .. }), "{err}");
    assert!(err.to_string().contains("has never been seen on the indexed chain"), "{err}");
    let err = ask(&p.chain, &["--format", "dot", "exposure", &address(1)]).unwrap_err();
    assert!(matches!(err, QueryError::Usage(UsageError::GraphFormat { command: "exposure", .. })), "{err}");
}

#[test]
fn an_address_that_never_spent_has_nothing_to_measure_out() {
    let p = paid();
    let report = ask(&p.chain, &["exposure", &address(5)]).unwrap();
    let Body::Exposure(v) = &report.body else { panic!("expected exposure") };
    assert_eq!(v.total_sat, 0);
    assert!(report.notes.iter().any(|n| n.contains("nothing has been spent from it")), "{:?}", report.notes);
}

/// Wallets 6 and 7 are spent together (one cluster); wallet 1's coin of 10,000 pays 3,000 to
/// wallet 6, 4,000 to wallet 2 and 2,900 to wallet 3 (fee 100). Tags: wallet 7 (so wallet 6's
/// cluster), and wallet 2 twice, with different confidence.
#[test]
fn entities_come_from_an_address_s_best_tag_or_else_its_cluster() {
    let mut t = TestChain::new();
    let coin = t.coin(script(1), 10_000);
    let six = t.coin(script(6), 500);
    let seven = t.coin(script(7), 500);
    t.send(&[six, seven], &[(script(8), 990)]);
    t.send(&[coin], &[(script(6), 3000), (script(2), 4000), (script(3), 2900)]);
    t.mine();
    let (dir, db) = t.finish();
    let tags = dir.as_ref().unwrap().path().join("tags");
    let csv = format!(
        "address,label,category,source,confidence\n{},Exchange X,exchange,s,forensic\n{},Low,gambling,s,heuristic\n{},High,,s,ownership\n",
        address(7),
        address(2),
        address(2)
    );
    let store = TagStore::open_write(&tags, Network::Regtest).unwrap();
    store.import(&pack::parse_csv("t.csv", csv.as_bytes(), Network::Regtest).unwrap()).unwrap();
    drop(store);
    let chain =
        Chain::open(&db, 1 << 20, None).unwrap().with_tags(TagStore::open_read(&tags, Network::Regtest).unwrap());
    let report = ask(&chain, &["exposure", &address(1)]).unwrap();
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    let j = json(&report);
    assert_eq!(j["total_sat"], 10_000);
    assert_eq!(j["direct"][0]["category"], "uncategorized");
    assert_eq!(j["direct"][0]["value_sat"], 4000);
    assert_eq!(j["direct"][0]["entities"][0]["label"], "High");
    assert_eq!(j["direct"][1]["category"], "exchange");
    assert_eq!(j["direct"][1]["entities"][0], serde_json::json!({"label": "Exchange X", "value_sat": 3000}));
    assert_eq!((j["unattributed_sat"].as_u64(), j["fees_sat"].as_u64()), (Some(2900), Some(100)));
    // Where it was attributed: the outputs paying wallet 2 and wallet 6, largest first.
    let pay = j["attributions"][0]["txid"].as_str().unwrap().to_string();
    assert_eq!(
        j["attributions"],
        serde_json::json!([
            {"txid": pay, "vout": 1, "address": address(2), "label": "High", "category": "uncategorized",
             "value_sat": 4000, "hop": 0},
            {"txid": pay, "vout": 0, "address": address(6), "label": "Exchange X", "category": "exchange",
             "value_sat": 3000, "hop": 0},
        ])
    );
    let text = crate::render::render(&report, crate::cli::Format::Table, &Default::default()).unwrap();
    assert!(text.contains("Exchange X"), "{text}");
}
