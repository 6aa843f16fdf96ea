//! End-to-end tests of the indexer against a real regtest node and generated chains: exact
//! balances and spend edges, the REST and JSON-RPC feeds, a node restart while following, pruned
//! nodes, stages catching up and bad configurations (kills, reorgs, outages and disks: `crash`,
//! `reorgs`, `outages`, `disk`).

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use bitcoin::hashes::Hash;
use bitcoin::Txid;
use bitcoincore_rpc::RpcApi;
use chaintrail_tests::TestEnv;
use indexer::storage::schema::{Codec, IoRef, MetaKey, MetaTable, StageId, Table};
use indexer::storage::store::Store;

use crate::support::{
    assert_same_index, failing, generated, index_once, indexer, open, signal, stats_of, tip, wait_for_tip,
    wait_while_running,
};

fn txnum(store: &Store, txid: &str) -> u64 {
    let txid = Txid::from_str(txid).expect("truth txids parse");
    *store.txnums(txid.as_byte_array()).expect("read").last().unwrap_or_else(|| panic!("{txid} not indexed"))
}

#[test]
fn indexed_balances_utxos_and_spend_edges_equal_the_nodes() {
    let env = TestEnv::builder().txindex(true).build().expect("node starts");
    let truth = generated(&env, 11, 2_500);
    let db = tempfile::tempdir().expect("tempdir");
    let out = index_once(&env, db.path(), &[]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("feed=REST: binary blocks with their spent outputs"),
        "REST feed not used"
    );
    let store = open(db.path());

    let meta = store.meta().expect("meta").expect("meta row");
    assert_eq!(meta.tip.map(|t| t.0), Some(truth.tip_height));
    assert_eq!(meta.network, "regtest");

    // Every script the generator knows: its balance and UTXO set equal the node's.
    let descriptors: Vec<String> =
        truth.scripts.iter().map(|s| scan_descriptor(&s.script_hex, s.address.as_deref())).collect();
    let mut checked = 0;
    for (chunk, infos) in descriptors.chunks(100).zip(truth.scripts.chunks(100)) {
        let scan = env.scan(chunk).expect("scantxoutset");
        let mut node_utxos: BTreeMap<String, BTreeSet<(String, u32, u64)>> = BTreeMap::new();
        for u in &scan.unspents {
            node_utxos.entry(hex::encode(u.script_pub_key.as_bytes())).or_default().insert((
                u.txid.to_string(),
                u.vout,
                u.amount.to_sat(),
            ));
        }
        for info in infos {
            let script = hex::decode(&info.script_hex).expect("hex");
            let id = store.script_num(&script).expect("read");
            let expected = node_utxos.remove(&info.script_hex).unwrap_or_default();
            let stats = stats_of(&store, &script).unwrap_or_default();
            assert_eq!(stats.utxo_count as usize, expected.len(), "UTXO count of {}", info.script_hex);
            assert_eq!(stats.balance, expected.iter().map(|u| u.2).sum::<u64>(), "balance of {}", info.script_hex);
            assert_eq!(
                stats.balance,
                truth.balances.get(&info.script_hex).copied().unwrap_or(0),
                "truth balance of {}",
                info.script_hex
            );
            let ours: BTreeSet<(String, u32, u64)> = id
                .map(|id| store.utxos(id, usize::MAX).expect("read"))
                .unwrap_or_default()
                .into_iter()
                .map(|(num, vout, value)| {
                    (Txid::from_byte_array(store.tx(num).unwrap().unwrap().txid).to_string(), vout, value)
                })
                .collect();
            assert_eq!(ours, expected, "UTXO set of {}", info.script_hex);
            checked += 1;
        }
    }
    assert!(checked >= 100, "only {checked} scripts checked");

    // Every spend edge, both directions, against the truth and (sampled) the node's own view.
    let mut edges = 0;
    for (i, tx) in truth.txs.iter().enumerate() {
        let num = txnum(&store, &tx.txid);
        let inputs = store.inputs(num).expect("read");
        if tx.kind == "coinbase" {
            assert!(inputs.is_empty());
            continue;
        }
        assert_eq!(inputs.len(), tx.inputs.len(), "inputs of {}", tx.txid);
        for ((vin, row), expected) in inputs.iter().zip(&tx.inputs) {
            let prev = txnum(&store, &expected.txid);
            assert_eq!(row.prev, IoRef { txnum: prev, index: expected.vout }, "input {vin} of {}", tx.txid);
            assert_eq!(store.spend(prev, expected.vout).expect("read"), Some(IoRef { txnum: num, index: *vin }));
            let out = store.output(prev, expected.vout).expect("read").expect("spent output is indexed");
            assert_eq!(out.value, row.value);
            edges += 1;
        }
        if i % 97 == 0 {
            let node_tx = env.rpc().get_raw_transaction(&Txid::from_str(&tx.txid).unwrap(), None).expect("txindex");
            let node_prevouts: Vec<_> =
                node_tx.input.iter().map(|i| (i.previous_output.txid.to_string(), i.previous_output.vout)).collect();
            let ours: Vec<_> = inputs
                .iter()
                .map(|(_, r)| {
                    (Txid::from_byte_array(store.tx(r.prev.txnum).unwrap().unwrap().txid).to_string(), r.prev.index)
                })
                .collect();
            assert_eq!(ours, node_prevouts, "prevouts of {}", tx.txid);
        }
    }
    assert!(edges > 2_000, "only {edges} edges checked");

    // Bulk-load settings (no WAL, batches written on a second thread while the next is built)
    // give exactly the same index as committing block by block; so does the JSON-RPC feed
    // (blocks as hex, spent outputs read back from the index) as the REST feed.
    drop(store);
    let bulk = tempfile::tempdir().expect("tempdir");
    index_once(&env, bulk.path(), &["--bulk-threshold", "1", "--batch-txs", "150"]);
    assert_same_index(bulk.path(), db.path());
    let rpc = tempfile::tempdir().expect("tempdir");
    let out = index_once(&env, rpc.path(), &["--feed", "rpc"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("feed=JSON-RPC"), "feed not logged");
    assert_same_index(rpc.path(), db.path());
}

#[test]
fn a_node_without_rest_is_indexed_over_json_rpc_and_the_log_says_so() {
    let env = TestEnv::builder().arg("-rest=0").build().expect("node starts");
    let truth = generated(&env, 14, 400);
    let db = tempfile::tempdir().expect("tempdir");
    let out = index_once(&env, db.path(), &[]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("feed=JSON-RPC") && log.contains("start bitcoind with -rest=1"), "{log}");
    let store = open(db.path());
    assert_eq!(store.meta().unwrap().unwrap().tip.map(|t| t.0), Some(truth.tip_height));
    for info in &truth.scripts {
        let balance = stats_of(&store, &hex::decode(&info.script_hex).expect("hex")).unwrap_or_default().balance;
        assert_eq!(
            balance,
            truth.balances.get(&info.script_hex).copied().unwrap_or(0),
            "balance of {}",
            info.script_hex
        );
    }
}

fn scan_descriptor(script_hex: &str, address: Option<&str>) -> String {
    match address {
        Some(a) => format!("addr({a})"),
        None => format!("raw({script_hex})"),
    }
}

#[test]
fn follows_the_tip_survives_a_node_restart_and_stops_cleanly_on_sigterm() {
    let mut env = TestEnv::new().expect("node starts");
    env.mine_to_new(120).expect("mine");
    let db = tempfile::tempdir().expect("tempdir");
    let log = db.path().with_extension("log");
    let mut child = indexer(&env, db.path())
        .args(["--poll-ms", "100"])
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("indexer starts");
    wait_for_tip(&mut child, db.path(), 120);
    env.mine_to_new(1).expect("mine");
    wait_for_tip(&mut child, db.path(), 121);

    // The node goes away under the indexer, which says so, and comes back with new blocks.
    env.stop().expect("stop node");
    let log_says = |needle: &str| std::fs::read_to_string(&log).expect("log").contains(needle);
    wait_while_running(&mut child, "the indexer to notice the node is down", || log_says("node unavailable, retrying"));
    env.start().expect("start node");
    env.mine_to_new(3).expect("mine");
    wait_for_tip(&mut child, db.path(), 124);

    signal(&child, "-TERM");
    let exit = child.wait().expect("wait");
    let stderr = std::fs::read_to_string(&log).expect("log");
    assert!(exit.success(), "indexer exit {exit:?}: {stderr}");
    let fresh = tempfile::tempdir().expect("tempdir");
    index_once(&env, fresh.path(), &[]);
    crate::support::assert_same_index(db.path(), fresh.path());
}

#[test]
fn bad_configurations_fail_with_one_clear_line_and_lose_nothing() {
    let env = TestEnv::new().expect("node starts");
    env.mine_to_new(5).expect("mine");
    let db = tempfile::tempdir().expect("tempdir");
    index_once(&env, db.path(), &[]);
    let before = crate::support::dump(db.path());

    // Wrong network.
    let mut cmd = crate::support::indexer_on(&env, db.path(), "signet");
    cmd.arg("--once");
    let (code, err) = failing(cmd);
    assert_eq!(code, 1);
    assert!(err.contains("is on chain 'regtest', but the indexer is configured for 'signet'"), "{err}");

    // Wrong password.
    let mut cmd = std::process::Command::new(crate::support::bin("indexer"));
    cmd.args(["--once", "--network", "regtest", "--rpc-url", &env.rpc_url(), "--rpc-user", "__cookie__"])
        .arg("--db")
        .arg(db.path())
        .env("CHAINTRAIL_RPC_PASSWORD", "wrong");
    let (code, err) = failing(cmd);
    assert_eq!(code, 1);
    assert!(err.contains("rejected the credentials"), "{err}");

    // Node down.
    let mut cmd = std::process::Command::new(crate::support::bin("indexer"));
    cmd.args(["--once", "--network", "regtest", "--rpc-url", "http://127.0.0.1:9", "--rpc-cookie"])
        .arg(env.cookie_path())
        .arg("--db")
        .arg(db.path());
    let (code, err) = failing(cmd);
    assert_eq!(code, 1);
    assert!(err.contains("cannot reach bitcoind at http://127.0.0.1:9"), "{err}");

    // A database of a newer schema.
    let newer = tempfile::tempdir().expect("tempdir");
    {
        let kv = indexer::storage::kv::Kv::open_writable(newer.path(), 1 << 20).expect("open");
        let meta = indexer::storage::schema::Meta {
            schema_version: 999,
            ..indexer::storage::schema::Meta::empty("regtest", [0; 32])
        };
        let row = (MetaTable::ID, MetaKey.encode(), Some(meta.encode()));
        kv.write(&[row], indexer::storage::kv::WriteMode::Tip).expect("write");
    }
    let (code, err) = failing({
        let mut c = indexer(&env, newer.path());
        c.arg("--once");
        c
    });
    assert_eq!(code, 1);
    assert!(err.contains("schema version 999"), "{err}");

    // A directory that is not ours.
    let foreign = tempfile::tempdir().expect("tempdir");
    std::fs::write(foreign.path().join("notes.txt"), "case files").expect("write");
    let (code, err) = failing({
        let mut c = indexer(&env, foreign.path());
        c.arg("--once");
        c
    });
    assert_eq!(code, 1);
    assert!(err.contains("is not a chaintrail database"), "{err}");
    assert!(foreign.path().join("notes.txt").exists());

    // Nothing already indexed was lost, and every error was one line.
    assert_eq!(crate::support::dump(db.path()), before);
}

#[test]
fn a_pruned_node_is_refused_with_the_height_it_lacks() {
    let env = TestEnv::builder().arg("-prune=1").arg("-fastprune").build().expect("node starts");
    env.mine_to_new(1_000).expect("mine");
    let pruned: u64 = env.rpc().call("pruneblockchain", &[serde_json::json!(600)]).expect("pruneblockchain");
    assert!(pruned > 0, "nothing was pruned");
    let db = tempfile::tempdir().expect("tempdir");
    let (code, err) = failing({
        let mut c = indexer(&env, db.path());
        c.arg("--once");
        c
    });
    assert_eq!(code, 1);
    assert!(err.contains("is pruned") && err.contains("needs every block from height 0"), "{err}");
}

#[test]
fn a_stage_missing_from_an_existing_database_catches_up_from_its_rows_without_the_node() {
    let env = TestEnv::new().expect("node starts");
    let truth = generated(&env, 15, 1_500);
    let reference = tempfile::tempdir().expect("tempdir");
    index_once(&env, reference.path(), &[]);
    let db = tempfile::tempdir().expect("tempdir");
    index_once(&env, db.path(), &[]);
    let node_down = |db: &std::path::Path| {
        let mut cmd = std::process::Command::new(crate::support::bin("indexer"));
        cmd.args(["--network", "regtest", "--rpc-url", "http://127.0.0.1:9", "--progress", "none", "--rpc-cookie"])
            .arg(env.cookie_path())
            .arg("--db")
            .arg(db)
            .env("RUST_LOG", "info");
        cmd
    };

    // As a database written before the stage existed: no addresses rows, no checkpoint. A start
    // catches it up from the indexed rows before it ever reaches for the node (which is down).
    {
        let mut store = Store::open_writable(db.path(), 1 << 20).expect("open");
        indexer::stages::reset(&mut store, StageId::Addresses).expect("reset");
        assert_eq!(store.checkpoint(StageId::Addresses).expect("read"), None);
    }
    // Meanwhile `query` says address answers are incomplete.
    let out = std::process::Command::new(crate::support::bin("query"))
        .arg("--db")
        .arg(db.path())
        .args(["address", &truth.case.thief_address])
        .output()
        .expect("query runs");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("address history is being rebuilt"), "no note");
    let mut cmd = node_down(db.path());
    cmd.arg("--once");
    let (code, err) = failing(cmd);
    assert_eq!(code, 1);
    assert!(err.contains("stage behind the index: catching up from the indexed rows"), "{err}");
    assert!(err.contains("cannot reach bitcoind"), "{err}");
    assert_same_index(db.path(), reference.path());

    // And on request: rebuilt from scratch, offline, then exit 0.
    let mut cmd = node_down(db.path());
    cmd.args(["--rebuild-stage", "addresses"]);
    let out = cmd.output().expect("indexer runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stage caught up"));
    assert_same_index(db.path(), reference.path());
    let tip = tip(reference.path()).expect("tip");
    assert_eq!(open(db.path()).checkpoint(StageId::Addresses).expect("read").map(|c| c.height), Some(tip));
}
