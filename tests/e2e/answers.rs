//! End-to-end checks of the answers an investigator files, on the generated theft case against the
//! real node: where the stolen value ends (destinations and their amounts), the main flow
//! (`--follow largest`), stops per output, block times against the node's headers, and CSV equal
//! to the JSON.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;

use bitcoincore_rpc::RpcApi;
use chaintrail_tests::{TestEnv, Truth};
use serde_json::Value;

use crate::support::{bin, query_json};

fn run(db: &Path, args: &[&str]) -> std::process::Output {
    Command::new(bin("query")).arg("--db").arg(db).args(args).output().expect("query runs")
}

/// The node's time of the block at `height`, as the answers print it.
fn node_time(env: &TestEnv, height: u32) -> String {
    let hash = env.rpc().get_block_hash(u64::from(height)).expect("block hash");
    let header = env.rpc().get_block_header_info(&hash).expect("block header");
    let time = i64::try_from(header.time).expect("a time in range");
    chrono::DateTime::from_timestamp(time, 0).expect("a valid time").format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn sats(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number of satoshis: {v}"))
}

/// Every tx and destination of a trace carries its block's time, as the node has it.
fn assert_times(env: &TestEnv, times: &mut HashMap<u32, String>, items: &[Value]) {
    for item in items {
        let height = item["height"].as_u64().expect("height") as u32;
        let expected = times.entry(height).or_insert_with(|| node_time(env, height));
        assert_eq!(item["time"].as_str(), Some(expected.as_str()), "time of {item}");
    }
}

/// Forward from the theft: the destinations plus the fees paid on the way are the stolen value,
/// to the satoshi; each destination's state agrees with the truth's spends.
fn destinations_add_up(db: &Path, env: &TestEnv, truth: &Truth, spent: &HashSet<(&str, u32)>) {
    let case = &truth.case;
    let theft = truth.txs.iter().find(|t| t.txid == case.theft_txid).expect("the theft");
    let theft_out: u64 = theft.outputs.iter().map(|o| o.value_sat).sum();
    let trace = query_json(db, &["trace", "forward", &case.theft_txid, "--hops", "6", "--max-txs", "100000"]);
    assert_eq!(sats(&trace["source_sat"]), theft_out);
    let destinations = trace["destinations"].as_array().expect("destinations[]");
    assert!(!destinations.is_empty());
    let traced: u64 = destinations.iter().map(|d| sats(&d["traced_sat"])).sum();
    assert_eq!(traced + sats(&trace["fees_sat"]), theft_out, "destinations + fees = the stolen value");
    // The peel chain alone is longer than six hops.
    assert_eq!(trace["hops_reached"], 6);
    for d in destinations {
        let key = (d["txid"].as_str().unwrap(), d["vout"].as_u64().unwrap() as u32);
        match d["state"].as_str().unwrap() {
            "unspent" => assert!(!spent.contains(&key), "{d} is spent in the truth"),
            "unspendable" => assert!(d["address"].is_null(), "{d} has an address"),
            "hop_limit" => {
                assert!(spent.contains(&key), "{d} is unspent in the truth");
                assert_eq!(d["hop"], 6);
                assert!(d["spent_by"].is_string());
            }
            other => panic!("unexpected state {other} in {d}"),
        }
    }
    let mut times = HashMap::new();
    assert_times(env, &mut times, trace["txs"].as_array().unwrap());
    assert_times(env, &mut times, destinations);
    // The tx and address answers carry the node's times too.
    let tx = query_json(db, &["tx", &case.theft_txid]);
    assert_eq!(tx["time"].as_str(), Some(node_time(env, theft.height).as_str()));
    let address = query_json(db, &["address", &case.thief_address]);
    assert_times(env, &mut times, address["history"].as_array().unwrap());
    assert_times(env, &mut times, address["utxos"].as_array().unwrap());
}

/// `--follow largest` runs the peel chain, one tx a hop, into the fan-out, whose other outputs
/// end as destinations; the value of every peel payment is among them.
fn follow_largest_runs_the_peel_chain(db: &Path, truth: &Truth) {
    let case = &truth.case;
    let hops = (case.peel_chain.len() + 1).to_string();
    let main = query_json(db, &["trace", "forward", &case.theft_txid, "--follow", "largest", "--hops", &hops]);
    let txs: Vec<&str> = main["txs"].as_array().unwrap().iter().map(|t| t["txid"].as_str().unwrap()).collect();
    let mut expected = vec![case.theft_txid.as_str()];
    expected.extend(case.peel_chain.iter().map(String::as_str));
    expected.push(case.fanout_txid.as_str());
    assert_eq!(txs, expected, "one tx a hop: the theft, the peel chain, the fan-out");
    assert_eq!(main["follow"], "largest");
    let fanout = truth.txs.iter().find(|t| t.txid == case.fanout_txid).expect("the fan-out");
    let at_fanout: Vec<&Value> =
        main["destinations"].as_array().unwrap().iter().filter(|d| d["txid"] == case.fanout_txid.as_str()).collect();
    assert_eq!(at_fanout.len(), fanout.outputs.len(), "every output of the fan-out is shown");
    for d in &at_fanout {
        let vout = d["vout"].as_u64().unwrap() as usize;
        assert_eq!(sats(&d["value_sat"]), fanout.outputs[vout].value_sat);
        assert_eq!(d["address"].as_str(), fanout.outputs[vout].address.as_deref());
    }
    // Each peel tx's payment (its output the next hop does not spend) ends as not followed.
    for peel in &case.peel_chain {
        let ends: Vec<&str> = main["destinations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["txid"] == peel.as_str())
            .map(|d| d["state"].as_str().unwrap())
            .collect();
        assert_eq!(ends.len(), 1, "peel {peel}: {ends:?}");
        assert!(["not_followed", "unspent"].contains(&ends[0]), "peel {peel}: {ends:?}");
    }
    let traced: u64 = main["destinations"].as_array().unwrap().iter().map(|d| sats(&d["traced_sat"])).sum();
    assert_eq!(traced + sats(&main["fees_sat"]), sats(&main["source_sat"]));
}

/// Stopping at a peel payment's address ends that output's branch only: the rest of the
/// peel chain is still followed, and the stop is named.
fn a_stop_ends_one_output(db: &Path, truth: &Truth) {
    let case = &truth.case;
    let tx = |txid: &str| truth.txs.iter().find(|t| t.txid == txid).expect("a peel tx");
    // The first peel whose payment goes to an address (some pay bare multisig scripts).
    let (first, payee) = case
        .peel_chain
        .windows(2)
        .find_map(|pair| {
            let (this, next) = (tx(&pair[0]), tx(&pair[1]));
            let change = next.inputs[0].vout as usize;
            let payment = this.outputs.iter().enumerate().find(|(v, _)| *v != change)?.1;
            Some((this, payment.address.clone()?))
        })
        .expect("a peel payment to an address");
    let hops = (case.peel_chain.len() + 1).to_string();
    let args =
        ["trace", "forward", &case.theft_txid, "--hops", &hops, "--stop-at-address", &payee, "--max-txs", "100000"];
    let stopped = query_json(db, &args);
    let txs: HashSet<&str> = stopped["txs"].as_array().unwrap().iter().map(|t| t["txid"].as_str().unwrap()).collect();
    for peel in &case.peel_chain {
        assert!(txs.contains(peel.as_str()), "peel {peel} lost behind the stop");
    }
    assert!(txs.contains(case.fanout_txid.as_str()));
    let node = stopped["txs"].as_array().unwrap().iter().find(|t| t["txid"] == first.txid.as_str()).unwrap();
    assert_eq!(node["stopped"], true);
    assert_eq!(node["stopped_at"], serde_json::json!([payee]));
    let ends: Vec<&Value> = stopped["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["txid"] == first.txid.as_str() && d["state"] == "stopped")
        .collect();
    assert_eq!(ends.len(), 1);
    assert_eq!(ends[0]["address"].as_str(), Some(payee.as_str()));
}

/// `--format csv` loads with a standard CSV reader and holds what the JSON holds.
fn csv_equals_json(db: &Path, truth: &Truth) {
    let case = &truth.case;
    let args = ["trace", "forward", &case.theft_txid, "--hops", "4"];
    let trace = query_json(db, &args);
    let mut csv_args = vec!["--format", "csv"];
    csv_args.extend(args);
    let out = run(db, &csv_args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    let header = reader.headers().expect("a header row").clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"));
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a well-formed row")).collect();
    let edges: Vec<&csv::StringRecord> = rows.iter().filter(|r| &r[col("row")] == "edge").collect();
    let destinations: Vec<&csv::StringRecord> = rows.iter().filter(|r| &r[col("row")] == "destination").collect();
    assert_eq!(edges.len(), trace["edges"].as_array().unwrap().len());
    assert_eq!(destinations.len(), trace["destinations"].as_array().unwrap().len());
    for (row, e) in edges.iter().zip(trace["edges"].as_array().unwrap()) {
        assert_eq!(&row[col("from_txid")], e["from_txid"].as_str().unwrap());
        assert_eq!(&row[col("to_txid")], e["to_txid"].as_str().unwrap());
        assert_eq!(row[col("value_sat")].parse::<u64>().unwrap(), sats(&e["value_sat"]));
    }
    for (row, d) in destinations.iter().zip(trace["destinations"].as_array().unwrap()) {
        assert_eq!(&row[col("from_txid")], d["txid"].as_str().unwrap());
        assert_eq!(row[col("vout")].parse::<u64>().unwrap(), d["vout"].as_u64().unwrap());
        assert_eq!(row[col("traced_sat")].parse::<u64>().unwrap(), sats(&d["traced_sat"]));
        assert_eq!(&row[col("state")], d["state"].as_str().unwrap());
        assert_eq!(&row[col("address")], d["address"].as_str().unwrap_or(""));
        assert_eq!(&row[col("time")], d["time"].as_str().unwrap());
    }
    let tx = query_json(db, &["tx", &case.consolidation_txid]);
    let out = run(db, &["--format", "csv", "tx", &case.consolidation_txid]);
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    let rows = reader.records().count();
    assert_eq!(rows, tx["inputs"].as_array().unwrap().len() + tx["outputs"].as_array().unwrap().len());
}

/// A path ends in the output that paid the destination address, with its value.
fn path_ends_in_the_payment(db: &Path, truth: &Truth) {
    let case = &truth.case;
    let path = query_json(db, &["path", &case.victim_address, &case.exchange_deposit_address, "--max-hops", "60"]);
    assert_eq!(path["found"], true);
    let last = path["txs"].as_array().unwrap().last().unwrap().as_str().unwrap();
    let paid = truth.txs.iter().find(|t| t.txid == last).expect("the last tx");
    let expected: Vec<u64> = paid
        .outputs
        .iter()
        .filter(|o| o.address.as_deref() == Some(case.exchange_deposit_address.as_str()))
        .map(|o| o.value_sat)
        .collect();
    let got: Vec<u64> = path["destinations"].as_array().unwrap().iter().map(|d| sats(&d["value_sat"])).collect();
    assert_eq!(got, expected);
    for d in path["destinations"].as_array().unwrap() {
        assert_eq!(d["address"].as_str(), Some(case.exchange_deposit_address.as_str()));
    }
}

/// Backward from the consolidation: the origins add up to its inputs, and each names the address
/// of the output its input spent.
fn origins_add_up(db: &Path, truth: &Truth) {
    let case = &truth.case;
    let by_txid: HashMap<&str, &chaintrail_tests::TxInfo> = truth.txs.iter().map(|t| (t.txid.as_str(), t)).collect();
    let consolidation = by_txid[case.consolidation_txid.as_str()];
    let inputs: u64 =
        consolidation.inputs.iter().map(|i| by_txid[i.txid.as_str()].outputs[i.vout as usize].value_sat).sum();
    let back = query_json(db, &["trace", "backward", &case.consolidation_txid, "--hops", "2"]);
    assert_eq!(sats(&back["source_sat"]), inputs);
    let origins = back["destinations"].as_array().unwrap();
    assert_eq!(origins.iter().map(|d| sats(&d["traced_sat"])).sum::<u64>(), inputs);
    for d in origins {
        let spender = by_txid[d["txid"].as_str().unwrap()];
        let input = &spender.inputs[d["vin"].as_u64().unwrap() as usize];
        let spent = &by_txid[input.txid.as_str()].outputs[input.vout as usize];
        assert_eq!(d["address"].as_str(), spent.address.as_deref(), "origin {d}");
        assert_eq!(d["prev_output"].as_str(), Some(format!("{}:{}", input.txid, input.vout).as_str()));
        assert!(["hop_limit", "coinbase"].contains(&d["state"].as_str().unwrap()), "{d}");
    }
}

/// Runs every check on an indexed generated chain (`db`) of the node `env`.
pub(crate) fn check(env: &TestEnv, db: &Path, truth: &Truth) {
    let mut spent: HashSet<(&str, u32)> = HashSet::new();
    for tx in &truth.txs {
        for input in &tx.inputs {
            spent.insert((input.txid.as_str(), input.vout));
        }
    }
    destinations_add_up(db, env, truth, &spent);
    follow_largest_runs_the_peel_chain(db, truth);
    a_stop_ends_one_output(db, truth);
    csv_equals_json(db, truth);
    path_ends_in_the_payment(db, truth);
    origins_add_up(db, truth);
}
