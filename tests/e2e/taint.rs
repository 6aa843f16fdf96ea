//! End-to-end taint on a generated chain: from the theft, through the peel chain and the fan-out
//! into the CoinJoin where the thief's piece meets other users' clean coins, every model's answer
//! equals a small reference computed from the generator's ground truth alone.

use std::cmp::{max, min, Reverse};
use std::collections::{BTreeMap, HashMap};
use std::process::Command;

use chaintrail_tests::{generate, GenParams, TestEnv, Truth};
use serde_json::Value;

use crate::support::{bin, index_once};

const HOPS: u32 = 25;

fn query(db: &std::path::Path, args: &[&str]) -> Value {
    let out = Command::new(bin("query")).arg("--db").arg(db).args(args).output().expect("query runs");
    assert!(out.status.success(), "query {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("query {args:?} printed no JSON ({e})"))
}

/// An output carrying taint, in the reference: where in its value the taint lies (intervals
/// `[start, end)`, for fifo and lifo; one interval covering `tainted` otherwise) and its hop.
#[derive(Debug, Clone)]
struct Tainted {
    tainted: u64,
    intervals: Intervals,
    hop: u32,
}

/// Intervals `[start, end)` of tainted satoshis inside an amount.
type Intervals = Vec<(u64, u64)>;

/// An output's taint as one tx passes it on: the amount and where it lies.
type Slice = (u64, Intervals);

/// What the reference expects: each tainted output's (taint, hop), the frontier and the fees.
#[derive(Debug, Default)]
struct Expected {
    outputs: BTreeMap<(String, u32), (u64, u32)>,
    source: u64,
    frontier: u64,
    fees: u64,
}

/// Taint from every output of `source`, under `model`, followed through txs up to hop `hops`,
/// computed over the truth's transactions in chain order.
fn reference(truth: &Truth, source: &str, model: &str, hops: u32) -> Expected {
    let value: HashMap<(&str, u32), u64> = truth
        .txs
        .iter()
        .flat_map(|t| t.outputs.iter().enumerate().map(move |(v, o)| ((t.txid.as_str(), v as u32), o.value_sat)))
        .collect();
    let mut held: HashMap<(String, u32), Tainted> = HashMap::new();
    let mut consumed: Vec<(String, u32)> = Vec::new();
    let mut expected = Expected::default();
    for tx in &truth.txs {
        let values: Vec<u64> = tx.outputs.iter().map(|o| o.value_sat).collect();
        if tx.txid == source {
            for (vout, &v) in values.iter().enumerate().filter(|(_, v)| **v > 0) {
                expected.source += v;
                held.insert((tx.txid.clone(), vout as u32), Tainted { tainted: v, intervals: vec![(0, v)], hop: 0 });
            }
            continue;
        }
        // Each input: its value and, when it spends a tainted output short of the hop limit, that.
        let mut inputs: Vec<(u64, Option<Tainted>)> = Vec::new();
        for i in &tx.inputs {
            let key = (i.txid.clone(), i.vout);
            let v = value[&(i.txid.as_str(), i.vout)];
            let followed = held.get(&key).filter(|t| t.hop < hops).cloned();
            if followed.is_some() {
                consumed.push(key);
            }
            inputs.push((v, followed));
        }
        let Some(hop) = inputs.iter().filter_map(|(_, t)| t.as_ref().map(|t| t.hop + 1)).min() else { continue };
        let fee = inputs.iter().map(|i| i.0).sum::<u64>() - values.iter().sum::<u64>();
        let (outputs, fee_taint) = pass(model, &inputs, &values, fee);
        expected.fees += fee_taint;
        for (vout, (tainted, intervals)) in outputs.into_iter().enumerate() {
            if tainted > 0 {
                held.insert((tx.txid.clone(), vout as u32), Tainted { tainted, intervals, hop });
            }
        }
    }
    let consumed: std::collections::HashSet<_> = consumed.into_iter().collect();
    for (key, t) in held {
        if !consumed.contains(&key) {
            expected.frontier += t.tainted;
        }
        expected.outputs.insert(key, (t.tainted, t.hop));
    }
    expected
}

/// Each output's (taint, intervals) and the fee's taint for one tx under `model`.
fn pass(model: &str, inputs: &[(u64, Option<Tainted>)], values: &[u64], fee: u64) -> (Vec<Slice>, u64) {
    let tainted: u64 = inputs.iter().filter_map(|(_, t)| t.as_ref().map(|t| t.tainted)).sum();
    let whole = |shares: Vec<u64>| shares.into_iter().map(|s| (s, vec![(0, s)])).collect();
    match model {
        "poison" => (whole(values.to_vec()), fee),
        "haircut" => {
            let mut weights = values.to_vec();
            weights.push(fee);
            let mut shares = largest_remainder(tainted, &weights);
            let fee_share = shares.pop().unwrap();
            (whole(shares), fee_share)
        }
        "fifo" => line(inputs.iter(), values, fee),
        "lifo" => line(inputs.iter().rev(), values, fee),
        other => panic!("unknown model {other}"),
    }
}

/// `amount × weight / total` for each weight, floored; the satoshis left over one each to the
/// largest remainders, ties to the lower index.
fn largest_remainder(amount: u64, weights: &[u64]) -> Vec<u64> {
    let total: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    let exact: Vec<(u128, u128)> = weights
        .iter()
        .map(|&w| (u128::from(amount) * u128::from(w) / total, u128::from(amount) * u128::from(w) % total))
        .collect();
    let mut shares: Vec<u64> = exact.iter().map(|e| e.0 as u64).collect();
    let left = amount - shares.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&i| (Reverse(exact[i].1), i));
    for &i in order.iter().take(left as usize) {
        shares[i] += 1;
    }
    shares
}

/// The inputs laid end to end in the order given, their tainted intervals moved to where they
/// fall on that line; each output takes the next stretch, the fee the one after them.
fn line<'a>(inputs: impl Iterator<Item = &'a (u64, Option<Tainted>)>, values: &[u64], fee: u64) -> (Vec<Slice>, u64) {
    let mut tainted_on_line: Intervals = Vec::new();
    let mut offset = 0;
    for (v, t) in inputs {
        for &(s, e) in t.iter().flat_map(|t| &t.intervals) {
            tainted_on_line.push((offset + s, offset + e));
        }
        offset += v;
    }
    let overlap = |a: u64, b: u64| -> Intervals {
        tainted_on_line
            .iter()
            .filter(|(s, e)| max(*s, a) < min(*e, b))
            .map(|(s, e)| (max(*s, a) - a, min(*e, b) - a))
            .collect()
    };
    let mut start = 0;
    let mut outputs = Vec::new();
    for &v in values {
        let intervals = overlap(start, start + v);
        outputs.push((intervals.iter().map(|(s, e)| e - s).sum(), intervals));
        start += v;
    }
    let fee_taint = overlap(start, start + fee).iter().map(|(s, e)| e - s).sum();
    (outputs, fee_taint)
}

#[test]
fn every_model_from_the_theft_equals_a_reference_computed_from_the_ground_truth() {
    let env = TestEnv::builder().build().expect("node starts");
    let truth =
        generate(env.rpc(), &GenParams { seed: 31, target_txs: 3_000, txs_per_block: 200, ..GenParams::default() })
            .expect("generate");
    let db = tempfile::tempdir().expect("tempdir");
    index_once(&env, db.path(), &[]);
    let case = &truth.case;
    let spent: std::collections::HashSet<(&str, u32)> =
        truth.txs.iter().flat_map(|t| t.inputs.iter().map(|i| (i.txid.as_str(), i.vout))).collect();
    let coinjoin = truth.tx(&case.coinjoin_txid).expect("the CoinJoin is in the truth");
    let coinjoin_value: u64 = coinjoin.outputs.iter().map(|o| o.value_sat).sum();
    for model in ["poison", "haircut", "fifo", "lifo"] {
        let hops = HOPS.to_string();
        let got =
            query(db.path(), &["taint", &case.theft_txid, "--model", model, "--hops", &hops, "--max-txs", "1000000"]);
        let want = reference(&truth, &case.theft_txid, model, HOPS);
        assert_eq!(got["model"], model);
        assert_eq!(got["truncated"], false, "{model}");
        let mut outputs: BTreeMap<(String, u32), (u64, u32)> = BTreeMap::new();
        for o in got["outputs"].as_array().expect("outputs[]") {
            let key = (o["txid"].as_str().unwrap().to_string(), o["vout"].as_u64().unwrap() as u32);
            assert_eq!(o["spent"], spent.contains(&(key.0.as_str(), key.1)), "{model} {key:?}");
            outputs.insert(key, (o["tainted_sat"].as_u64().unwrap(), o["hop"].as_u64().unwrap() as u32));
        }
        assert_eq!(outputs.len(), want.outputs.len(), "{model}: how many outputs carry taint");
        assert_eq!(outputs, want.outputs, "{model}");
        let total = |key: &str| got[key].as_u64().unwrap();
        assert_eq!(got["source"]["tainted_sat"].as_u64(), Some(want.source), "{model}");
        assert_eq!(want.source, case.stolen_sat, "the theft's one output is the loot");
        assert_eq!((total("frontier_tainted_sat"), total("fees_tainted_sat")), (want.frontier, want.fees), "{model}");
        if model != "poison" {
            assert_eq!(want.frontier + want.fees, want.source, "{model}: the books balance");
        }
        // The CoinJoin is reached, and there the thief's piece meets clean coins.
        let mixed: u64 = (0..coinjoin.outputs.len() as u32)
            .filter_map(|v| outputs.get(&(case.coinjoin_txid.clone(), v)).map(|t| t.0))
            .sum();
        if model == "poison" {
            assert_eq!(mixed, coinjoin_value, "poison taints every CoinJoin output wholly");
        } else {
            assert!(mixed > 0 && mixed < coinjoin_value, "{model}: the CoinJoin carries {mixed} of {coinjoin_value}");
        }
    }
}
