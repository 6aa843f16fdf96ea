//! Clusters, key siblings and the per-tx heuristics, answered from small chains.

use bitcoin::hashes::{hash160, Hash};
use bitcoin::{Address, Network, PubkeyHash, ScriptBuf, Txid};
use indexer::stages::StageConfig;

use super::tests::{ask, json};
use crate::chain::Chain;
use crate::error::{exit_code, QueryError, UsageError};
use crate::fixture::{address, out, script, TestChain};
use crate::model::Body;

/// The generator point, compressed: a public key whose scripts the tests pay.
const KEY: &str = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";

fn key() -> Vec<u8> {
    hex::decode(KEY).unwrap()
}

fn p2pk() -> ScriptBuf {
    ScriptBuf::from_bytes([&[0x21][..], &key(), &[0xac]].concat())
}

fn p2pkh() -> ScriptBuf {
    ScriptBuf::new_p2pkh(&PubkeyHash::from_byte_array(hash160::Hash::hash(&key()).to_byte_array()))
}

fn p2pkh_address() -> String {
    Address::from_script(&p2pkh(), Network::Regtest).unwrap().to_string()
}

/// Owner one: coins to scripts 1, 2, 3 consolidated by `x` (1 and 2 keep a coin each: 700 and
/// 300 sat). Owner two: `y` spends x's output (script 4) with a coin of script 9.
struct Clustered {
    _dir: Option<tempfile::TempDir>,
    chain: Chain,
    x: Txid,
    y: Txid,
}

fn clustered() -> Clustered {
    let mut t = TestChain::new();
    let c1 = t.coin(script(1), 5000);
    t.coin(script(1), 700);
    let c2 = t.coin(script(2), 3000);
    t.coin(script(2), 300);
    let c3 = t.coin(script(3), 2000);
    let c9 = t.coin(script(9), 1000);
    let x = t.send(&[c1, c2, c3], &[(script(4), 9000), (script(5), 900)]);
    t.mine();
    let y = t.send(&[out(x, 0), c9], &[(script(6), 9900)]);
    t.mine();
    let (dir, store) = t.into_store();
    Clustered { _dir: dir, chain: Chain::new(store, None).unwrap(), x, y }
}

fn args(base: &[&str], extra: &[String]) -> Vec<String> {
    base.iter().map(|s| s.to_string()).chain(extra.iter().cloned()).collect()
}

#[test]
fn a_consolidation_puts_its_inputs_in_one_cluster_with_totals() {
    let s = clustered();
    let report = ask(&s.chain, &["cluster", &address(3)]).unwrap();
    let Body::Cluster(v) = &report.body else { panic!("expected a cluster") };
    assert_eq!((v.cluster_id.as_str(), v.size), (address(1).as_str(), 3));
    assert_eq!((v.balance_sat, v.received_sat), (1000, 5700 + 3300 + 2000));
    // Five coinbases and x.
    assert_eq!(v.tx_count, 6);
    assert_eq!((v.first_height, v.last_height), (Some(1), Some(7)));
    let listed: Vec<(String, u64)> = v.addresses.iter().map(|m| (m.address.clone(), m.balance_sat)).collect();
    assert_eq!(listed, [(address(1), 700), (address(2), 300), (address(3), 0)]);
    assert_eq!(v.next_cursor, None);
    let j = json(&report);
    assert_eq!(j["heuristics"], serde_json::json!({"name": "multi_input", "version": 1, "change": false}));
    for key in ["cluster_id", "size", "balance_sat", "received_sat", "tx_count", "first_height", "last_height"] {
        assert!(j.get(key).is_some(), "{key}");
    }
    assert_eq!(j["addresses"][0], serde_json::json!({"address": address(1), "balance_sat": 700, "tags": []}));
    assert!(j["next_cursor"].is_null());
}

#[test]
fn cluster_pages_follow_the_cursor_by_balance() {
    let s = clustered();
    let (mut seen, mut after) = (Vec::new(), Vec::new());
    for _ in 0..4 {
        let argv = args(&["cluster", &address(2), "--limit", "1"], &after);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let report = ask(&s.chain, &argv).unwrap();
        let Body::Cluster(v) = report.body else { panic!() };
        seen.extend(v.addresses.iter().map(|m| m.address.clone()));
        match v.next_cursor {
            Some(cursor) => {
                assert!(report.notes.iter().any(|n| n.contains(&cursor)), "{:?}", report.notes);
                after = vec!["--after".into(), cursor];
            }
            None => break,
        }
    }
    assert_eq!(seen, [address(1), address(2), address(3)]);
    let Body::Cluster(first) = ask(&s.chain, &["cluster", &address(2), "--limit", "1"]).unwrap().body else { panic!() };
    let cursor = first.next_cursor.unwrap();
    assert!(cursor.starts_with("700:"), "{cursor}");
    let Body::Cluster(rest) = ask(&s.chain, &["cluster", &address(2), "--after", &cursor]).unwrap().body else {
        panic!()
    };
    assert_eq!(rest.addresses.len(), 2);
    let err = ask(&s.chain, &["cluster", &address(2), "--after", "700"]).unwrap_err();
    assert!(matches!(err, QueryError::Usage(UsageError::ClusterCursor(_))), "{err}");
}

#[test]
fn an_address_never_merged_is_a_cluster_of_itself() {
    let s = clustered();
    let Body::Cluster(v) = ask(&s.chain, &["cluster", &address(5)]).unwrap().body else { panic!() };
    assert_eq!((v.cluster_id.as_str(), v.size, v.balance_sat, v.tx_count), (address(5).as_str(), 1, 900, 1));
    assert_eq!(v.addresses.len(), 1);
}

#[test]
fn why_names_the_merging_tx_link_by_link() {
    let s = clustered();
    let report = ask(&s.chain, &["cluster", "--why", &address(2), &address(3)]).unwrap();
    let j = json(&report);
    assert_eq!(j["same_cluster"], true);
    assert_eq!(j["cluster_id"], address(1));
    let links = j["links"].as_array().unwrap();
    assert_eq!(links.len(), 2, "2 -> 1 -> 3: x joined each input to the first");
    for (link, (from, to)) in links.iter().zip([(address(2), address(1)), (address(1), address(3))]) {
        assert_eq!(link["txid"], s.x.to_string());
        assert_eq!(link["height"], 7);
        assert_eq!((link["from"].as_str().unwrap(), link["to"].as_str().unwrap()), (from.as_str(), to.as_str()));
        assert_eq!(link["reason"], "spent_together");
    }
    let j = json(&ask(&s.chain, &["cluster", "--why", &address(4), &address(9)]).unwrap());
    assert_eq!(j["links"][0]["txid"], s.y.to_string());
}

#[test]
fn why_between_clusters_is_false_with_no_links() {
    let s = clustered();
    let report = ask(&s.chain, &["cluster", "--why", &address(1), &address(9)]).unwrap();
    let j = json(&report);
    assert_eq!(j["same_cluster"], false);
    assert!(j["cluster_id"].is_null());
    assert_eq!(j["links"], serde_json::json!([]));
    let expected = format!("{} is in cluster {}, {} in cluster {}", address(1), address(1), address(9), address(9));
    assert_eq!(report.notes, [expected]);
}

#[test]
fn clusters_top_lists_the_largest_first() {
    let s = clustered();
    let j = json(&ask(&s.chain, &["clusters"]).unwrap());
    assert_eq!(
        j["clusters"],
        serde_json::json!([
            {"cluster_id": address(1), "size": 3, "balance_sat": 1000},
            // Script 9 was paid before script 4: the earliest script names the cluster.
            {"cluster_id": address(9), "size": 2, "balance_sat": 0},
        ])
    );
    let j = json(&ask(&s.chain, &["clusters", "--top", "1"]).unwrap());
    assert_eq!(j["clusters"].as_array().unwrap().len(), 1);
    assert_eq!(j["top"], 1);
}

#[test]
fn unseen_addresses_and_missing_clusters_are_exit_1_errors() {
    let s = clustered();
    let (seen, unseen) = (address(1), address(77));
    for argv in [vec!["cluster", unseen.as_str()], vec!["cluster", "--why", seen.as_str(), unseen.as_str()]] {
        let err = ask(&s.chain, &argv).unwrap_err();
        assert!(matches!(err, QueryError::UnseenAddress { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!("address {unseen} has never been seen on the indexed chain (up to height 8)")
        );
        assert_eq!(exit_code(&err.into()), 1);
    }
    let mut t = TestChain::with_stages(StageConfig { clusters: None });
    t.coin(script(1), 1000);
    let (_dir, store) = t.into_store();
    let chain = Chain::new(store, None).unwrap();
    let err = ask(&chain, &["cluster", &address(1)]).unwrap_err();
    assert!(matches!(err, QueryError::NoClusters), "{err}");
    assert!(err.to_string().contains("without --no-clusters"), "{err}");
    assert!(matches!(ask(&chain, &["clusters"]).unwrap_err(), QueryError::NoClusters));
    let Body::Address(v) = ask(&chain, &["address", &address(1)]).unwrap().body else { panic!() };
    assert_eq!((v.cluster_id, v.cluster_size), (None, None));
}

#[test]
fn cluster_positionals_must_match_why() {
    let s = clustered();
    let err = ask(&s.chain, &["cluster", "--why", &address(1)]).unwrap_err();
    assert!(matches!(err, QueryError::Usage(UsageError::ClusterArgs(_))), "{err}");
    assert!(err.to_string().contains("takes two addresses, got 1"), "{err}");
    let err = ask(&s.chain, &["cluster", &address(1), &address(2)]).unwrap_err();
    assert!(err.to_string().contains("takes one address, got 2"), "{err}");
    let err = ask(&s.chain, &["cluster", "--why", &address(1), "bcrt1qnotanaddress"]).unwrap_err();
    assert!(matches!(err, QueryError::Usage(UsageError::Address { .. })), "{err}");
}

#[test]
fn tx_reports_a_coinjoin_and_a_payments_change() {
    let mut t = TestChain::new();
    let coins: Vec<_> = (30..35).map(|n| t.coin(script(n), 1_200_000)).collect();
    t.coin(script(21), 1000);
    let paying = t.coin(script(20), 100_000);
    let pool: Vec<_> = (40..45).map(|n| (script(n), 1_000_000)).collect();
    let mix = t.send(&coins, &pool);
    let payment = t.send(&[paying], &[(script(21), 50_000), (script(22), 49_123)]);
    let coinbase = t.mine();
    let (_dir, store) = t.into_store();
    let chain = Chain::new(store, None).unwrap();

    let j = json(&ask(&chain, &["tx", &mix.to_string()]).unwrap());
    assert_eq!(
        j["coinjoin"],
        serde_json::json!({"kind": "whirlpool", "confidence": 0.95, "participants": 5, "denomination_sat": 1_000_000})
    );
    assert!(j["change"].is_null());
    let Body::Cluster(v) = ask(&chain, &["cluster", &address(30)]).unwrap().body else { panic!() };
    assert_eq!(v.size, 1, "CoinJoin inputs are not merged");

    let j = json(&ask(&chain, &["tx", &payment.to_string()]).unwrap());
    assert!(j["coinjoin"].is_null());
    assert_eq!(
        j["change"],
        serde_json::json!({"vout": 1, "heuristics": ["fresh_address", "round_amount"], "confidence": 0.88})
    );
    let j = json(&ask(&chain, &["tx", &coinbase.to_string()]).unwrap());
    assert!(j["coinjoin"].is_null() && j["change"].is_null());
}

#[test]
fn address_shows_the_coins_of_its_keys_other_scripts() {
    let mut t = TestChain::new();
    t.coin(p2pk(), 1_000_000_000);
    t.coin(p2pkh(), 5000);
    let (_dir, store) = t.into_store();
    let chain = Chain::new(store, None).unwrap();
    let p2pk_hex = hex::encode(p2pk().as_bytes());
    let p2pkh_hex = hex::encode(p2pkh().as_bytes());

    let report = ask(&chain, &["address", &p2pkh_address()]).unwrap();
    let j = json(&report);
    assert_eq!((j["balance_sat"].as_u64(), j["tx_count"].as_u64()), (Some(5000), Some(1)));
    assert_eq!(j["key_balance_sat"], 1_000_005_000u64);
    assert_eq!(
        j["key_scripts"],
        serde_json::json!([{
            "script_type": "p2pk",
            "script_hex": p2pk_hex,
            "address": null,
            "balance_sat": 1_000_000_000u64,
            "received_sat": 1_000_000_000u64,
        }])
    );
    let scripts: Vec<(&str, u64)> = j["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["script"].as_str().unwrap(), h["height"].as_u64().unwrap()))
        .collect();
    assert_eq!(scripts, [(p2pk_hex.as_str(), 1), (p2pkh_hex.as_str(), 2)]);
    let utxos: Vec<&str> = j["utxos"].as_array().unwrap().iter().map(|u| u["script"].as_str().unwrap()).collect();
    assert_eq!(utxos, [p2pk_hex.as_str(), p2pkh_hex.as_str()]);
    assert_eq!((j["utxo_count"].as_u64(), j["key_utxo_count"].as_u64()), (Some(1), Some(2)));
    assert_eq!(
        (j["cluster_id"].as_str(), j["cluster_size"].as_u64()),
        (Some(format!("script:{p2pk_hex}").as_str()), Some(2))
    );

    // One event per page, resumed by the cursor across both scripts.
    let Body::Address(first) = ask(&chain, &["address", &p2pkh_address(), "--limit", "1"]).unwrap().body else {
        panic!()
    };
    assert_eq!(first.history[0].script, p2pk_hex);
    let cursor = first.next_cursor.unwrap();
    let Body::Address(second) =
        ask(&chain, &["address", &p2pkh_address(), "--limit", "1", "--after", &cursor]).unwrap().body
    else {
        panic!()
    };
    assert_eq!((second.history.len(), second.history[0].script.as_str()), (1, p2pkh_hex.as_str()));
    assert_eq!(second.next_cursor, None);
}
