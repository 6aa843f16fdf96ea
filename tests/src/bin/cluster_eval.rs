//! `cluster-eval`: how well an indexed generated chain's clusters and change picks match the
//! generator's ground truth (it knows every script's owner), printed as JSON.
//!
//! Clusters: pairwise precision (of the script pairs put in one cluster, the share with one owner)
//! and recall (of the pairs with one owner, the share put in one cluster), over every generated
//! script the index holds. Change: for every generated non-CoinJoin transaction whose inputs all
//! belong to one owner and that pays that owner back exactly one of at least two outputs (or none),
//! each heuristic's picks and how many were right, and the same for the combined pick.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::Context;
use bitcoin::hashes::Hash;
use bitcoin::Txid;
use chaintrail_tests::Truth;
use clap::Parser;
use indexer::heuristics::{change, TxShape};
use indexer::stages::clusters::{read, CHANGE_MIN_CONFIDENCE};
use indexer::storage::store::Store;
use serde_json::{json, Value};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    db: PathBuf,
    #[arg(long)]
    truth: PathBuf,
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// Pairwise precision and recall of the clusters against the owners.
fn clustering(store: &Store, truth: &Truth) -> anyhow::Result<Value> {
    let mut cells: HashMap<(u64, u32), u64> = HashMap::new();
    // One script per (cluster, owner), to explain clusters that mix owners.
    let mut sample: HashMap<(u64, u32), u64> = HashMap::new();
    let mut owner_of: HashMap<u64, u32> = HashMap::new();
    for script in &truth.scripts {
        let Some(num) = store.script_num(&hex::decode(&script.script_hex)?)? else { continue };
        let root = read::cluster_of(store, num)?.root;
        *cells.entry((root, script.owner)).or_default() += 1;
        sample.entry((root, script.owner)).or_insert(num);
        owner_of.insert(num, script.owner);
    }
    let (mut by_cluster, mut by_owner) = (HashMap::<u64, u64>::new(), HashMap::<u32, u64>::new());
    for (&(cluster, owner), &n) in &cells {
        *by_cluster.entry(cluster).or_default() += n;
        *by_owner.entry(owner).or_default() += n;
    }
    let together: u64 = cells.values().map(|&n| pairs(n)).sum();
    let predicted: u64 = by_cluster.values().map(|&n| pairs(n)).sum();
    let actual: u64 = by_owner.values().map(|&n| pairs(n)).sum();
    let ratio = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    Ok(json!({
        "mixed_clusters": mixed(store, truth, &sample, &owner_of)?,
        "scripts": by_cluster.values().sum::<u64>(),
        "clusters": by_cluster.len(),
        "owners": by_owner.len(),
        "largest_cluster": by_cluster.values().max(),
        "pairwise_precision": ratio(together, predicted),
        "pairwise_recall": ratio(together, actual),
    }))
}

/// Up to 10 clusters holding scripts of several owners, each with the merge that first joined
/// two owners on the chain of merges between two of its scripts.
fn mixed(
    store: &Store,
    truth: &Truth,
    sample: &HashMap<(u64, u32), u64>,
    owner_of: &HashMap<u64, u32>,
) -> anyhow::Result<Vec<Value>> {
    let mut by_root: HashMap<u64, Vec<u64>> = HashMap::new();
    for (&(root, _), &num) in sample {
        by_root.entry(root).or_default().push(num);
    }
    let mut out = Vec::new();
    for (root, nums) in by_root.into_iter().filter(|(_, n)| n.len() > 1).take(10) {
        let path = read::why(store, nums[0], nums[1])?.unwrap_or_default();
        let culprit = path.iter().find(|l| owner_of.get(&l.from) != owner_of.get(&l.to));
        let describe = |l: &read::Link| -> anyhow::Result<Value> {
            let txid = bitcoin::Txid::from_byte_array(store.tx(l.txnum)?.context("tx")?.txid).to_string();
            let kind = truth.txs.iter().find(|t| t.txid == txid).map(|t| t.kind.clone());
            Ok(json!({ "txid": txid, "kind": kind, "reason": l.reason.name() }))
        };
        out.push(json!({
            "size": read::cluster_of(store, root)?.size,
            "owners": nums.len(),
            "joined_by": culprit.map(describe).transpose()?,
        }));
    }
    Ok(out)
}

/// The output each generated transaction paid back to its sole owner: `Some(None)` for none,
/// `None` when the truth does not say (several owners, or several outputs back).
fn change_truth(truth: &Truth) -> HashMap<&str, Option<u32>> {
    let owner: HashMap<&str, u32> = truth.scripts.iter().map(|s| (s.script_hex.as_str(), s.owner)).collect();
    let mut paid: HashMap<(&str, u32), &str> = HashMap::new();
    let mut labels = HashMap::new();
    for tx in &truth.txs {
        for (v, o) in tx.outputs.iter().enumerate() {
            paid.insert((tx.txid.as_str(), v as u32), o.script_hex.as_str());
        }
        if tx.inputs.is_empty() || tx.kind == "coinjoin" || tx.outputs.len() < 2 {
            continue;
        }
        let owners: Vec<Option<&u32>> =
            tx.inputs.iter().map(|i| paid.get(&(i.txid.as_str(), i.vout)).and_then(|s| owner.get(s))).collect();
        let Some(Some(&sender)) = owners.first() else { continue };
        if owners.iter().any(|o| *o != Some(&sender)) {
            continue;
        }
        let back: Vec<u32> = (0..tx.outputs.len() as u32)
            .filter(|&v| owner.get(tx.outputs[v as usize].script_hex.as_str()) == Some(&sender))
            .collect();
        match back.as_slice() {
            [] => labels.insert(tx.txid.as_str(), None),
            [one] => labels.insert(tx.txid.as_str(), Some(*one)),
            _ => None,
        };
    }
    labels
}

/// Confidence floors the combined pick is also scored at.
const THRESHOLDS: [f64; 5] = [0.7, 0.8, 0.85, 0.9, 0.95];

#[derive(Default)]
struct Score {
    picks: u64,
    right: u64,
}

impl Score {
    fn add(&mut self, right: bool) {
        self.picks += 1;
        self.right += u64::from(right);
    }

    fn json(&self, with_change: u64) -> Value {
        json!({
            "picks": self.picks,
            "right": self.right,
            "precision": if self.picks == 0 { Value::Null } else { json!(self.right as f64 / self.picks as f64) },
            "recall": self.right as f64 / with_change.max(1) as f64,
        })
    }
}

/// Each change heuristic's precision on its own, and the combined pick's.
fn change_heuristics(store: &Store, truth: &Truth) -> anyhow::Result<Value> {
    let labels = change_truth(truth);
    let mut each: HashMap<&str, Score> = HashMap::new();
    let (mut combined, mut merged) = (Score::default(), Score::default());
    let mut at_least: Vec<(f64, Score)> = THRESHOLDS.iter().map(|&t| (t, Score::default())).collect();
    let mut with_change = 0;
    for (txid, label) in &labels {
        let id = Txid::from_str(txid)?;
        let num = *store.txnums(id.as_byte_array())?.last().with_context(|| format!("{txid} is not indexed"))?;
        let shape = TxShape::load(store, num)?;
        with_change += u64::from(label.is_some());
        for pick in change::picks(&shape) {
            each.entry(pick.heuristic.name()).or_default().add(Some(pick.vout) == *label);
        }
        if let Some(found) = change::detect(&shape) {
            combined.add(Some(found.vout) == *label);
            for (t, score) in at_least.iter_mut().filter(|(t, _)| found.confidence >= *t) {
                let _ = t;
                score.add(Some(found.vout) == *label);
            }
            if found.confidence >= CHANGE_MIN_CONFIDENCE {
                merged.add(Some(found.vout) == *label);
            }
        }
    }
    let mut out = serde_json::Map::new();
    for h in change::Heuristic::ALL {
        out.insert(h.name().into(), each.remove(h.name()).unwrap_or_default().json(with_change));
    }
    out.insert("combined".into(), combined.json(with_change));
    out.insert("merged_into_clusters".into(), merged.json(with_change));
    for (t, score) in &at_least {
        out.insert(format!("combined_confidence_at_least_{t}"), score.json(with_change));
    }
    Ok(json!({ "txs": labels.len(), "txs_with_change": with_change, "heuristics": out }))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let truth = Truth::load(&args.truth)?;
    let store = Store::open_follower(&args.db, 256 << 20)?;
    let state = read::state(&store)?.context("the database has no clusters")?;
    let report = json!({
        "change_heuristics_in_clusters": state.change,
        "clustering": clustering(&store, &truth)?,
        "change": change_heuristics(&store, &truth)?,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
