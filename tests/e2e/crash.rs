//! Hard kills (SIGKILL) at points read from the indexer's own log: across an initial sync (bulk
//! batches made durable by a flush, and blocks written through the write-ahead log), while it
//! follows the tip, and in the middle of a reorg's rollback. Every restart resumes from what the
//! killed run made durable, and the final index equals an uninterrupted run's: the same digest
//! over every table's rows, undo data included.

use std::path::Path;
use std::process::Command;

use bitcoincore_rpc::RpcApi;
use chaintrail_tests::TestEnv;

use crate::support::{
    assert_same_digest, figure, full_form, generated, index_once, indexer, kill_after, kill_after_hook, tip, Payer,
};

/// Restarts `run()` until a run finishes by itself, killing each after its `every`-th `event`.
/// Checks what each kill leaves (`durable`: at least the height logged; `rolled back`: below
/// it) and that each restart goes on from there. Returns how many runs were killed.
fn kill_until_done(db: &Path, event: &str, every: usize, mut run: impl FnMut() -> Command) -> usize {
    let mut landed = 0;
    loop {
        let before = tip(db);
        let killed = kill_after(run(), event, every);
        let Some(height) = killed.height else { return landed };
        let after = tip(db).expect("a killed run leaves a readable tip");
        match event {
            "durable" => {
                assert!(after >= height, "logged durable height {height}, but {after} after SIGKILL:\n{}", killed.log);
                assert!(before.is_none_or(|b| height > b), "the run did not go on past {before:?}:\n{}", killed.log);
            }
            _ => {
                assert!(after < height, "rolled back {height}, but the tip is {after} after SIGKILL:\n{}", killed.log);
                assert!(before.is_some_and(|b| height <= b), "rolled back {height} above the tip {before:?}");
            }
        }
        landed += 1;
    }
}

#[test]
fn sigkills_across_an_initial_sync_resume_and_equal_an_uninterrupted_run() {
    let env = TestEnv::new().expect("node starts");
    let txs = if full_form() { 6_000 } else { 2_500 };
    generated(&env, 13, txs);
    let reference = tempfile::tempdir().expect("tempdir");
    index_once(&env, reference.path(), &[]);

    // Small batches make many commit points. Bulk mode (no write-ahead log) is made durable by
    // its flushes, here after every batch; tip mode writes each block through the log.
    let bulk = ["--bulk-threshold", "1", "--flush-secs", "0"];
    let logged = ["--bulk-threshold", "100000", "--flush-secs", "60"];
    let (bulk_every, logged_every) = if full_form() { (1, 4) } else { (2, 15) };
    let mut kills = Vec::new();
    for (settings, every) in [(bulk, bulk_every), (logged, logged_every)] {
        let db = tempfile::tempdir().expect("tempdir");
        let run = || {
            let mut cmd = indexer(&env, db.path());
            cmd.args(["--once", "--batch-txs", "100", "--fetch-workers", "2"]).args(settings);
            cmd
        };
        let landed = kill_until_done(db.path(), "durable", every, run);
        assert!(landed >= 6, "{settings:?}: only {landed} kills landed mid-sync");
        kills.push(landed);
        assert_same_digest(db.path(), reference.path());
    }
    figure("kills during initial sync (bulk, logged)", format!("{}, {}", kills[0], kills[1]));
}

#[test]
fn sigkills_while_following_the_tip_and_mid_rollback_resume_and_equal_an_uninterrupted_run() {
    let env = TestEnv::new().expect("node starts");
    let mut payer = Payer::new(&env, 31);
    let db = tempfile::tempdir().expect("tempdir");
    index_once(&env, db.path(), &[]);

    // Following: each run reaches the tip and says so; then the node gets a burst of blocks with
    // a payment in each, and the run is killed after the second of them is written.
    let bursts = if full_form() { 12 } else { 4 };
    for _ in 0..bursts {
        let before = tip(db.path()).expect("indexed");
        let mut cmd = indexer(&env, db.path());
        cmd.args(["--poll-ms", "20"]);
        let mut mined = false;
        let killed = kill_after_hook(cmd, "durable", 2, |line| {
            if !mined && line.contains("at the node's tip; following") {
                payer.blocks(&env, 5);
                mined = true;
            }
        });
        assert!(killed.height.is_some(), "a following indexer runs until killed:\n{}", killed.log);
        let after = tip(db.path()).expect("indexed");
        assert!(after >= before + 2 && after <= before + 5, "tip {before} then {after}:\n{}", killed.log);
    }

    // Mid-rollback: the indexed branch of `depth` blocks (a payment in each) is replaced by a
    // longer one; each run is killed after it has rolled back `every` blocks.
    let (depth, every) = if full_form() { (100, 5) } else { (20, 4) };
    payer.blocks(&env, depth);
    index_once(&env, db.path(), &[]);
    let height = env.height().expect("height");
    let first_replaced = env.rpc().get_block_hash(height - depth as u64 + 1).expect("hash");
    env.rpc().invalidate_block(&first_replaced).expect("invalidate");
    env.mine_to_new(depth as u64 + 1).expect("mine");
    let rollback = kill_until_done(db.path(), "rolled back", every, || {
        let mut cmd = indexer(&env, db.path());
        cmd.arg("--once");
        cmd
    });
    assert_eq!(rollback, depth / every, "kills mid-rollback");
    index_once(&env, db.path(), &[]);
    let reference = tempfile::tempdir().expect("tempdir");
    index_once(&env, reference.path(), &[]);
    assert_same_digest(db.path(), reference.path());
    figure("kills while following the tip", bursts);
    figure(&format!("kills in a rollback of {depth} blocks"), rollback);
}
