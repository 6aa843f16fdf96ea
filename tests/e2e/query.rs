//! End-to-end tests of `query` on generated chains from a real node: lookups, traces and paths
//! compared with the generator's ground truth (a breadth-first search over its own spend
//! records), answers while the indexer follows the tip, and bad input.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::process::{Command, Stdio};

use chaintrail_tests::{generate, GenParams, TestEnv, Truth};
use serde_json::Value;

use crate::support::{bin, failing, index_once, indexer, query_json, wait_for_tip};

/// The truth's spend graph: who spent each output, and what each tx spent.
struct Graph<'a> {
    truth: &'a Truth,
    spent_by: HashMap<(&'a str, u32), (&'a str, u32)>,
    by_txid: HashMap<&'a str, usize>,
}

impl<'a> Graph<'a> {
    fn new(truth: &'a Truth) -> Self {
        let mut spent_by = HashMap::new();
        for tx in &truth.txs {
            for (vin, i) in tx.inputs.iter().enumerate() {
                spent_by.insert((i.txid.as_str(), i.vout), (tx.txid.as_str(), vin as u32));
            }
        }
        let by_txid = truth.txs.iter().enumerate().map(|(i, t)| (t.txid.as_str(), i)).collect();
        Graph { truth, spent_by, by_txid }
    }

    fn children(&self, txid: &str) -> Vec<&'a str> {
        let tx = &self.truth.txs[self.by_txid[txid]];
        (0..tx.outputs.len() as u32).filter_map(|v| self.spent_by.get(&(tx.txid.as_str(), v)).map(|s| s.0)).collect()
    }

    fn parents(&self, txid: &str) -> Vec<&'a str> {
        let tx = &self.truth.txs[self.by_txid[txid]];
        tx.inputs
            .iter()
            .filter_map(|i| self.by_txid.get(i.txid.as_str()).map(|&n| self.truth.txs[n].txid.as_str()))
            .collect()
    }

    /// Every tx within `hops` of `roots` (hop 0), at its smallest hop.
    fn bfs(&self, roots: &[&'a str], hops: u32, forward: bool) -> BTreeMap<String, u32> {
        let mut seen: BTreeMap<String, u32> = BTreeMap::new();
        let mut queue: VecDeque<(&str, u32)> = roots.iter().map(|r| (*r, 0)).collect();
        while let Some((txid, hop)) = queue.pop_front() {
            if seen.contains_key(txid) {
                continue;
            }
            seen.insert(txid.to_string(), hop);
            if hop < hops {
                let next = if forward { self.children(txid) } else { self.parents(txid) };
                queue.extend(next.into_iter().filter(|n| !seen.contains_key(*n)).map(|n| (n, hop + 1)));
            }
        }
        seen
    }

    /// Txs that spend an output paid to `address`.
    fn spenders_of(&self, address: &str) -> Vec<&'a str> {
        let mut out: Vec<&str> = Vec::new();
        for tx in &self.truth.txs {
            for (v, o) in tx.outputs.iter().enumerate() {
                if o.address.as_deref() == Some(address) {
                    if let Some((s, _)) = self.spent_by.get(&(tx.txid.as_str(), v as u32)) {
                        out.push(s);
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Txs that pay `address`.
    fn payers_of(&self, address: &str) -> Vec<&'a str> {
        self.truth
            .txs
            .iter()
            .filter(|t| t.outputs.iter().any(|o| o.address.as_deref() == Some(address)))
            .map(|t| t.txid.as_str())
            .collect()
    }
}

fn trace_hops(v: &Value) -> BTreeMap<String, u32> {
    v["txs"]
        .as_array()
        .expect("txs[]")
        .iter()
        .map(|t| (t["txid"].as_str().unwrap().to_string(), t["hop"].as_u64().unwrap() as u32))
        .collect()
}

#[test]
fn lookups_traces_and_paths_equal_the_generators_ground_truth() {
    let env = TestEnv::builder().txindex(true).build().expect("node starts");
    let truth =
        generate(env.rpc(), &GenParams { seed: 21, target_txs: 3_000, txs_per_block: 200, ..GenParams::default() })
            .expect("generate");
    let db = tempfile::tempdir().expect("tempdir");
    index_once(&env, db.path(), &[]);
    let db = db.path();
    let graph = Graph::new(&truth);
    let case = &truth.case;

    // tx: the theft, with every output's spender.
    let tx = query_json(db, &["tx", &case.theft_txid]);
    let expected = &truth.txs[graph.by_txid[case.theft_txid.as_str()]];
    assert_eq!(tx["txid"], case.theft_txid.as_str());
    assert_eq!(tx["height"], expected.height);
    assert_eq!(tx["inputs"].as_array().unwrap().len(), expected.inputs.len());
    for (o, e) in tx["outputs"].as_array().unwrap().iter().zip(&expected.outputs) {
        assert_eq!(o["value_sat"], e.value_sat);
        assert_eq!(o["address"].as_str(), e.address.as_deref());
        let spender = graph.spent_by.get(&(case.theft_txid.as_str(), o["vout"].as_u64().unwrap() as u32));
        match spender {
            Some((txid, vin)) => {
                assert_eq!(o["spent_by"]["txid"], *txid);
                assert_eq!(o["spent_by"]["vin"], *vin);
            }
            None => assert!(o["spent_by"].is_null()),
        }
    }

    // Consolidation: many inputs, one owner. CoinJoin: several owners, equal outputs.
    let owner_of: HashMap<&str, u32> =
        truth.scripts.iter().filter_map(|s| s.address.as_deref().map(|a| (a, s.owner))).collect();
    let consolidation = query_json(db, &["tx", &case.consolidation_txid]);
    let owners: HashSet<u32> =
        consolidation["inputs"].as_array().unwrap().iter().map(|i| owner_of[i["address"].as_str().unwrap()]).collect();
    assert!(consolidation["inputs"].as_array().unwrap().len() >= 2);
    assert_eq!(owners.len(), 1, "a consolidation's inputs have one owner");
    let coinjoin = query_json(db, &["tx", &case.coinjoin_txid]);
    let owners: HashSet<u32> =
        coinjoin["inputs"].as_array().unwrap().iter().map(|i| owner_of[i["address"].as_str().unwrap()]).collect();
    assert!(owners.len() >= 5, "a CoinJoin has several owners");
    let mut values: HashMap<u64, usize> = HashMap::new();
    for o in coinjoin["outputs"].as_array().unwrap() {
        *values.entry(o["value_sat"].as_u64().unwrap()).or_default() += 1;
    }
    assert!(values.values().any(|n| *n >= 5), "a CoinJoin has equal outputs");

    // Address: balance and UTXOs against the truth and the node.
    for address in [&case.exchange_deposit_address, &case.victim_address, &case.thief_address] {
        let a = query_json(db, &["address", address]);
        let script =
            truth.scripts.iter().find(|s| s.address.as_deref() == Some(address.as_str())).expect("known address");
        let balance = truth.balances.get(&script.script_hex).copied().unwrap_or(0);
        assert_eq!(a["balance_sat"], balance, "balance of {address}");
        let scan = env.scan(&[format!("addr({address})")]).expect("scan");
        assert_eq!(a["utxos"].as_array().unwrap().len(), scan.unspents.len());
        let utxo_sum: u64 = a["utxos"].as_array().unwrap().iter().map(|u| u["value_sat"].as_u64().unwrap()).sum();
        assert_eq!(utxo_sum, scan.total_amount.to_sat());
    }

    // Traces: forward from the theft through the peel chain, backward from the consolidation,
    // forward from an address; each equal to a breadth-first search over the truth.
    let forward = query_json(db, &["trace", "forward", &case.theft_txid, "--hops", "20", "--max-txs", "100000"]);
    assert_eq!(forward["truncated"], false);
    let got = trace_hops(&forward);
    assert_eq!(got, graph.bfs(&[case.theft_txid.as_str()], 20, true));
    for (k, peel) in case.peel_chain.iter().enumerate() {
        assert!(got.contains_key(peel), "peel chain tx {k} missing from the forward trace");
    }
    assert!(got.contains_key(&case.consolidation_txid));
    let backward =
        query_json(db, &["trace", "backward", &case.consolidation_txid, "--hops", "4", "--max-txs", "100000"]);
    assert_eq!(trace_hops(&backward), graph.bfs(&[case.consolidation_txid.as_str()], 4, false));
    for edge in backward["edges"].as_array().unwrap() {
        let to = edge["to_txid"].as_str().unwrap();
        let from = edge["from_txid"].as_str().unwrap();
        assert_eq!(graph.spent_by.get(&(from, edge["vout"].as_u64().unwrap() as u32)).map(|s| s.0), Some(to));
    }
    let from_thief = query_json(db, &["trace", "forward", &case.thief_address, "--hops", "3", "--max-txs", "100000"]);
    assert_eq!(trace_hops(&from_thief), graph.bfs(&graph.spenders_of(&case.thief_address), 3, true));
    let to_victim = query_json(db, &["trace", "backward", &case.victim_address, "--hops", "2", "--max-txs", "100000"]);
    assert_eq!(trace_hops(&to_victim), graph.bfs(&graph.payers_of(&case.victim_address), 2, false));

    // Truncation is said, not silent: also from a hub address whose own root set is over the cap.
    let capped = query_json(db, &["trace", "forward", &case.theft_txid, "--hops", "20", "--max-txs", "5"]);
    assert_eq!(capped["truncated"], true);
    let hub = truth.busiest_script().and_then(|(s, _)| s.address.clone()).expect("a hub address");
    let spenders = graph.spenders_of(&hub).len();
    assert!(spenders > 20, "the hub has only {spenders} spending txs");
    let out = Command::new(bin("query"))
        .arg("--db")
        .arg(db)
        .args(["trace", "forward", &hub, "--max-txs", "20"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let hub_trace: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(hub_trace["truncated"], true);
    assert_eq!(hub_trace["txs"].as_array().unwrap().len(), 20);
    assert!(String::from_utf8_lossy(&out.stderr).contains("note:"), "no note on stderr about the cap");

    // Path: thief to exchange is as short as the truth allows, and every step is a spend edge.
    let path = query_json(db, &["path", &case.thief_address, &case.exchange_deposit_address, "--max-hops", "40"]);
    assert_eq!(path["found"], true);
    let txs: Vec<&str> = path["txs"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert_eq!(path["hops"], txs.len() as u64 - 1);
    for pair in txs.windows(2) {
        assert!(graph.children(pair[0]).contains(&pair[1]), "{} does not spend {}", pair[1], pair[0]);
    }
    let starts = graph.spenders_of(&case.thief_address);
    assert!(starts.contains(&txs[0]));
    let ends: HashSet<&str> = graph.payers_of(&case.exchange_deposit_address).into_iter().collect();
    assert!(ends.contains(txs.last().unwrap()));
    let shortest =
        graph.bfs(&starts, 60, true).iter().filter(|(t, _)| ends.contains(t.as_str())).map(|(_, h)| *h).min();
    assert_eq!(path["hops"], shortest.expect("the truth has a path") as u64);
    assert_graph_formats_render(
        db,
        &["path", &case.thief_address, &case.exchange_deposit_address, "--max-hops", "40"],
        &txs,
    );
    // A regtest taproot address is 64 characters long, like a txid: as a trace or path target
    // it is read as the address it is.
    let taproot = truth
        .scripts
        .iter()
        .filter(|s| s.kind == "p2tr")
        .filter_map(|s| s.address.as_deref())
        .find(|a| !graph.spenders_of(a).is_empty() && !graph.payers_of(a).is_empty())
        .expect("a taproot address that was paid and spent from");
    assert_eq!(taproot.len(), 64);
    let from_taproot = query_json(db, &["trace", "forward", taproot, "--hops", "3", "--max-txs", "100000"]);
    assert_eq!(trace_hops(&from_taproot), graph.bfs(&graph.spenders_of(taproot), 3, true));
    let to_taproot = query_json(db, &["trace", "backward", taproot, "--hops", "3", "--max-txs", "100000"]);
    assert_eq!(trace_hops(&to_taproot), graph.bfs(&graph.payers_of(taproot), 3, false));
    let payer = graph
        .payers_of(taproot)
        .into_iter()
        .find(|t| !truth.txs[graph.by_txid[t]].inputs.is_empty())
        .expect("a payer that is not a coinbase");
    let payer_input = &truth.txs[graph.by_txid[payer]].inputs[0];
    let funder = truth.txs[graph.by_txid[payer_input.txid.as_str()]].outputs[payer_input.vout as usize]
        .address
        .clone()
        .expect("an address");
    for (from, to) in [(funder.as_str(), taproot), (taproot, case.exchange_deposit_address.as_str())] {
        let path = query_json(db, &["path", from, to, "--max-hops", "40"]);
        let starts = graph.spenders_of(from);
        let ends: HashSet<&str> = graph.payers_of(to).into_iter().collect();
        let shortest =
            graph.bfs(&starts, 40, true).iter().filter(|(t, _)| ends.contains(t.as_str())).map(|(_, h)| *h).min();
        assert_eq!(path["found"], shortest.is_some(), "path {from} -> {to}");
        if let Some(hops) = shortest {
            assert_eq!(path["hops"], hops as u64, "path {from} -> {to}");
        }
    }
    assert_eq!(query_json(db, &["path", &funder, taproot])["found"], true);

    // Along the peel chain end to end: at least as many hops as the chain is long.
    let first = case.peel_chain.first().unwrap();
    let last = case.peel_chain.last().unwrap();
    let along = query_json(db, &["path", first, last, "--max-hops", "40"]);
    assert_eq!(along["found"], true);
    assert_eq!(along["hops"], graph.bfs(&[first.as_str()], 60, true)[last.as_str()] as u64);
    assert!(along["hops"].as_u64().unwrap() >= 11);

    crate::answers::check(&env, db, &truth);
}

#[test]
fn query_answers_while_the_indexer_follows_the_tip_and_sees_new_blocks() {
    let env = TestEnv::new().expect("node starts");
    env.mine_to_new(110).expect("mine");
    let db = tempfile::tempdir().expect("tempdir");
    let mut child =
        indexer(&env, db.path()).args(["--poll-ms", "100"]).stderr(Stdio::null()).spawn().expect("indexer starts");
    let watched = env.new_address();
    let balance = |db: &std::path::Path| -> Option<u64> {
        let out =
            Command::new(bin("query")).arg("--db").arg(db).args(["address", &watched.to_string()]).output().ok()?;
        let v: Value = serde_json::from_slice(&out.stdout).ok()?;
        v["balance_sat"].as_u64()
    };
    wait_for_tip(&mut child, db.path(), 110);
    assert_eq!(balance(db.path()), Some(0), "query could not read the database while the indexer runs");
    env.mine(1, &watched).expect("mine");
    wait_for_tip(&mut child, db.path(), 111);
    let seen = balance(db.path());
    child.kill().expect("kill");
    child.wait().expect("wait");
    assert_eq!(
        seen,
        Some(50 * 100_000_000),
        "the coinbase of block 111 (50 BTC before the halving at 150) was not seen"
    );
}

#[test]
fn bad_input_gives_one_line_and_the_documented_exit_code() {
    let env = TestEnv::new().expect("node starts");
    env.mine_to_new(3).expect("mine");
    let db = tempfile::tempdir().expect("tempdir");
    index_once(&env, db.path(), &[]);
    let run = |args: &[&str]| {
        let mut c = Command::new(bin("query"));
        c.arg("--db").arg(db.path()).args(args);
        failing(c)
    };
    let (code, err) = run(&["address", "not-an-address"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not-an-address"), "{err}");
    let (code, err) = run(&["address", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("regtest"), "{err}");
    let (code, err) = run(&["tx", "zz"]);
    assert_eq!(code, 2, "{err}");
    let unknown = "00".repeat(32);
    let (code, err) = run(&["tx", &unknown]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&unknown), "{err}");
    let (code, _) = run(&["trace", "forward", &unknown, "--hops", "0"]);
    assert_eq!(code, 2);
    let (code, _) = run(&["trace", "forward", &unknown, "--hops", "100000"]);
    assert_eq!(code, 2);
    let missing = db.path().join("nope");
    let mut c = Command::new(bin("query"));
    c.arg("--db").arg(&missing).args(["tx", &unknown]);
    let (code, err) = failing(c);
    assert_eq!(code, 1);
    assert!(err.contains("no database"), "{err}");
}

/// `--format dot` renders with Graphviz to one SVG node per tx, and `--format graphml` holds the
/// same txs as nodes.
fn assert_graph_formats_render(db: &std::path::Path, args: &[&str], txs: &[&str]) {
    let output = |format: &str| {
        let out = Command::new(bin("query"))
            .arg("--db")
            .arg(db)
            .args(["--format", format])
            .args(args)
            .output()
            .expect("query runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf-8")
    };
    // Graphviz draws the picture (`--format svg`): every tx, and one box per address the path
    // ends at.
    let svg = output("svg");
    assert!(svg.contains("<svg"), "not an SVG picture");
    let ends: Value = serde_json::from_str(&output("json")).expect("json");
    let end_addresses: HashSet<&str> =
        ends["destinations"].as_array().unwrap().iter().filter_map(|d| d["address"].as_str()).collect();
    assert!(!end_addresses.is_empty());
    assert_eq!(svg.matches("class=\"node\"").count(), txs.len() + end_addresses.len());
    for txid in txs {
        assert!(svg.contains(&txid[..12]), "{txid} not drawn");
    }
    assert!(output("dot").starts_with("digraph path {"));
    let graphml = output("graphml");
    assert!(graphml.starts_with("<?xml") && graphml.contains("<graphml"));
    assert_eq!(graphml.matches("<node ").count(), txs.len());
    for txid in txs {
        assert!(graphml.contains(txid), "{txid} not in the GraphML");
    }
}
