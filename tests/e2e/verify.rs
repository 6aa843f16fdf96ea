//! End-to-end tests of `query verify` against a real regtest node: the case report `query report`
//! writes of a trace holds; after a reorg it fails at the first hop resting on the block
//! that went away; one built from the re-indexed chain holds again; a report edited by hand fails
//! on its digest; a node of another network, and a node that is down, are refused on one line.

use std::path::Path;
use std::process::{Command, Output};

use bitcoin::{Amount, BlockHash, OutPoint, Transaction, TxOut};
use bitcoincore_rpc::RpcApi;
use chaintrail_tests::wallet::{unsigned_tx, OwnedScript, ScriptKind, Spent, Wallet};
use chaintrail_tests::TestEnv;
use query::report::CaseReport;
use serde_json::Value;

use crate::support::{bin, failing, index_once, mature_coin, pay, Coin};

/// `query` with none of the settings the environment might carry.
fn query() -> Command {
    let mut cmd = Command::new(bin("query"));
    for var in ["CONFIG", "DB", "NETWORK", "TAGS", "RPC_URL", "RPC_COOKIE", "RPC_USER", "RPC_PASSWORD"] {
        cmd.env_remove(format!("CHAINTRAIL_{var}"));
    }
    cmd
}

/// `query verify REPORT` pointed at the test node by flags; no database or network given.
fn verify(env: &TestEnv, report: &Path) -> Command {
    let mut cmd = query();
    cmd.arg("verify").arg(report).args(["--rpc-url", &env.rpc_url()]).arg("--rpc-cookie").arg(env.cookie_path());
    cmd
}

fn succeeds(mut cmd: Command) -> Output {
    let out = cmd.output().expect("query runs");
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

/// `query report --out <out> trace forward <txid> --hops <hops>` on the index at `db`: the case
/// file it writes.
fn report(db: &Path, txid: &str, hops: u32, out: &Path) -> CaseReport {
    succeeds({
        let mut cmd = query();
        cmd.arg("--db").arg(db).arg("report").arg("--out").arg(out);
        cmd.args(["trace", "forward", txid, "--hops", &hops.to_string()]);
        cmd
    });
    let text = std::fs::read_to_string(out.join("report.json")).expect("report.json");
    serde_json::from_str(&text).expect("a case report")
}

/// Writes `dir/report.json`.
fn write(dir: &Path, report: &CaseReport) {
    std::fs::write(dir.join("report.json"), serde_json::to_string_pretty(report).unwrap()).unwrap();
}

/// Output `vout` of `tx`, as a coin to spend.
fn coin(tx: &Transaction, vout: u32) -> Coin {
    Coin { outpoint: OutPoint { txid: tx.compute_txid(), vout }, value: tx.output[vout as usize].value }
}

/// A chain of spends, one block each: `a` pays two outputs (the first spent by `b`), `b` pays
/// `c`, `c` pays `d`. Returns the four txs and their blocks.
fn chain_of_spends(env: &TestEnv) -> (Vec<Transaction>, Vec<BlockHash>) {
    let (txs, blocks, _, _) = keyed_chain_of_spends(env);
    (txs, blocks)
}

/// [`chain_of_spends`], with the wallet and the scripts: `d:0` pays the fourth, `a:1` the fifth.
fn keyed_chain_of_spends(env: &TestEnv) -> (Vec<Transaction>, Vec<BlockHash>, Wallet, Vec<OwnedScript>) {
    let mut wallet = Wallet::new(7, bitcoin::Network::Regtest);
    let (owner, mined) = mature_coin(env, &mut wallet);
    let scripts: Vec<OwnedScript> = (0..5).map(|_| wallet.new_script(ScriptKind::P2wpkh)).collect();
    let outputs = vec![
        TxOut { value: Amount::from_sat(30_000_000), script_pubkey: scripts[0].script_pubkey().clone() },
        TxOut { value: mined.value - Amount::from_sat(30_001_000), script_pubkey: scripts[4].script_pubkey().clone() },
    ];
    let mut a = unsigned_tx(&[mined.outpoint], outputs);
    wallet.sign(&mut a, &[Spent { script: &owner, value: mined.value }]).expect("sign");
    let mut txs = vec![a];
    for i in 0..3 {
        let prev = txs.last().expect("a first tx");
        txs.push(pay(&wallet, &scripts[i], &coin(prev, 0), scripts[i + 1].script_pubkey()));
    }
    let blocks = txs.iter().map(|tx| env.generate_block(std::slice::from_ref(tx)).expect("block")).collect();
    (txs, blocks, wallet, scripts)
}

/// A node with the chain of spends, indexed, and the sealed report of a trace from `a` in
/// `dir/report.json`.
struct Case {
    env: TestEnv,
    txs: Vec<Transaction>,
    blocks: Vec<BlockHash>,
    db: tempfile::TempDir,
    dir: tempfile::TempDir,
    report: CaseReport,
}

impl Case {
    fn new() -> Case {
        let env = TestEnv::new().expect("node starts");
        let (txs, blocks) = chain_of_spends(&env);
        let db = tempfile::tempdir().expect("tempdir");
        let dir = tempfile::tempdir().expect("tempdir");
        let report = Case::build(&env, db.path(), &txs[0], dir.path());
        Case { env, txs, blocks, db, dir, report }
    }

    /// Indexes the node's chain and writes the report of the trace from `root` into `out`.
    fn build(env: &TestEnv, db: &Path, root: &Transaction, out: &Path) -> CaseReport {
        index_once(env, db, &[]);
        report(db, &root.compute_txid().to_string(), 3, out)
    }

    fn txid(&self, i: usize) -> String {
        self.txs[i].compute_txid().to_string()
    }

    fn file(&self) -> std::path::PathBuf {
        self.dir.path().join("report.json")
    }

    /// Replaces the block of tx `i` and those after it by empty blocks, one more than went away,
    /// so that the txs wait in the mempool and the new branch is the best chain. The old branch
    /// is reconsidered: a valid but shorter fork, as after a reorg on the network.
    fn reorg_away(&self, i: usize) -> Vec<BlockHash> {
        let rpc = self.env.rpc();
        rpc.invalidate_block(&self.blocks[i]).expect("invalidateblock");
        let count = self.blocks.len() - i + 1;
        let replacement: Vec<BlockHash> = (0..count).map(|_| self.env.generate_block(&[]).expect("block")).collect();
        rpc.reconsider_block(&self.blocks[i]).expect("reconsiderblock");
        assert_eq!(self.env.tip().unwrap(), *replacement.last().unwrap());
        replacement
    }
}

#[test]
fn a_report_holds_until_a_reorg_takes_its_block_and_holds_again_once_rebuilt() {
    let case = Case::new();
    let (env, before) = (&case.env, &case.report);
    // In chain order: the coin a spends (read for a's fee), a:0 -> b, a:1 (unspent), b:0 -> c,
    // c:0 -> d and d:0 (unspent).
    let hops: Vec<(String, Option<String>)> =
        before.hops.iter().map(|h| (h.txid.clone(), h.spent_by.as_ref().map(|s| s.txid.clone()))).collect();
    let t = |i| case.txid(i);
    assert_eq!(hops[0].1, Some(t(0)));
    assert_eq!(hops[1..], [(t(0), Some(t(1))), (t(0), None), (t(1), Some(t(2))), (t(2), Some(t(3))), (t(3), None)]);
    let summary = json(&succeeds(verify(env, case.dir.path())));
    assert_eq!((summary["ok"].as_bool(), summary["answer_recomputed"].as_bool()), (Some(true), Some(true)));
    assert_eq!((summary["hops_checked"].as_u64(), summary["unspent_checked"].as_u64()), (Some(6), Some(2)));
    assert_eq!(summary["digest"], before.digest.as_str());
    assert_eq!(summary["report"], case.file().to_str().unwrap());
    assert_eq!(
        (summary["tip"]["height"].as_u64(), summary["tip"]["hash"].as_str()),
        (Some(env.height().unwrap()), Some(env.tip().unwrap().to_string().as_str()))
    );

    // The block of the third hop's tx (c) goes: verify fails at exactly that hop, naming c.
    let replacement = case.reorg_away(2);
    let (code, stderr) = failing(verify(env, case.dir.path()));
    assert_eq!(code, 1);
    assert_eq!(
        stderr.trim_end(),
        format!(
            "error: hop 5 of 6 (txid {}): block {} at height {} is no longer in the best chain (reorged away; the \
             block there is now {})",
            t(2),
            case.blocks[2],
            before.hops[4].block.height,
            replacement[0]
        )
    );

    // Re-indexed, the trace ends at b, whose output is unspent on the new chain: a report made
    // now holds. The node is named by the environment this time, the report by its file.
    let again = tempfile::tempdir().expect("tempdir");
    let after = Case::build(env, case.db.path(), &case.txs[0], again.path());
    assert_eq!(after.hops.len(), 4, "a's coin, a:0 -> b, a:1 and b:0");
    let mut by_env = query();
    by_env.arg("verify").arg(again.path().join("report.json")).env("CHAINTRAIL_RPC_URL", env.rpc_url());
    by_env.env("CHAINTRAIL_RPC_COOKIE", env.cookie_path());
    let summary = json(&succeeds(by_env));
    assert_eq!((summary["ok"].as_bool(), summary["hops_checked"].as_u64()), (Some(true), Some(4)));
}

#[test]
fn an_edited_report_another_network_and_a_node_that_is_down_fail_on_one_line() {
    let mut case = Case::new();
    let report = case.report.clone();

    // One value changed by hand in the file: the digest no longer holds. The node is named by the
    // config file's [rpc] table this time.
    let text = std::fs::read_to_string(case.file()).unwrap();
    let value = report.hops[0].value_sat.unwrap();
    let stated = format!("\"value_sat\": {value}");
    assert!(text.contains(&stated), "{text}");
    std::fs::write(case.file(), text.replacen(&stated, &format!("\"value_sat\": {}", value + 1), 1)).unwrap();
    let mut changed = report.clone();
    changed.hops[0].value_sat = Some(value + 1);
    let config = case.dir.path().join("chaintrail.toml");
    let rpc = format!("[rpc]\nurl = \"{}\"\ncookie = {:?}\n", case.env.rpc_url(), case.env.cookie_path());
    std::fs::write(&config, rpc).unwrap();
    let mut by_file = query();
    by_file.arg("--config").arg(&config).arg("verify").arg(case.dir.path());
    let (code, stderr) = failing(by_file);
    assert_eq!(code, 1);
    assert_eq!(
        stderr.trim_end(),
        format!(
            "error: digest mismatch: the report was changed after it was written (expected {}, computed {})",
            report.digest,
            changed.compute_digest()
        )
    );

    // A report of another network, sealed as such, against this regtest node.
    write(case.dir.path(), &CaseReport { network: "main".into(), ..report.clone() }.seal());
    let (code, stderr) = failing(verify(&case.env, case.dir.path()));
    assert_eq!(code, 1);
    assert_eq!(
        stderr.trim_end(),
        "error: the node is on 'regtest', but the report is of 'main': verify it against a main node \
         (--rpc-url, --rpc-cookie)"
    );

    // The node is down (its cookie kept aside: bitcoind deletes it on shutdown).
    write(case.dir.path(), &report);
    let cookie = case.dir.path().join("cookie");
    std::fs::copy(case.env.cookie_path(), &cookie).unwrap();
    case.env.stop().expect("node stops");
    let mut down = query();
    down.arg("verify").arg(case.dir.path()).args(["--rpc-url", &case.env.rpc_url()]).arg("--rpc-cookie").arg(&cookie);
    let (code, stderr) = failing(down);
    assert_eq!(code, 1);
    let line = stderr.trim_end();
    assert!(line.starts_with(&format!("error: cannot reach bitcoind at {}: ", case.env.rpc_url())), "{line}");
    assert_eq!(line.lines().count(), 1, "{line}");
}

#[test]
fn forged_answers_dropped_branches_and_foreign_signatures_fail_naming_what_differs() {
    let case = Case::new();
    let (env, dir, report) = (&case.env, case.dir.path(), &case.report);
    let refused = |forged: &CaseReport, extra: &[&str]| -> String {
        write(dir, forged);
        let mut cmd = verify(env, dir);
        cmd.args(extra);
        let (code, stderr) = failing(cmd);
        assert_eq!(code, 1, "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        stderr.trim_end().to_string()
    };

    // A destination's address and amount changed, the digest recomputed as the docs show.
    let mut forged = report.clone();
    let destination = &mut forged.answer["destinations"][0];
    let traced = destination["traced_sat"].as_u64().expect("a traced amount");
    destination["traced_sat"] = Value::from(traced * 2);
    destination["address"] = Value::from("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080");
    let line = refused(&forged.seal(), &[]);
    assert!(
        line.starts_with("error: the answer does not follow from the report's outputs: at answer.destinations[0]."),
        "{line}"
    );

    // A branch removed: b's spend of a:0 and everything after it dropped from the hops, and the
    // answer edited to match (a:0 where the money ends, unspent), the digest recomputed. The
    // node has a:0 spent by the report's tip: the hop that hides the branch is named.
    let mut forged = report.clone();
    let a = case.txid(0);
    let cut = forged.hops.iter().position(|h| h.txid == a && h.vout == Some(0)).expect("a:0");
    forged.hops[cut].spent_by = None;
    forged.hops.retain(|h| h.txid == a || h.spent_by.as_ref().is_some_and(|s| s.txid == a));
    let ends = forged.answer["destinations"].as_array_mut().expect("destinations");
    ends.retain(|d| d["txid"] == a.as_str());
    let count = forged.hops.len();
    let line = refused(&forged.seal(), &[]);
    let named = format!(
        "error: hop {} of {count} (txid {a}): recorded unspent, but spent at or before the report's tip",
        cut + 1
    );
    assert!(line.starts_with(&named), "{line}");

    // A taint figure changed: the first holder's haircut taint in the request section doubled.
    let mut forged = report.clone();
    let requests = forged.requests.as_mut().expect("a forward trace has its requests");
    requests.holders[0].tainted_sat.haircut *= 2;
    let line = refused(&forged.seal(), &[]);
    assert!(
        line.starts_with(
            "error: the answer does not follow from the report's outputs: at requests.holders[0].tainted_sat.haircut"
        ),
        "{line}"
    );

    // Signed by one key; a signature made by another key under the first one's name; --signer
    // naming another key; case particulars edited after signing.
    let key = query::report::sign::new_key().unwrap();
    let other = query::report::sign::new_key().unwrap();
    let mut signed = report.clone();
    signed.signature = Some(query::report::sign::sign(&key, &signed.digest));
    write(dir, &signed);
    let public = hex::encode(key.verifying_key().as_bytes());
    let summary = json(&succeeds({
        let mut cmd = verify(env, dir);
        cmd.args(["--signer", &public]);
        cmd
    }));
    assert_eq!(
        (summary["signed_by"].as_str(), summary["signer_expected"].as_bool()),
        (Some(public.as_str()), Some(true))
    );
    let mut foreign = signed.clone();
    let by_other = query::report::sign::sign(&other, &signed.digest);
    foreign.signature.as_mut().unwrap().signature = by_other.signature;
    let line = refused(&foreign, &[]);
    assert_eq!(line, "error: the signature does not hold: the signature does not match the digest: the file was signed by another key or edited after signing");
    let line = refused(&signed, &["--signer", &hex::encode(other.verifying_key().as_bytes())]);
    assert!(
        line.starts_with(&format!(
            "error: the signature does not hold: signed by {public}, not by the expected signer "
        )),
        "{line}"
    );
    let mut unsigned = report.clone();
    unsigned.signature = None;
    let line = refused(&unsigned, &["--signer", &public]);
    assert_eq!(line, "error: the signature does not hold: the file is not signed");
    let mut edited = signed.clone();
    edited.case.analyst = Some("someone else".into());
    let line = refused(&edited, &[]);
    assert!(line.starts_with("error: digest mismatch"), "{line}");
    // Resealed after the edit, the old signature no longer holds.
    let line = refused(&CaseReport { signature: signed.signature.clone(), ..edited.seal() }, &[]);
    assert!(line.contains("the signature does not match the digest"), "{line}");

    // The untouched file still holds.
    write(dir, report);
    assert_eq!(json(&succeeds(verify(env, dir)))["ok"], true);
}

#[test]
fn a_destination_spent_after_the_report_is_listed_as_moved_and_the_report_still_holds() {
    let env = TestEnv::new().expect("node starts");
    let (txs, _, wallet, scripts) = keyed_chain_of_spends(&env);
    let (db, dir) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    index_once(&env, db.path(), &[]);
    let report = report(db.path(), &txs[0].compute_txid().to_string(), 3, dir.path());
    // d:0 is where the trace ends, unspent at the report's tip; it moves on after.
    let d = &txs[3];
    let ends = report.answer["destinations"].as_array().expect("destinations");
    assert!(ends
        .iter()
        .any(|e| e["txid"] == d.compute_txid().to_string().as_str() && e["vout"] == 0 && e["state"] == "unspent"));
    let onward = pay(&wallet, &scripts[3], &coin(d, 0), scripts[4].script_pubkey());
    env.generate_block(std::slice::from_ref(&onward)).expect("block");
    let summary = json(&succeeds(verify(&env, dir.path())));
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["unspent_checked"], 2, "a:1 and d:0");
    assert_eq!(
        summary["moved"],
        serde_json::json!([{
            "output": format!("{}:0", d.compute_txid()),
            "spent_by_txid": onward.compute_txid().to_string(),
            "spent_by_vin": 0,
            "height": report.tip.height + 1,
        }])
    );
    let table = succeeds({
        let mut cmd = verify(&env, dir.path());
        cmd.args(["--format", "table"]);
        cmd
    });
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains(&format!("Moved since     1 of the 2 unspent outputs: {}:0 (spent by", d.compute_txid())),
        "{text}"
    );
}
