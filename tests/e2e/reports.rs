//! End-to-end test of case reports on the generated theft case against a real node: `query report`
//! writes `report.json`, whose hops are the trace's edges and destinations as the node has them
//! (value, script, block hash, the input that spent each) and whose digest is recomputed here
//! independently (and by the documented Python); and `report.html`, which a real headless
//! browser (Debian's `chromium`) renders with the flow drawn, one node per tx, labels shown.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use bitcoin::hashes::{sha256, Hash};
use bitcoincore_rpc::RpcApi;
use chaintrail_tests::{generate, GenParams, TestEnv};
use serde_json::{json, Value};

use crate::support::{bin, index_once};

/// The label the test tags the thief's address with.
const SUSPECT: &str = "Suspect wallet";

fn query(db: &Path, tags: &Path, args: &[&str]) -> Value {
    let out =
        Command::new(bin("query")).arg("--db").arg(db).arg("--tags").arg(tags).args(args).output().expect("query runs");
    assert!(out.status.success(), "query {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("query {args:?} printed no JSON ({e})"))
}

/// Blocks as the node gives them (`getblock <hash> 2`), each fetched once.
struct Node<'a> {
    env: &'a TestEnv,
    blocks: HashMap<String, Value>,
}

impl Node<'_> {
    /// The tx `txid` of the block at `height`, insisting that the block has hash `hash`.
    fn tx(&mut self, height: u64, hash: &str, txid: &str) -> Value {
        let at = self.env.rpc().get_block_hash(height).expect("block hash").to_string();
        assert_eq!(at, hash, "the block at height {height}");
        let env = self.env;
        let block = self
            .blocks
            .entry(hash.to_string())
            .or_insert_with(|| env.rpc().call("getblock", &[json!(hash), json!(2)]).expect("getblock"));
        let found = block["tx"].as_array().expect("txs").iter().find(|t| t["txid"] == txid);
        found.unwrap_or_else(|| panic!("{txid} is not in block {hash}")).clone()
    }
}

fn sats(btc: &Value) -> u64 {
    (btc.as_f64().expect("an amount") * 1e8).round() as u64
}

/// Each hop's output as the node has it: in the block of that hash at that height, with that
/// value, script and address, spent by that input of a tx in the block named.
fn assert_hops_equal_the_node(env: &TestEnv, hops: &[Value]) {
    let mut node = Node { env, blocks: HashMap::new() };
    for hop in hops {
        let txid = hop["txid"].as_str().expect("txid");
        let tx = node.tx(hop["block"]["height"].as_u64().unwrap(), hop["block"]["hash"].as_str().unwrap(), txid);
        let Some(vout) = hop["vout"].as_u64() else { continue };
        let output = &tx["vout"][vout as usize];
        assert_eq!(hop["value_sat"].as_u64(), Some(sats(&output["value"])), "value of {txid}:{vout}");
        assert_eq!(hop["script_hex"], output["scriptPubKey"]["hex"], "script of {txid}:{vout}");
        assert_eq!(hop["address"], output["scriptPubKey"]["address"], "address of {txid}:{vout}");
        if let Some(spend) = hop["spent_by"].as_object() {
            let by = spend["txid"].as_str().unwrap();
            let spender =
                node.tx(spend["block"]["height"].as_u64().unwrap(), spend["block"]["hash"].as_str().unwrap(), by);
            let input = &spender["vin"][spend["vin"].as_u64().unwrap() as usize];
            assert_eq!(
                (input["txid"].as_str(), input["vout"].as_u64()),
                (Some(txid), Some(vout)),
                "spender of {txid}:{vout}"
            );
        }
    }
}

/// What a hop says: txid, vout, value, address, and the txid and input (when known) that spent it.
type Row = (String, u64, u64, Value, Option<String>, Option<u64>);

/// The edges and destinations of a forward trace, as hops: each must be among the case file's.
fn expected_hops(trace: &Value) -> Vec<Row> {
    let s = |v: &Value| v.as_str().expect("a string").to_string();
    let n = |v: &Value| v.as_u64().expect("a number");
    let mut hops: Vec<Row> = trace["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                s(&e["from_txid"]),
                n(&e["vout"]),
                n(&e["value_sat"]),
                e["address"].clone(),
                Some(s(&e["to_txid"])),
                Some(n(&e["vin"])),
            )
        })
        .collect();
    for d in trace["destinations"].as_array().unwrap() {
        let spender = d["spent_by"].as_str().map(String::from);
        hops.push((s(&d["txid"]), n(&d["vout"]), n(&d["value_sat"]), d["address"].clone(), spender, None));
    }
    hops
}

fn hop_row(hop: &Value) -> Row {
    let by = &hop["spent_by"];
    (
        hop["txid"].as_str().unwrap().into(),
        hop["vout"].as_u64().unwrap(),
        hop["value_sat"].as_u64().unwrap(),
        hop["address"].clone(),
        by["txid"].as_str().map(String::from),
        by["vin"].as_u64(),
    )
}

/// Runs Debian's chromium headless on `args` to the end; its standard output.
fn chromium(profile: &Path, args: &[String]) -> String {
    let program = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let output = Command::new(&program)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stderr(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program} does not run ({e}): apt-get install chromium (tests/setup.sh does)"));
    assert!(output.status.success(), "{program} {args:?} failed: {}", output.status);
    String::from_utf8(output.stdout).expect("chromium writes UTF-8")
}

/// The titles of the nodes of the SVG pictures in a rendered page: Graphviz names each node
/// `<g class="node"><title>ID</title>`, and a tx node's id is its txid.
fn node_titles(dom: &str) -> Vec<String> {
    dom.split("class=\"node\"")
        .skip(1)
        .filter_map(|piece| {
            let start = piece.find("<title>")? + "<title>".len();
            let end = piece[start..].find("</title>")? + start;
            Some(piece[start..end].to_string())
        })
        .collect()
}

/// Width and height of a PNG, from its header.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (word(16), word(20))
}

#[test]
fn a_report_of_the_stolen_funds_equals_the_node_and_renders_in_a_browser() {
    let env = TestEnv::new().expect("node starts");
    let truth =
        generate(env.rpc(), &GenParams { seed: 7, txs_per_block: 200, ..GenParams::default() }).expect("generate");
    let work = tempfile::tempdir().expect("tempdir");
    let (db, tags) = (work.path().join("db"), work.path().join("tags"));
    index_once(&env, &db, &[]);
    let case = &truth.case;
    let csv = work.path().join("suspects.csv");
    std::fs::write(&csv, format!("address,label,category,source\n{},{SUSPECT},theft,e2e\n", case.thief_address))
        .unwrap();
    query(&db, &tags, &["tags", "import", csv.to_str().unwrap()]);

    let dir: PathBuf = work.path().join("case");
    let out = dir.to_str().unwrap();
    let theft = case.theft_txid.as_str();
    let written =
        query(&db, &tags, &["report", "--out", out, "trace", "forward", theft, "--hops", "20", "--min-value", "10btc"]);
    assert_eq!(written["report"], format!("{out}/report.json"));
    let text = std::fs::read_to_string(dir.join("report.json")).expect("report.json");
    let report: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(written["digest"], report["digest"]);

    // The command recorded reproduces the answer recorded.
    let command: Vec<&str> = report["command"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
    assert_eq!(command[..3], ["trace", "forward", theft]);
    let trace = query(&db, &tags, &command);
    assert_eq!(report["answer"], trace);
    assert!(trace["edges"].as_array().unwrap().len() >= 10, "the peel chain is traced");

    // The hops are every output the trace read, in chain order: its edges and destinations
    // among them, each as the node has it.
    let hops = report["hops"].as_array().unwrap();
    let rows: Vec<Row> = hops.iter().map(hop_row).collect();
    for mut want in expected_hops(&trace) {
        let got =
            rows.iter().find(|r| (&r.0, r.1) == (&want.0, want.1)).expect("an edge or destination among the hops");
        // A destination's input is not in the trace: the node says which it is, below.
        want.5 = want.5.or(got.5);
        assert_eq!(got, &want);
    }
    assert_hops_equal_the_node(&env, hops);
    let tip = env.rpc().get_block_count().unwrap();
    assert_eq!(report["tip"]["height"].as_u64(), Some(tip));
    assert_eq!(report["tip"]["hash"], env.rpc().get_block_hash(tip).unwrap().to_string());
    assert_eq!(report["network"], "regtest");
    let suspect = report["tags_used"].as_array().unwrap().iter().find(|t| t["address"] == case.thief_address.as_str());
    assert_eq!(suspect.expect("the thief's tag")["tags"][0]["label"], SUSPECT);

    // The digest, recomputed: SHA-256 of the compact JSON, keys sorted, without `digest`.
    let mut rest = report.clone();
    rest.as_object_mut().unwrap().remove("digest");
    let digest = sha256::Hash::hash(&serde_json::to_vec(&rest).unwrap()).to_string();
    assert_eq!(report["digest"].as_str(), Some(digest.as_str()));
    let python = Command::new("sh")
        .arg("-c")
        .arg(query::report::html::RECOMPUTE)
        .current_dir(&dir)
        .output()
        .expect("python3 runs");
    assert!(python.status.success(), "{}", String::from_utf8_lossy(&python.stderr));
    assert_eq!(String::from_utf8_lossy(&python.stdout).trim(), digest, "the documented Python");

    // The page in a real browser: the picture, one node per tx, their labels and the tag.
    let page = format!("file://{}", dir.join("report.html").display());
    let profile = work.path().join("chromium");
    let dom = chromium(&profile, &["--dump-dom".into(), page.clone()]);
    assert!(dom.contains("<h1>Where did the money go?</h1>"), "{dom}");
    assert!(dom.contains("<svg") && !dom.contains("id=\"no-picture\""));
    let txids: BTreeSet<String> =
        trace["txs"].as_array().unwrap().iter().map(|t| t["txid"].as_str().unwrap().to_string()).collect();
    let titles = node_titles(&dom);
    let drawn: Vec<&String> =
        titles.iter().filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())).collect();
    assert_eq!(drawn.len(), txids.len(), "one node per tx");
    assert_eq!(drawn.into_iter().cloned().collect::<BTreeSet<_>>(), txids);
    for txid in &txids {
        assert!(dom.contains(&format!(">{}…</text>", &txid[..12])), "the label of {txid}");
    }
    assert!(dom.contains(&format!(">{SUSPECT}</text>")), "the tag's label in the picture");
    assert!(dom.contains("<span class=\"tag\""), "tags in the tables");
    assert!(dom.contains(&format!("<p class=\"digest\"><code>{digest}</code></p>")));
    let shot = work.path().join("report.png");
    chromium(&profile, &[format!("--screenshot={}", shot.display()), "--window-size=1400,1000".into(), page]);
    let png = std::fs::read(&shot).expect("a screenshot");
    assert_eq!(png_size(&png), (1400, 1000));
    assert!(png.len() > 50_000, "the screenshot shows the page ({} bytes)", png.len());

    // The case file holds against the node: `query verify` checks every hop.
    let verified = verify(&env, &dir);
    assert_eq!(verified["ok"], true);
    assert_eq!(verified["hops_checked"].as_u64(), Some(hops.len() as u64));
    assert_eq!(verified["digest"], report["digest"]);

    // A taint report of the same funds: its hops are the tainted outputs, and it verifies too.
    let taint_dir = work.path().join("taint");
    let out = taint_dir.to_str().unwrap();
    query(&db, &tags, &["report", "--out", out, "taint", theft, "--model", "fifo", "--hops", "20"]);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(taint_dir.join("report.json")).unwrap()).expect("JSON");
    let outputs = report["answer"]["outputs"].as_array().unwrap();
    let hops = report["hops"].as_array().unwrap();
    for o in outputs {
        assert!(hops.iter().any(|h| (&h["txid"], &h["vout"]) == (&o["txid"], &o["vout"])), "{o}");
    }
    let command: Vec<&str> = report["command"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(command[..4], ["taint", theft, "--model", "fifo"]);
    assert_hops_equal_the_node(&env, report["hops"].as_array().unwrap());
    let page = std::fs::read_to_string(taint_dir.join("report.html")).unwrap();
    assert!(page.contains("Tainted outputs, most taint first"), "the taint table");
    let checked = verify(&env, &taint_dir);
    assert_eq!(checked["hops_checked"].as_u64(), Some(hops.len() as u64));
    assert_eq!(checked["answer_recomputed"], true);
}

/// `query verify` on a case file against the test node; its summary.
fn verify(env: &TestEnv, dir: &Path) -> Value {
    let out = Command::new(bin("query"))
        .arg("verify")
        .arg(dir)
        .args(["--rpc-url", &env.rpc_url()])
        .arg("--rpc-cookie")
        .arg(env.cookie_path())
        .output()
        .expect("query verify runs");
    assert!(out.status.success(), "verify failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("a JSON summary")
}
