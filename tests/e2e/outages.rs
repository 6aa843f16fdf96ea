//! The node going away under the indexer: stopped in the middle of a sync and started again with
//! a new cookie, and restarted in initial block download below the indexed tip. The indexer waits,
//! re-reads its credentials and goes on; nothing is lost or rolled back, nothing crashes.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use bitcoincore_rpc::RpcApi;
use chaintrail_tests::TestEnv;

use crate::support::{
    assert_same_digest, event_height, figure, full_form, generated, index_once, indexer, signal, Payer,
};

/// The `retry_in_ms` of a "node unavailable, retrying" line.
fn retry_in_ms(line: &str) -> Option<u64> {
    if !line.contains("node unavailable, retrying") {
        return None;
    }
    line.split_once("retry_in_ms=")?.1.split_whitespace().next()?.parse().ok()
}

/// A lower bound on how long one thread of the indexer has been retrying, from the delays it
/// announced (250 ms doubling up to 15 s, each announced before it is waited). Several threads may
/// retry at once: of `c` announcements of the 15 s cap by `t` threads (each announcing 250 ms
/// once), one thread made at least `ceil(c / t)`.
fn waited_ms(delays: &[u64]) -> u64 {
    let threads = delays.iter().filter(|d| **d == 250).count().max(1) as u64;
    let capped = delays.iter().filter(|d| **d == 15_000).count() as u64;
    if capped > 0 {
        15_750 + 15_000 * (capped.div_ceil(threads) - 1)
    } else {
        delays.iter().max().map_or(0, |d| d - 250)
    }
}

#[test]
fn the_node_stopped_mid_sync_and_restarted_with_a_new_cookie_loses_nothing() {
    let mut env = TestEnv::new().expect("node starts");
    generated(&env, 17, 2_000);
    let reference = tempfile::tempdir().expect("tempdir");
    index_once(&env, reference.path(), &[]);
    let cookie = std::fs::read_to_string(env.cookie_path()).expect("cookie");

    let db = tempfile::tempdir().expect("tempdir");
    let mut child = indexer(&env, db.path())
        .args(["--once", "--batch-txs", "100", "--bulk-threshold", "1", "--flush-secs", "0", "--fetch-workers", "2"])
        .env("RUST_LOG", "info,indexer=debug")
        .stderr(Stdio::piped())
        .spawn()
        .expect("indexer starts");
    let lines = BufReader::new(child.stderr.take().expect("piped")).lines();

    // Down after the second durable batch, for as long as the indexer's own retries show (30 s
    // in the full form); then up again, with a new cookie.
    let down_for = if full_form() { 30_000 } else { 3_750 };
    let (mut durable, mut delays, mut down, mut log) = (0, Vec::new(), false, String::new());
    for line in lines {
        let line = line.expect("read the log");
        log.push_str(&line);
        log.push('\n');
        if event_height(&line, "durable").is_some() {
            durable += 1;
            if durable == 2 && delays.is_empty() {
                env.stop().expect("stop the node");
                down = true;
            }
        }
        if let Some(delay) = retry_in_ms(&line) {
            delays.push(delay);
            if down && waited_ms(&delays) >= down_for {
                env.start().expect("start the node");
                down = false;
            }
        }
    }
    let status = child.wait().expect("wait");
    assert!(status.success(), "the indexer failed: {log}");
    assert!(!down, "the indexer finished while the node was down: {log}");
    let new_cookie = std::fs::read_to_string(env.cookie_path()).expect("cookie");
    assert_ne!(cookie, new_cookie, "the restarted node wrote a new cookie");
    assert!(!log.contains("rolling back"), "{log}");
    assert_same_digest(db.path(), reference.path());
    let warming = log.lines().filter(|l| l.contains("bitcoind is starting up")).count();
    figure(
        "node stopped mid-sync",
        format!(
            "down >= {} ms by the indexer's retries ({} retries, {warming} while warming up)",
            waited_ms(&delays),
            delays.len()
        ),
    );
}

#[test]
fn a_node_in_initial_block_download_below_the_indexed_tip_is_waited_for_not_rolled_back() {
    let mut env = TestEnv::new().expect("node starts");
    let mut payer = Payer::new(&env, 61);
    payer.blocks(&env, 10);
    let db = tempfile::tempdir().expect("tempdir");
    index_once(&env, db.path(), &[]);
    let tip = env.height().expect("height");

    // The node's clock three days ahead makes its tip old: it is in initial block download, as
    // after a restore or with -reindex. Its best chain then drops 5 blocks below the index.
    env.stop().expect("stop");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    env.start_with(&[&format!("-mocktime={}", now + 3 * 86_400)]).expect("start");
    assert!(env.rpc().get_blockchain_info().expect("info").initial_block_download);
    let dropped = env.rpc().get_block_hash(tip - 4).expect("hash");
    env.rpc().invalidate_block(&dropped).expect("invalidate");

    let mut child =
        indexer(&env, db.path()).args(["--poll-ms", "20"]).stderr(Stdio::piped()).spawn().expect("indexer starts");
    let mut lines = BufReader::new(child.stderr.take().expect("piped")).lines();
    let mut log = String::new();
    let mut wait_for = |needle: &str| loop {
        let line = lines.next().expect("the indexer logs until stopped").expect("read");
        log.push_str(&line);
        log.push('\n');
        if line.contains(needle) {
            break;
        }
    };
    wait_for("in initial block download below the indexed tip; waiting for it");
    env.rpc().reconsider_block(&dropped).expect("reconsider");
    wait_for("at the node's tip; following");
    signal(&child, "-TERM");
    assert!(child.wait().expect("wait").success());
    assert!(!log.contains("rolling back"), "the indexer rolled back for a syncing node: {log}");

    let fresh = tempfile::tempdir().expect("tempdir");
    index_once(&env, fresh.path(), &[]);
    assert_same_digest(db.path(), fresh.path());
}
