//! Reorgs on the real node: depths 1, 6 and 100 (the default undo depth) with double-spends that
//! replace transactions of the old branch, each ending in the same index as a fresh one of the new
//! chain; a fork deeper than the undo data, refused before anything changes; and queries while a
//! rollback runs, each answer from one committed block.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use bitcoin::{Address, BlockHash, Network, ScriptBuf};
use bitcoincore_rpc::RpcApi;
use chaintrail_tests::wallet::{ScriptKind, Wallet};
use chaintrail_tests::TestEnv;
use indexer::storage::store::Store;
use serde_json::Value;

use crate::support::{
    assert_same_digest, assert_same_index, digest, event_height, failing, figure, generated, index_once, indexer,
    mature_coin, open, pay, query_json, signal, stats_of, Payer,
};

/// Balance of `script` in the index; `None` if it was never paid.
fn balance(store: &Store, script: &ScriptBuf) -> Option<u64> {
    stats_of(store, script.as_bytes()).map(|s| s.balance)
}

#[test]
fn reorgs_of_depth_1_6_and_100_with_double_spends_equal_a_fresh_index_of_the_new_chain() {
    let env = TestEnv::builder().txindex(true).build().expect("node starts");
    generated(&env, 12, 600);
    let mut wallet = Wallet::new(99, Network::Regtest);
    let coins: Vec<_> = (0..3).map(|_| mature_coin(&env, &mut wallet)).collect();
    let mut payer = Payer::new(&env, 98);
    let db = tempfile::tempdir().expect("tempdir");
    index_once(&env, db.path(), &[]);

    for (depth, (owner, coin)) in [1usize, 6, 100].into_iter().zip(&coins) {
        let replaced = wallet.new_script(ScriptKind::P2tr);
        let replacing = wallet.new_script(ScriptKind::P2pkh);
        // The old branch: the coin paid to one script, then a payment in every block.
        let fork = env.height().expect("height");
        env.generate_block(&[pay(&wallet, owner, coin, replaced.script_pubkey()), payer.next()]).expect("block");
        payer.blocks(&env, depth - 1);
        index_once(&env, db.path(), &[]);
        assert_eq!(balance(&open(db.path()), replaced.script_pubkey()), Some(coin.value.to_sat() - 1_000));

        // The new branch, one block longer, pays the same coin to another script. The old
        // branch's payments go back to the node's mempool and into its next blocks.
        let first_old = env.rpc().get_block_hash(fork + 1).expect("hash");
        env.rpc().invalidate_block(&first_old).expect("invalidate");
        env.generate_block(&[pay(&wallet, owner, coin, replacing.script_pubkey())]).expect("block");
        env.mine_to_new(depth as u64).expect("mine");
        let out = index_once(&env, db.path(), &[]);
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(log.contains(&format!("blocks={depth} fork_height={fork}")), "depth {depth}: {log}");

        let store = open(db.path());
        assert_eq!(balance(&store, replaced.script_pubkey()), None, "depth {depth}: the replaced payment stays");
        assert_eq!(balance(&store, replacing.script_pubkey()), Some(coin.value.to_sat() - 1_000));
        drop(store);
        let fresh = tempfile::tempdir().expect("tempdir");
        index_once(&env, fresh.path(), &[]);
        assert_same_digest(db.path(), fresh.path());
    }
    figure("reorg depths equal to a fresh index (with a double-spend each)", "1, 6, 100");
}

#[test]
fn a_fork_deeper_than_the_undo_data_is_refused_before_anything_is_rolled_back() {
    let env = TestEnv::new().expect("node starts");
    let mut payer = Payer::new(&env, 41);
    payer.blocks(&env, 12);
    let db = tempfile::tempdir().expect("tempdir");
    index_once(&env, db.path(), &["--undo-depth", "6"]);
    let before = digest(db.path());

    env.reorg(7).expect("reorg");
    let mut cmd = indexer(&env, db.path());
    cmd.args(["--once", "--undo-depth", "6"]);
    let (code, err) = failing(cmd);
    assert_eq!(code, 1);
    assert!(err.contains("deeper than the undo data this index keeps (6 blocks"), "{err}");
    assert!(err.contains("nothing was rolled back: re-index into a new directory"), "{err}");
    assert_eq!(digest(db.path()), before, "a refused rollback changes nothing");
    // A larger undo depth now cannot bring back undo data that was never kept.
    let mut cmd = indexer(&env, db.path());
    cmd.args(["--once", "--undo-depth", "200"]);
    let (_, err) = failing(cmd);
    assert!(err.contains("deeper than the undo data"), "{err}");

    // The recovery path the message gives.
    let fresh = tempfile::tempdir().expect("tempdir");
    index_once(&env, fresh.path(), &[]);
    let reference = tempfile::tempdir().expect("tempdir");
    index_once(&env, reference.path(), &[]);
    assert_same_digest(fresh.path(), reference.path());

    // Depth 6 with an undo depth of 6 is within the window (on top of 7 new blocks, so that the
    // branches left by the first reorg are shorter than what the node falls back to).
    env.mine_to_new(7).expect("mine");
    let window = tempfile::tempdir().expect("tempdir");
    index_once(&env, window.path(), &["--undo-depth", "6"]);
    env.reorg(6).expect("reorg");
    index_once(&env, window.path(), &["--undo-depth", "6"]);
    index_once(&env, fresh.path(), &[]);
    // Every table but undo, which keeps 6 blocks here and 100 there.
    assert_same_index(window.path(), fresh.path());
}

/// What `query address` may say of one script: one of the states it has at some committed tip.
type AddressState = (u64, u64, u64, Option<u64>, Option<u64>);

fn address_state(v: &Value) -> AddressState {
    let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));
    (n("received_sat"), n("sent_sat"), n("tx_count"), v["first_seen_height"].as_u64(), v["last_seen_height"].as_u64())
}

/// The state of every holder of `payer`'s coin at every tip of a branch: the blocks on top of
/// `fork` (`hashes`), read back from the node.
fn states_along(env: &TestEnv, payer: &Payer, fork: u64, hashes: &[BlockHash]) -> BTreeSet<(usize, AddressState)> {
    let txids: Vec<_> = payer.payments.iter().map(|t| t.compute_txid()).collect();
    let mut confirmed = vec![None; txids.len()];
    let mut states = BTreeSet::new();
    // The fork itself, then each block of the branch on top of it.
    for i in 0..=hashes.len() {
        if let Some(hash) = i.checked_sub(1).map(|k| &hashes[k]) {
            for tx in env.rpc().get_block(hash).expect("block").txdata {
                if let Some(j) = txids.iter().position(|t| *t == tx.compute_txid()) {
                    confirmed[j] = Some(fork + i as u64);
                }
            }
        }
        for (j, payment) in payer.payments.iter().enumerate() {
            // Payment j pays holder j + 1, which payment j + 1 spends.
            let value = payment.output[0].value.to_sat();
            let state = match (confirmed[j], confirmed.get(j + 1).copied().flatten()) {
                (None, _) => (0, 0, 0, None, None),
                (Some(paid), None) => (value, 0, 1, Some(paid), Some(paid)),
                (Some(paid), Some(spent)) => (value, value, 2, Some(paid), Some(spent)),
            };
            states.insert((j + 1, state));
        }
    }
    states
}

/// Asks `query` for the holders `which` and checks each answer is a state of a committed tip;
/// checks the follower's tip, its header and its transaction count agree.
fn observe(db: &Path, payer: &Payer, which: &[usize], allowed: &BTreeSet<(usize, AddressState)>) {
    let store = open(db);
    let meta = store.meta().expect("meta").expect("a tip");
    assert!(meta.tip.is_some(), "a follower sees a tip");
    if let Err(e) = indexer::check::tip_agrees(&store, &meta) {
        panic!("the follower's tip: {e:#}");
    }
    drop(store);
    for &j in which {
        let address = Address::from_script(&payer.holders[j], Network::Regtest).expect("has an address").to_string();
        let v = query_json(db, &["address", &address]);
        let state = address_state(&v);
        assert!(allowed.contains(&(j, state)), "holder {j}: {state:?} is no committed tip's state: {v}");
    }
}

#[test]
fn queries_during_a_rollback_each_see_one_committed_block() {
    let env = TestEnv::new().expect("node starts");
    let mut payer = Payer::new(&env, 51);
    let db = tempfile::tempdir().expect("tempdir");
    let depth = 20;
    let fork = env.height().expect("height");
    let old = payer.blocks(&env, depth);
    index_once(&env, db.path(), &[]);

    let mut child = indexer(&env, db.path())
        .args(["--poll-ms", "20"])
        .env("RUST_LOG", "info,indexer=debug")
        .stderr(Stdio::piped())
        .spawn()
        .expect("indexer starts");
    let mut lines = BufReader::new(child.stderr.take().expect("piped")).lines();
    let mut next_line = || lines.next().expect("the indexer logs until stopped").expect("read the log");
    while !next_line().contains("at the node's tip; following") {}

    // The new branch takes every payment back in its first block.
    env.rpc().invalidate_block(&old[0]).expect("invalidate");
    let new = env.mine_to_new(depth as u64 + 1).expect("mine");
    let mut allowed = states_along(&env, &payer, fork, &old);
    allowed.extend(states_along(&env, &payer, fork, &new));
    let new_tip = fork as u32 + depth as u32 + 1;

    // At every block rolled back or written, the indexer is paused (SIGSTOP: it may be in the
    // middle of writing the next one) while queries read the database.
    let (mut observed, mut answers) = (0, 0);
    loop {
        let line = next_line();
        let (rolled_back, height) = match (event_height(&line, "rolled back"), event_height(&line, "durable")) {
            (Some(height), _) => (true, height),
            (None, Some(height)) => (false, height),
            (None, None) => continue,
        };
        signal(&child, "-STOP");
        let j = (height as u64 - fork) as usize;
        // Rolling back block `fork + j` un-pays holder j and un-spends holder j - 1.
        let which: Vec<usize> =
            if rolled_back { [j - 1, j].into_iter().filter(|k| *k >= 1).collect() } else { vec![1, depth] };
        observe(db.path(), &payer, &which, &allowed);
        observed += 1;
        answers += which.len();
        signal(&child, "-CONT");
        if !rolled_back && height == new_tip {
            break;
        }
    }
    signal(&child, "-TERM");
    assert!(child.wait().expect("wait").success());
    assert!(observed > depth, "only {observed} observations");
    figure(
        "a rollback of 20 blocks and the new branch, read meanwhile",
        format!("{observed} pauses of the indexer, each checked by a follower; {answers} query answers, each a committed tip's"),
    );
}
