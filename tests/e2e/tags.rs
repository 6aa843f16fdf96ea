//! End-to-end tests of tags and exposure on a generated chain from a real node: a TagPack naming
//! the exchanges' addresses is imported beside the index, shows up in `tx`, `address` and
//! `cluster`, stops a trace at the deposits, and measures the thief's exposure to exchanges
//! against an independent computation over the generator's own records.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;

use chaintrail_tests::{generate, GenParams, TestEnv, Truth};
use serde_json::Value;

use crate::support::{bin, index_once, query_text};

fn query(db: &Path, tags: &Path, args: &[&str]) -> Value {
    let out =
        Command::new(bin("query")).arg("--db").arg(db).arg("--tags").arg(tags).args(args).output().expect("query runs");
    assert!(out.status.success(), "query {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("query {args:?} printed no JSON ({e})"))
}

/// A TagPack naming every address the exchanges own, plus one mainnet address (skipped).
fn exchange_pack(truth: &Truth) -> (String, HashSet<String>) {
    let exchanges: HashMap<u32, &str> =
        truth.entities.iter().filter(|e| e.kind == "exchange").map(|e| (e.id, e.name.as_str())).collect();
    let mut yaml = String::from(
        "title: Generated exchanges\ncreator: chaintrail tests\ndescription: every address the exchanges own\n\
         currency: BTC\ncategory: exchange\nconfidence: ownership\nsource: https://example.org/exchanges\ntags:\n",
    );
    let mut tagged = HashSet::new();
    for script in &truth.scripts {
        let (Some(name), Some(address)) = (exchanges.get(&script.owner), &script.address) else { continue };
        yaml.push_str(&format!("- address: {address}\n  label: {name}\n"));
        tagged.insert(address.clone());
    }
    yaml.push_str("- address: 1JoktQJhCzuCQkt3GnQ8Xddcq4mUgNyXEa\n  label: Bitstamp\n");
    (yaml, tagged)
}

/// The thief's exposure to the tagged addresses, computed from the generator's records with
/// the documented rules in floating point: direct (hop 0) and indirect value. Txs are taken in
/// chain order, each split once with everything that entered it, at the smallest hop it was
/// reached at.
fn expected_exposure(truth: &Truth, from: &str, hops: u32, tagged: &HashSet<String>) -> (f64, f64) {
    let paid: HashMap<(&str, u32), (&str, u64)> = truth
        .txs
        .iter()
        .flat_map(|t| {
            t.outputs
                .iter()
                .enumerate()
                .map(move |(v, o)| ((t.txid.as_str(), v as u32), (o.address.as_deref().unwrap_or(""), o.value_sat)))
        })
        .collect();
    let spent: HashSet<(&str, u32)> =
        truth.txs.iter().flat_map(|t| t.inputs.iter().map(|i| (i.txid.as_str(), i.vout))).collect();
    let (mut direct, mut indirect) = (0.0, 0.0);
    // Flows waiting at untagged spent outputs: value and hop.
    let mut waiting: HashMap<(&str, u32), (f64, u32)> = HashMap::new();
    let mut settle = |out, value: f64, hop: u32, waiting: &mut HashMap<_, (f64, u32)>| {
        if tagged.contains(paid[&out].0) {
            if hop == 0 {
                direct += value;
            } else {
                indirect += value;
            }
        } else if spent.contains(&out) && hop < hops {
            let w = waiting.entry(out).or_insert((0.0, hop));
            w.0 += value;
            w.1 = w.1.min(hop);
        }
    };
    for tx in &truth.txs {
        let inputs: Vec<(&str, u64)> = tx.inputs.iter().map(|i| paid[&(i.txid.as_str(), i.vout)]).collect();
        let total = inputs.iter().map(|i| i.1).sum::<u64>() as f64;
        let own: u64 = inputs.iter().filter(|i| i.0 == from).map(|i| i.1).sum();
        if own > 0 {
            for (v, o) in tx.outputs.iter().enumerate() {
                if o.address.as_deref() != Some(from) {
                    settle((tx.txid.as_str(), v as u32), own as f64 * o.value_sat as f64 / total, 0, &mut waiting);
                }
            }
        }
        let (mut entering, mut hop) = (0.0, None::<u32>);
        for i in &tx.inputs {
            if let Some((value, h)) = waiting.remove(&(i.txid.as_str(), i.vout)) {
                entering += value;
                hop = Some(hop.map_or(h + 1, |x| x.min(h + 1)));
            }
        }
        if let Some(hop) = hop {
            for (v, o) in tx.outputs.iter().enumerate() {
                settle((tx.txid.as_str(), v as u32), entering * o.value_sat as f64 / total, hop, &mut waiting);
            }
        }
    }
    (direct, indirect)
}

fn category_value(exposure: &Value, side: &str, category: &str) -> u64 {
    exposure[side]
        .as_array()
        .expect("array")
        .iter()
        .filter(|c| c["category"] == category)
        .map(|c| c["value_sat"].as_u64().expect("value"))
        .sum()
}

#[test]
fn tags_name_the_exchanges_everywhere_stop_traces_and_measure_the_thiefs_exposure() {
    let env = TestEnv::new().expect("node starts");
    let truth =
        generate(env.rpc(), &GenParams { seed: 27, target_txs: 3_000, txs_per_block: 200, ..GenParams::default() })
            .expect("generate");
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, tags) = (dir.path().join("db"), dir.path().join("tags"));
    index_once(&env, &db, &[]);
    let (yaml, tagged) = exchange_pack(&truth);
    let pack = dir.path().join("exchanges.yaml");
    std::fs::write(&pack, yaml).expect("write pack");

    // Imported beside the index: every exchange address once, the mainnet one skipped.
    let import = query(&db, &tags, &["tags", "import", pack.to_str().expect("path")]);
    assert_eq!(import["total"]["imported"].as_u64(), Some(tagged.len() as u64), "{import}");
    assert_eq!(import["total"]["skipped"], 1);
    let again = query(&db, &tags, &["tags", "import", pack.to_str().expect("path")]);
    assert_eq!(
        (again["total"]["imported"].as_u64(), again["total"]["duplicates"].as_u64()),
        (Some(0), Some(tagged.len() as u64))
    );

    // Shown wherever the addresses appear.
    let case = &truth.case;
    let deposit = query(&db, &tags, &["address", &case.exchange_deposit_address]);
    assert_eq!(deposit["tags"][0]["category"], "exchange");
    let consolidation = query(&db, &tags, &["tx", &case.consolidation_txid]);
    let out = consolidation["outputs"]
        .as_array()
        .expect("outputs")
        .iter()
        .find(|o| o["address"] == case.exchange_deposit_address.as_str())
        .expect("paid");
    assert_eq!(out["tags"][0]["pack"], "Generated exchanges");
    let cluster = query(&db, &tags, &["cluster", &case.exchange_deposit_address]);
    assert!(cluster["tags"].as_array().expect("tags").iter().all(|t| t["category"] == "exchange"));
    assert!(!cluster["tags"].as_array().expect("tags").is_empty());

    // A trace from the theft stops at the deposits: stopped txs pay an exchange, nothing leaves them.
    let trace = query(
        &db,
        &tags,
        &[
            "trace",
            "forward",
            &case.theft_txid,
            "--hops",
            "40",
            "--stop-at-category",
            "exchange",
            "--max-txs",
            "1000000",
        ],
    );
    let stopped: HashSet<&str> = trace["txs"]
        .as_array()
        .expect("txs")
        .iter()
        .filter(|t| t["stopped"] == true)
        .map(|t| t["txid"].as_str().expect("txid"))
        .collect();
    assert!(!stopped.is_empty(), "the trace never reached an exchange");
    for txid in &stopped {
        let tx = truth.txs.iter().find(|t| t.txid == *txid).expect("generated");
        assert!(
            tx.outputs.iter().any(|o| o.address.as_ref().is_some_and(|a| tagged.contains(a))),
            "{txid} pays no exchange"
        );
    }
    // Each branch ends at the deposit: no edge leaves an output paying an exchange, and every
    // such output is a `stopped` destination, named on its tx. The tx's other outputs go on.
    for edge in trace["edges"].as_array().expect("edges") {
        let paid = edge["address"].as_str();
        assert!(!paid.is_some_and(|a| tagged.contains(a)), "the trace went on past a deposit: {edge}");
    }
    let ends: Vec<&Value> =
        trace["destinations"].as_array().expect("destinations").iter().filter(|d| d["state"] == "stopped").collect();
    assert!(!ends.is_empty());
    for end in &ends {
        let address = end["address"].as_str().expect("a deposit address");
        assert!(tagged.contains(address), "{end} is no exchange");
        let node = trace["txs"].as_array().unwrap().iter().find(|t| t["txid"] == end["txid"]).expect("its tx");
        assert!(node["stopped_at"].as_array().unwrap().iter().any(|a| a == address), "{node}");
    }

    // The thief's exposure to exchanges: direct for the first peel, indirect for the rest,
    // equal to the generator's records followed with the same rules (to the satoshi per split).
    let hops = 6;
    let exposure =
        query(&db, &tags, &["exposure", &case.thief_address, "--hops", &hops.to_string(), "--max-txs", "1000000"]);
    let parts = ["direct", "indirect"].iter().flat_map(|side| {
        exposure[*side].as_array().expect("array").iter().map(|c| c["value_sat"].as_u64().expect("value"))
    });
    let attributed: u64 = parts.sum();
    let sum =
        attributed + exposure["unattributed_sat"].as_u64().expect("sat") + exposure["fees_sat"].as_u64().expect("sat");
    assert_eq!(sum, exposure["total_sat"].as_u64().expect("total"), "{exposure}");
    let (direct, indirect) = expected_exposure(&truth, &case.thief_address, hops, &tagged);
    let splits = exposure["txs_followed"].as_u64().expect("count") as f64;
    let (got_direct, got_indirect) =
        (category_value(&exposure, "direct", "exchange"), category_value(&exposure, "indirect", "exchange"));
    assert_eq!(got_direct as f64, direct.round(), "{exposure}");
    assert!(
        (got_indirect as f64 - indirect).abs() <= splits + 1.0,
        "indirect {got_indirect} vs {indirect:.1} ({splits} splits)"
    );
    assert!(got_direct + got_indirect > 0, "the thief's coins never reached an exchange within {hops} hops");

    one_figure_per_question(&env, &db, &tags, &dir.path().join("case"), &case.theft_txid);
    joins_are_marked(&truth, &db, &tags);
}

/// From the theft tx, exposure, taint (haircut, per category) and a case file of that taint
/// give the same exchange figure, to the satoshi, and put each deposit at the same hop. The case
/// file, joins and request section included, verifies against the node.
fn one_figure_per_question(env: &TestEnv, db: &Path, tags: &Path, out: &Path, theft: &str) {
    let limits = ["--hops", "12", "--max-txs", "1000000"];
    let exposure = query(db, tags, &[&["exposure", theft][..], &limits].concat());
    let exchange = category_value(&exposure, "direct", "exchange") + category_value(&exposure, "indirect", "exchange");
    assert!(exchange > 0, "{exposure}");
    let by_category = |taint: &Value| -> u64 {
        let categories = taint["by_category"].as_array().expect("categories");
        categories.iter().filter(|c| c["category"] == "exchange").map(|c| c["tainted_sat"].as_u64().unwrap()).sum()
    };
    let taint = query(db, tags, &[&["taint", theft, "--model", "haircut"][..], &limits].concat());
    assert_eq!(by_category(&taint), exchange, "taint at first arrival is exposure's figure");
    let gross: u64 = taint["by_category"].as_array().unwrap().iter().map(|c| c["gross_sat"].as_u64().unwrap()).sum();
    assert!(gross > 0, "the exchanges' own moves are kept apart as gross: {}", taint["by_category"]);
    // Each output exposure attributed value at is a tainted output at the same hop.
    for a in exposure["attributions"].as_array().expect("attributions") {
        let at = taint["outputs"].as_array().unwrap().iter().find(|o| o["txid"] == a["txid"] && o["vout"] == a["vout"]);
        let at = at.unwrap_or_else(|| panic!("{a} carries no taint"));
        assert_eq!(at["hop"], a["hop"], "{a} vs {at}");
    }
    query(
        db,
        tags,
        &[&["report", "--out", out.to_str().unwrap(), "taint", theft, "--model", "haircut"][..], &limits].concat(),
    );
    let file: Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(by_category(&file["answer"]), exchange);
    let deposits = file["requests"]["deposits"].as_array().expect("deposits");
    let at_exchanges: u64 = deposits
        .iter()
        .filter(|d| d["category"] == "exchange")
        .map(|d| d["tainted_sat"]["haircut"].as_u64().unwrap())
        .sum();
    assert_eq!(at_exchanges, exchange, "the case file's deposits add up to the same figure");
    let csv = std::fs::read_to_string(out.join("requests.csv")).unwrap();
    assert_eq!(csv.lines().filter(|l| l.starts_with("deposit,")).count(), deposits.len());
    assert!(!file["answer"]["joins"].as_array().unwrap().is_empty(), "the taint meets outside value");
    let verified = Command::new(bin("query"))
        .arg("verify")
        .arg(out)
        .args(["--rpc-url", &env.rpc_url()])
        .arg("--rpc-cookie")
        .arg(env.cookie_path())
        .output()
        .expect("query runs");
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stderr));
    let summary: Value = serde_json::from_slice(&verified.stdout).expect("JSON");
    assert_eq!((summary["ok"].as_bool(), summary["answer_recomputed"].as_bool()), (Some(true), Some(true)));
}

/// The CoinJoin, where other users' coins join the stolen ones, is marked as a join in the
/// trace's JSON, table and picture, and named where the taint models part.
fn joins_are_marked(truth: &Truth, db: &Path, tags: &Path) {
    let case = &truth.case;
    let args = ["trace", "forward", &case.theft_txid, "--hops", "40", "--max-txs", "1000000"];
    let trace = query(db, tags, &args);
    let join = trace["joins"].as_array().expect("joins").iter().find(|j| j["txid"] == case.coinjoin_txid.as_str());
    let join = join.unwrap_or_else(|| panic!("the CoinJoin is no join: {}", trace["joins"]));
    // Joined: the CoinJoin's inputs no edge of the trace leads into.
    let followed: HashSet<(String, u64)> = trace["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["to_txid"] == case.coinjoin_txid.as_str())
        .map(|e| (e["from_txid"].as_str().unwrap().to_string(), e["vout"].as_u64().unwrap()))
        .collect();
    let coinjoin = truth.txs.iter().find(|t| t.txid == case.coinjoin_txid).expect("generated");
    let value = |txid: &str, vout: u32| {
        truth.txs.iter().find(|t| t.txid == txid).map(|t| t.outputs[vout as usize].value_sat).expect("spent output")
    };
    let outside: u64 = coinjoin
        .inputs
        .iter()
        .filter(|i| !followed.contains(&(i.txid.clone(), u64::from(i.vout))))
        .map(|i| value(&i.txid, i.vout))
        .sum();
    assert!(outside > 0);
    assert_eq!(join["joined_sat"].as_u64(), Some(outside), "{join}");
    assert_eq!(join["inputs"].as_array().unwrap().len(), coinjoin.inputs.len() - followed.len());
    let table = query_text(db, tags, "table", &args);
    let row = table.lines().find(|l| l.contains(&case.coinjoin_txid[..16]) && l.contains("JOIN:"));
    assert!(row.is_some(), "no JOIN note on the CoinJoin's row:\n{table}");
    assert!(table.contains("JOINS: outside value entering the flow"), "{table}");
    let svg = query_text(db, tags, "svg", &args);
    assert!(svg.contains("outside value joins"), "the picture draws no join");
    // Taint: the CoinJoin is a join, and the models part there.
    let taint = query(db, tags, &["taint", &case.theft_txid, "--compare", "--hops", "40", "--max-txs", "1000000"]);
    assert!(taint["joins"].as_array().unwrap().iter().any(|j| j["txid"] == case.coinjoin_txid.as_str()));
    let diverging = taint["compare"]["diverging"].as_array().expect("diverging");
    assert!(diverging.iter().any(|t| t == case.coinjoin_txid.as_str()), "{diverging:?}");
}
