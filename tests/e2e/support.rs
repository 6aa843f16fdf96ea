//! Shared helpers of the end-to-end tests: the built binaries, running the indexer against a test
//! node, and reading a database back for comparison.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use bitcoin::{Amount, OutPoint, ScriptBuf, TxOut};
use bitcoincore_rpc::RpcApi;
use chaintrail_tests::wallet::{unsigned_tx, OwnedScript, ScriptKind, Spent, Wallet};
use chaintrail_tests::TestEnv;
use indexer::schema::{Table, Undo, TABLES};
use indexer::store::Store;

/// A binary built from this workspace (`cargo build --workspace --bins` builds them all).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    let dir = exe.parent().and_then(Path::parent).expect("test binaries live in target/<profile>/deps");
    let path = dir.join(name);
    assert!(path.exists(), "{} is not built; run `cargo build --workspace --bins` first", path.display());
    path
}

/// `indexer` pointed at the test node and `db`, with cookie auth.
pub fn indexer(env: &TestEnv, db: &Path) -> Command {
    indexer_on(env, db, "regtest")
}

/// `indexer` for `network`, pointed at the test node and `db`, with cookie auth.
pub fn indexer_on(env: &TestEnv, db: &Path, network: &str) -> Command {
    let mut cmd = Command::new(bin("indexer"));
    cmd.args(["--network", network, "--rpc-url", &env.rpc_url(), "--progress", "none"])
        .arg("--rpc-cookie")
        .arg(env.cookie_path())
        .arg("--db")
        .arg(db)
        .env("RUST_LOG", "info");
    cmd
}

/// Runs `indexer --once` and insists it succeeds.
pub fn index_once(env: &TestEnv, db: &Path, extra: &[&str]) -> Output {
    let out = indexer(env, db).arg("--once").args(extra).output().expect("indexer runs");
    assert!(out.status.success(), "indexer failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// Runs a command expected to fail; returns its exit code and standard error.
pub fn failing(mut cmd: Command) -> (i32, String) {
    let out = cmd.output().expect("command runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "expected failure, got success; stderr: {stderr}");
    let errors = stderr.lines().filter(|l| l.starts_with("error:")).count();
    assert_eq!(errors, 1, "expected exactly one `error:` line: {stderr}");
    (out.status.code().unwrap_or(-1), stderr)
}

/// The indexed tip height, read as a follower; `None` while there is no database or block yet.
pub fn tip(db: &Path) -> Option<u32> {
    let store = Store::open_follower(db, 1 << 20).ok()?;
    store.meta().ok().flatten().and_then(|m| m.tip).map(|t| t.0)
}

/// Polls until `done` holds, failing if the indexer exits first. There is no deadline: the test
/// moves on when the indexer has made the progress it waits for, however busy the machine is.
pub fn wait_while_running(child: &mut Child, what: &str, mut done: impl FnMut() -> bool) {
    while !done() {
        if let Some(status) = child.try_wait().expect("poll the indexer") {
            panic!("the indexer exited ({status}) while the test waited for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the running indexer has indexed `height` (as seen by a follower).
pub fn wait_for_tip(child: &mut Child, db: &Path, height: u32) {
    wait_while_running(child, &format!("the indexed tip to reach {height}"), || tip(db) == Some(height));
}

/// Starts the indexer and SIGKILLs it right after it has logged its `k`-th durable point of this
/// run (a flushed bulk batch, or a block written through the log). Returns the height of that
/// point, or `None` if the indexer finished first.
pub fn kill_after_durable(mut cmd: Command, k: usize) -> Option<u32> {
    let mut child = cmd
        .env("RUST_LOG", "info,indexer=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("indexer starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut seen = 0;
    let mut reported = None;
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("read the indexer's log");
        if let Some(height) = durable_height(&line) {
            seen += 1;
            if seen == k {
                reported = Some(height);
                child.kill().expect("SIGKILL");
                break;
            }
        }
    }
    child.wait().expect("reaped");
    reported
}

/// The height of a `durable` log line.
fn durable_height(line: &str) -> Option<u32> {
    let rest = line.split_once(" durable height=")?.1;
    rest.split_whitespace().next()?.parse().ok()
}

pub fn open(db: &Path) -> Store {
    Store::open_follower(db, 8 << 20).expect("the database opens")
}

/// Every row of every table but `undo`: what any query can see.
pub fn dump(db: &Path) -> Vec<(&'static str, Vec<indexer::store::Row>)> {
    let store = open(db);
    TABLES.iter().filter(|t| **t != Undo::NAME).map(|t| (*t, store.rows(t).expect("scan"))).collect()
}

/// Asserts two databases hold exactly the same rows, naming the first difference.
pub fn assert_same_index(a: &Path, b: &Path) {
    for ((cf, rows_a), (_, rows_b)) in dump(a).into_iter().zip(dump(b)) {
        assert_eq!(rows_a.len(), rows_b.len(), "column family {cf}: {} rows vs {}", rows_a.len(), rows_b.len());
        for (ra, rb) in rows_a.iter().zip(&rows_b) {
            assert_eq!(ra, rb, "column family {cf}: first differing row");
        }
    }
}

/// A coin the test controls: a mature coinbase output paid to a wallet script.
pub struct Coin {
    pub outpoint: OutPoint,
    pub value: Amount,
}

pub fn mature_coin(env: &TestEnv, wallet: &mut Wallet) -> (OwnedScript, Coin) {
    let script = wallet.new_script(ScriptKind::P2wpkh);
    let address = script.address(bitcoin::Network::Regtest).expect("p2wpkh has an address");
    let hashes = env.mine(1, &address).expect("mine");
    env.mine_to_new(100).expect("mine");
    let block = env.rpc().get_block(&hashes[0]).expect("block");
    let coinbase = &block.txdata[0];
    let vout = coinbase.output.iter().position(|o| o.script_pubkey == *script.script_pubkey()).expect("paid") as u32;
    let coin = Coin {
        outpoint: OutPoint { txid: coinbase.compute_txid(), vout },
        value: coinbase.output[vout as usize].value,
    };
    (script, coin)
}

/// Spends `coins` (each with the script it pays) into one output to `to`, less a 1,000-sat fee.
pub fn spend(wallet: &Wallet, coins: &[(&OwnedScript, &Coin)], to: &ScriptBuf) -> bitcoin::Transaction {
    let total: Amount = coins.iter().map(|(_, c)| c.value).sum();
    let out = TxOut { value: total - Amount::from_sat(1_000), script_pubkey: to.clone() };
    let outpoints: Vec<OutPoint> = coins.iter().map(|(_, c)| c.outpoint).collect();
    let mut tx = unsigned_tx(&outpoints, vec![out]);
    let spent: Vec<Spent<'_>> = coins.iter().map(|(s, c)| Spent { script: s, value: c.value }).collect();
    wallet.sign(&mut tx, &spent).expect("sign");
    tx
}

/// Pays one coin to `to`, less a 1,000-sat fee.
pub fn pay(wallet: &Wallet, from: &OwnedScript, coin: &Coin, to: &ScriptBuf) -> bitcoin::Transaction {
    spend(wallet, &[(from, coin)], to)
}

/// Spawns `query … serve …` (`cmd`; standard output dropped, standard error piped here) and waits
/// for its start line, which names the address it listens on: the child, that line, and the rest
/// of its log to read on.
pub fn serving(mut cmd: Command) -> (Child, String, std::io::Lines<BufReader<std::process::ChildStderr>>) {
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("query serve starts");
    let mut lines = BufReader::new(child.stderr.take().expect("piped")).lines();
    let start = loop {
        match lines.next() {
            Some(Ok(line)) if line.starts_with("serving ") => break line,
            Some(Ok(_)) => continue,
            _ => panic!("query serve exited before serving: {:?}", child.wait()),
        }
    };
    (child, start, lines)
}
