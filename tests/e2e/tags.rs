//! End-to-end tests of tags and exposure on a generated chain from a real node: a TagPack naming
//! the exchanges' addresses is imported beside the index, shows up in `tx`, `address` and
//! `cluster`, stops a trace at the deposits, and measures the thief's exposure to exchanges
//! against an independent computation over the generator's own records.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;

use chaintrail_tests::{generate, GenParams, TestEnv, Truth};
use serde_json::Value;

use crate::support::{bin, index_once};

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
/// the documented rules in floating point: direct (hop 1) and indirect value.
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
    let spender: HashMap<(&str, u32), usize> = truth
        .txs
        .iter()
        .enumerate()
        .flat_map(|(n, t)| t.inputs.iter().map(move |i| ((i.txid.as_str(), i.vout), n)))
        .collect();
    let input_total = |n: usize| truth.txs[n].inputs.iter().map(|i| paid[&(i.txid.as_str(), i.vout)].1).sum::<u64>();
    let (mut direct, mut indirect) = (0.0, 0.0);
    // Flows at outputs of the current hop: (txid, vout) -> value.
    let mut level: HashMap<(&str, u32), f64> = HashMap::new();
    let mut spends_from: Vec<usize> = Vec::new();
    for (n, tx) in truth.txs.iter().enumerate() {
        if tx.inputs.iter().any(|i| paid[&(i.txid.as_str(), i.vout)].0 == from) {
            spends_from.push(n);
        }
    }
    for n in spends_from {
        let tx = &truth.txs[n];
        let own: u64 =
            tx.inputs.iter().map(|i| paid[&(i.txid.as_str(), i.vout)]).filter(|p| p.0 == from).map(|p| p.1).sum();
        let share = own as f64 / input_total(n) as f64;
        for (v, o) in tx.outputs.iter().enumerate() {
            if o.address.as_deref() != Some(from) {
                *level.entry((tx.txid.as_str(), v as u32)).or_default() += share * o.value_sat as f64;
            }
        }
    }
    for hop in 1..=hops {
        let mut next: HashMap<(&str, u32), f64> = HashMap::new();
        for (out, value) in level {
            if tagged.contains(paid[&out].0) {
                if hop == 1 {
                    direct += value;
                } else {
                    indirect += value;
                }
                continue;
            }
            let Some(&n) = spender.get(&out) else { continue };
            if hop == hops {
                continue;
            }
            let tx = &truth.txs[n];
            let total = input_total(n) as f64;
            for (v, o) in tx.outputs.iter().enumerate() {
                *next.entry((tx.txid.as_str(), v as u32)).or_default() += value * o.value_sat as f64 / total;
            }
        }
        level = next;
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
}
