//! End-to-end tests of the clusters stage on a real node: generated chains checked against the
//! generator's owners (no cluster mixes two owners, a consolidation is one cluster, CoinJoin
//! participants stay apart), bulk, block-by-block and caught-up builds equal row for row, a reorg
//! that removes the merging transaction, and one key's P2PK and P2PKH scripts.

use std::collections::{HashMap, HashSet};
use std::process::Command;

use bitcoin::{Amount, OutPoint, ScriptBuf, TxOut};
use bitcoincore_rpc::RpcApi;
use chaintrail_tests::wallet::{unsigned_tx, ScriptKind, Spent, Wallet};
use chaintrail_tests::{generate, GenParams, TestEnv};
use indexer::stages::clusters::read;
use serde_json::Value;

use crate::support::{assert_same_index, bin, failing, index_once, mature_coin, open, query_json, spend};

fn input_addresses(tx: &Value) -> Vec<String> {
    let mut all: Vec<String> = tx["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .filter_map(|i| i["address"].as_str().map(String::from))
        .collect();
    all.sort();
    all.dedup();
    all
}

#[test]
fn generated_clusters_never_mix_owners_keep_coinjoins_apart_and_equal_in_bulk_block_by_block_and_caught_up() {
    let env = TestEnv::new().expect("node starts");
    let truth =
        generate(env.rpc(), &GenParams { seed: 23, target_txs: 3_000, txs_per_block: 200, ..GenParams::default() })
            .expect("generate");
    let bulk = tempfile::tempdir().expect("tempdir");
    index_once(&env, bulk.path(), &["--bulk-threshold", "1"]);
    let by_block = tempfile::tempdir().expect("tempdir");
    index_once(&env, by_block.path(), &["--bulk-threshold", "100000", "--batch-txs", "1"]);
    let later = tempfile::tempdir().expect("tempdir");
    index_once(&env, later.path(), &["--no-clusters"]);
    assert_eq!(open(later.path()).checkpoint(indexer::storage::schema::StageId::Clusters).expect("read"), None);
    let out = index_once(&env, later.path(), &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("stage behind the index"), "not caught up from rows");
    assert_same_index(bulk.path(), by_block.path());
    assert_same_index(bulk.path(), later.path());
    let db = bulk.path();

    // Clusters built without change heuristics are not extended with them, and nothing is lost.
    let mut cmd = crate::support::indexer(&env, later.path());
    cmd.args(["--once", "--cluster-change"]);
    let (code, err) = failing(cmd);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--rebuild-stage clusters --cluster-change"), "{err}");
    assert_same_index(bulk.path(), later.path());
    // Rebuilt with them, offline: the merges they add are all marked as change.
    let mut cmd = crate::support::indexer(&env, later.path());
    cmd.args(["--rebuild-stage", "clusters", "--cluster-change"]);
    assert!(cmd.output().expect("indexer runs").status.success());
    let rebuilt = open(later.path());
    assert!(read::state(&rebuilt).expect("read").expect("built").change);
    let (with, without) = (read::largest(&rebuilt, 1).expect("read"), read::largest(&open(db), 1).expect("read"));
    assert!(with[0].size >= without[0].size, "change merges only add: {with:?} vs {without:?}");
    drop(rebuilt);

    // No cluster holds two owners' scripts: only CoinJoins spend several owners' coins at once.
    let store = open(db);
    let mut owners_of: HashMap<u64, HashSet<u32>> = HashMap::new();
    for script in &truth.scripts {
        let bytes = hex::decode(&script.script_hex).expect("hex");
        let Some(num) = store.script_num(&bytes).expect("read") else { continue };
        let cluster = read::cluster_of(&store, num).expect("read");
        owners_of.entry(cluster.root).or_default().insert(script.owner);
    }
    let mixed: Vec<_> = owners_of.values().filter(|o| o.len() > 1).collect();
    assert!(mixed.is_empty(), "clusters mixing owners: {mixed:?}");
    let largest = read::largest(&store, 1).expect("read");
    assert!(largest[0].size >= 10, "the exchanges' consolidations make big clusters: {largest:?}");
    drop(store);

    // The case's consolidation: one cluster, every pair joined by transactions spending both.
    let case = &truth.case;
    let consolidation = input_addresses(&query_json(db, &["tx", &case.consolidation_txid]));
    assert!(consolidation.len() >= 2, "{consolidation:?}");
    let cluster = query_json(db, &["cluster", &consolidation[0], "--limit", "10000"]);
    let members: HashSet<&str> = cluster["addresses"]
        .as_array()
        .expect("addresses")
        .iter()
        .map(|a| a["address"].as_str().expect("address"))
        .collect();
    assert_eq!(cluster["size"].as_u64(), Some(members.len() as u64));
    let by_txid: HashMap<&str, &chaintrail_tests::truth::TxInfo> =
        truth.txs.iter().map(|t| (t.txid.as_str(), t)).collect();
    let address_of: HashMap<(&str, u32), &str> = truth
        .txs
        .iter()
        .flat_map(|t| {
            t.outputs
                .iter()
                .enumerate()
                .filter_map(move |(v, o)| Some(((t.txid.as_str(), v as u32), o.address.as_deref()?)))
        })
        .collect();
    for other in &consolidation[1..] {
        assert!(members.contains(other.as_str()), "{other} is not in the consolidation's cluster");
        let why = query_json(db, &["cluster", "--why", &consolidation[0], other]);
        assert_eq!(why["same_cluster"], true);
        assert_eq!(why["cluster_id"], cluster["cluster_id"]);
        let links = why["links"].as_array().expect("links");
        assert_eq!(links.first().expect("a link")["from"], consolidation[0].as_str());
        assert_eq!(links.last().expect("a link")["to"], other.as_str());
        for link in links {
            let tx = by_txid[link["txid"].as_str().expect("txid")];
            let spent: HashSet<&str> =
                tx.inputs.iter().filter_map(|i| address_of.get(&(i.txid.as_str(), i.vout)).copied()).collect();
            for end in ["from", "to"] {
                assert!(spent.contains(link[end].as_str().expect("address")), "{link} is not a co-spend");
            }
        }
    }

    // The case's CoinJoin: detected, and its participants stay apart.
    let coinjoin = query_json(db, &["tx", &case.coinjoin_txid]);
    assert!(coinjoin["coinjoin"]["kind"].is_string(), "not detected: {}", coinjoin["coinjoin"]);
    assert!(coinjoin["change"].is_null());
    let owner: HashMap<&str, u32> =
        truth.scripts.iter().filter_map(|s| Some((s.address.as_deref()?, s.owner))).collect();
    let participants = input_addresses(&coinjoin);
    for (i, a) in participants.iter().enumerate() {
        for b in &participants[i + 1..] {
            if owner[a.as_str()] != owner[b.as_str()] {
                assert_eq!(query_json(db, &["cluster", "--why", a, b])["same_cluster"], false, "{a} and {b}");
            }
        }
    }
    let top = query_json(db, &["clusters", "--top", "3"]);
    assert_eq!(top["clusters"][0]["size"].as_u64(), Some(largest[0].size));
}

#[test]
fn a_reorg_that_removes_the_merging_transaction_splits_the_cluster_again() {
    let env = TestEnv::new().expect("node starts");
    let mut wallet = Wallet::new(41, bitcoin::Network::Regtest);
    let (a, coin_a) = mature_coin(&env, &mut wallet);
    let (b, coin_b) = mature_coin(&env, &mut wallet);
    let to = wallet.new_script(ScriptKind::P2tr);
    let elsewhere = wallet.new_script(ScriptKind::P2pkh);
    let addr =
        |s: &chaintrail_tests::wallet::OwnedScript| s.address(bitcoin::Network::Regtest).expect("address").to_string();
    let (a_addr, b_addr) = (addr(&a), addr(&b));
    let fork = env.height().expect("height") + 1;
    let merge = spend(&wallet, &[(&a, &coin_a), (&b, &coin_b)], to.script_pubkey());
    env.generate_block(std::slice::from_ref(&merge)).expect("block");
    env.mine_to_new(1).expect("mine");
    let db = tempfile::tempdir().expect("tempdir");
    index_once(&env, db.path(), &[]);
    let why = query_json(db.path(), &["cluster", "--why", &a_addr, &b_addr]);
    assert_eq!(why["same_cluster"], true);
    assert_eq!(why["links"][0]["txid"], merge.compute_txid().to_string());
    assert_eq!(why["links"][0]["height"], fork);
    assert_eq!(query_json(db.path(), &["cluster", &a_addr])["size"], 2);

    // The node drops that block for one where coin A alone pays elsewhere.
    let hash = env.rpc().get_block_hash(fork).expect("hash");
    env.rpc().invalidate_block(&hash).expect("invalidate");
    env.generate_block(&[spend(&wallet, &[(&a, &coin_a)], elsewhere.script_pubkey())]).expect("block");
    env.mine_to_new(2).expect("mine");
    let out = index_once(&env, db.path(), &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("reorg"), "no reorg logged");
    let why = query_json(db.path(), &["cluster", "--why", &a_addr, &b_addr]);
    assert_eq!(why["same_cluster"], false);
    assert!(why["links"].as_array().is_none_or(|l| l.is_empty()), "{why}");
    assert_eq!(query_json(db.path(), &["cluster", &a_addr])["size"], 1);
    let fresh = tempfile::tempdir().expect("tempdir");
    index_once(&env, fresh.path(), &[]);
    assert_same_index(db.path(), fresh.path());
}

#[test]
fn a_keys_p2pk_coins_show_under_its_p2pkh_address_and_in_its_cluster() {
    let env = TestEnv::new().expect("node starts");
    let mut wallet = Wallet::new(43, bitcoin::Network::Regtest);
    let (funder, coin) = mature_coin(&env, &mut wallet);
    let p2pkh = wallet.new_script(ScriptKind::P2pkh);
    let key = bitcoin::PublicKey::from(p2pkh.keys()[0].public);
    let p2pk = ScriptBuf::new_p2pk(&key);
    let outs = vec![
        TxOut { value: Amount::from_sat(1_000_000_000), script_pubkey: p2pk.clone() },
        TxOut { value: coin.value - Amount::from_sat(1_000_002_000), script_pubkey: p2pkh.script_pubkey().clone() },
    ];
    let mut tx = unsigned_tx(&[OutPoint { txid: coin.outpoint.txid, vout: coin.outpoint.vout }], outs);
    wallet.sign(&mut tx, &[Spent { script: &funder, value: coin.value }]).expect("sign");
    env.generate_block(&[tx]).expect("block");
    let db = tempfile::tempdir().expect("tempdir");
    index_once(&env, db.path(), &[]);
    let address = p2pkh.address(bitcoin::Network::Regtest).expect("address").to_string();
    let view = query_json(db.path(), &["address", &address]);
    let p2pk_hex = hex::encode(p2pk.as_bytes());
    let sibling = &view["key_scripts"][0];
    assert_eq!(sibling["script_type"], "p2pk");
    assert_eq!(sibling["script_hex"], p2pk_hex.as_str());
    assert_eq!(sibling["balance_sat"], 1_000_000_000u64);
    assert_eq!(view["key_balance_sat"], view["balance_sat"].as_u64().expect("balance") + 1_000_000_000);
    let from_p2pk: Vec<&Value> =
        view["history"].as_array().expect("history").iter().filter(|h| h["script"] == p2pk_hex.as_str()).collect();
    assert_eq!(from_p2pk.len(), 1, "{}", view["history"]);
    assert_eq!(from_p2pk[0]["value_sat"], 1_000_000_000u64);
    let cluster = query_json(db.path(), &["cluster", &address]);
    assert_eq!(cluster["size"], 2);

    // An address the chain never paid is an error with one line and exit 1.
    let unseen = wallet.new_script(ScriptKind::P2wpkh).address(bitcoin::Network::Regtest).expect("address").to_string();
    let mut cmd = Command::new(bin("query"));
    cmd.arg("--db").arg(db.path()).args(["cluster", &unseen]);
    let (code, err) = failing(cmd);
    assert_eq!(code, 1, "{err}");
}
