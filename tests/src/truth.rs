//! Ground truth of a generated chain: who owns which script, every transaction the generator made,
//! the final balances and the investigation case, as a JSON file the query tests and the demo read.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Everything the generator knows about the chain it made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truth {
    pub seed: u64,
    pub tip_height: u32,
    pub tip_hash: String,
    pub entities: Vec<Entity>,
    /// Every script the generator created, in creation order.
    pub scripts: Vec<ScriptInfo>,
    /// Every block's coinbase and every generated transaction, in chain order.
    pub txs: Vec<TxInfo>,
    /// Unspent value per tracked script (`script_hex`) at the tip; zero for spent-out scripts.
    pub balances: BTreeMap<String, u64>,
    pub case: CaseInfo,
}

/// Someone who owns scripts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    pub id: u32,
    pub name: String,
    /// `user`, `exchange`, `mixer`, `thief`, `victim` or `miner`.
    pub kind: String,
}

/// A script the generator holds the keys to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptInfo {
    pub script_hex: String,
    /// `None` for bare multisig.
    pub address: Option<String>,
    /// `p2pkh`, `p2sh_p2wpkh`, `p2wpkh`, `p2wsh_multisig`, `p2tr` or `bare_multisig`.
    pub kind: String,
    /// `Entity::id` of the owner.
    pub owner: u32,
}

/// One transaction of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxInfo {
    pub txid: String,
    pub height: u32,
    /// `coinbase`, `payment`, `deposit`, `withdrawal`, `op_return`, `consolidation`, `peel`,
    /// `fanout`, `coinjoin` or `theft`.
    pub kind: String,
    /// The outpoints spent, in input order; empty for a coinbase.
    pub inputs: Vec<OutPointInfo>,
    pub outputs: Vec<OutputInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutPointInfo {
    pub txid: String,
    pub vout: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputInfo {
    pub value_sat: u64,
    pub script_hex: String,
    /// `None` for scripts without an address (bare multisig, OP_RETURN).
    pub address: Option<String>,
}

/// The laundering story built into every generated chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseInfo {
    /// The victim's coins go to `thief_address` in this transaction (its only output).
    pub theft_txid: String,
    pub victim_address: String,
    pub thief_address: String,
    pub stolen_sat: u64,
    pub victim_entity: u32,
    pub thief_entity: u32,
    /// Peel hops in order; the first spends the theft output, each next one the previous change.
    pub peel_chain: Vec<String>,
    /// Spends the last peel change into many thief addresses.
    pub fanout_txid: String,
    /// The CoinJoin round the thief takes part in with one fan-out output.
    pub coinjoin_txid: String,
    /// Gathers the thief's remaining coins into `exchange_deposit_address`.
    pub consolidation_txid: String,
    pub exchange_deposit_address: String,
    pub exchange_entity: u32,
}

/// Why a truth file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TruthError {
    #[error("cannot {action} {path}")]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },
    #[error("{path} is not a valid truth file")]
    Json { path: PathBuf, source: serde_json::Error },
}

impl Truth {
    /// Reads a truth file written by [`Truth::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Truth, TruthError> {
        let path = path.as_ref();
        let io = |source| TruthError::Io { action: "read", path: path.to_path_buf(), source };
        let mut text = String::new();
        File::open(path).and_then(|mut f| f.read_to_string(&mut text)).map_err(io)?;
        serde_json::from_str(&text).map_err(|source| TruthError::Json { path: path.to_path_buf(), source })
    }

    /// Writes the truth as compact JSON.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), TruthError> {
        let path = path.as_ref();
        let io = |source| TruthError::Io { action: "write", path: path.to_path_buf(), source };
        let mut out = BufWriter::new(File::create(path).map_err(io)?);
        serde_json::to_writer(&mut out, self).map_err(|source| match source.io_error_kind() {
            Some(_) => io(std::io::Error::other(source)),
            None => TruthError::Json { path: path.to_path_buf(), source },
        })?;
        out.flush().map_err(io)
    }

    /// The transaction with `txid`.
    pub fn tx(&self, txid: &str) -> Option<&TxInfo> {
        self.txs.iter().find(|t| t.txid == txid)
    }

    /// The tracked script with `script_hex`.
    pub fn script(&self, script_hex: &str) -> Option<&ScriptInfo> {
        self.scripts.iter().find(|s| s.script_hex == script_hex)
    }

    /// The tracked script with `address`.
    pub fn script_by_address(&self, address: &str) -> Option<&ScriptInfo> {
        self.scripts.iter().find(|s| s.address.as_deref() == Some(address))
    }

    /// Transactions of `kind`, in chain order.
    pub fn txs_of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a TxInfo> + 'a {
        self.txs.iter().filter(move |t| t.kind == kind)
    }

    /// How many transactions there are of each kind.
    pub fn kind_counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for tx in &self.txs {
            *counts.entry(tx.kind.clone()).or_insert(0) += 1;
        }
        counts
    }

    /// Number of blocks the generator mined (coinbase transactions in `txs`).
    pub fn blocks(&self) -> usize {
        self.txs_of_kind("coinbase").count()
    }

    /// Index from txid to position in `txs`, for callers doing many look-ups.
    pub fn tx_index(&self) -> HashMap<&str, usize> {
        self.txs.iter().enumerate().map(|(i, t)| (t.txid.as_str(), i)).collect()
    }

    /// The script with the longest history (outputs paying it plus inputs spending from it),
    /// among those with an address, and that count: the generator's hub.
    pub fn busiest_script(&self) -> Option<(&ScriptInfo, usize)> {
        self.busiest_scripts(1).into_iter().next()
    }

    /// The `n` scripts with an address and the most history events, busiest first.
    pub fn busiest_scripts(&self, n: usize) -> Vec<(&ScriptInfo, usize)> {
        let script_of: HashMap<(&str, u32), &str> = self
            .txs
            .iter()
            .flat_map(|t| {
                t.outputs.iter().enumerate().map(move |(v, o)| ((t.txid.as_str(), v as u32), o.script_hex.as_str()))
            })
            .collect();
        let mut events: HashMap<&str, usize> = HashMap::new();
        for tx in &self.txs {
            tx.outputs.iter().for_each(|o| *events.entry(o.script_hex.as_str()).or_default() += 1);
            tx.inputs
                .iter()
                .filter_map(|i| script_of.get(&(i.txid.as_str(), i.vout)))
                .for_each(|s| *events.entry(s).or_default() += 1);
        }
        let mut all: Vec<(&ScriptInfo, usize)> = self
            .scripts
            .iter()
            .filter(|s| s.address.is_some())
            .map(|s| (s, events.get(s.script_hex.as_str()).copied().unwrap_or(0)))
            .collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.script_hex.cmp(&a.0.script_hex)));
        all.truncate(n);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Truth {
        let output = OutputInfo { value_sat: 5_000, script_hex: "0014ab".into(), address: None };
        let tx = TxInfo {
            txid: "aa".into(),
            height: 101,
            kind: "payment".into(),
            inputs: vec![OutPointInfo { txid: "bb".into(), vout: 2 }],
            outputs: vec![output],
        };
        let coinbase = TxInfo { kind: "coinbase".into(), txid: "bb".into(), inputs: vec![], ..tx.clone() };
        Truth {
            seed: 9,
            tip_height: 101,
            tip_hash: "cc".into(),
            entities: vec![Entity { id: 0, name: "miner".into(), kind: "miner".into() }],
            scripts: vec![ScriptInfo {
                script_hex: "0014ab".into(),
                address: Some("bcrt1qexample".into()),
                kind: "p2wpkh".into(),
                owner: 0,
            }],
            txs: vec![coinbase, tx],
            balances: BTreeMap::from([("0014ab".to_string(), 5_000)]),
            case: CaseInfo {
                theft_txid: "dd".into(),
                victim_address: "v".into(),
                thief_address: "t".into(),
                stolen_sat: 1,
                victim_entity: 1,
                thief_entity: 2,
                peel_chain: vec!["ee".into()],
                fanout_txid: "ff".into(),
                coinjoin_txid: "11".into(),
                consolidation_txid: "22".into(),
                exchange_deposit_address: "x".into(),
                exchange_entity: 3,
            },
        }
    }

    #[test]
    fn save_then_load_gives_back_the_same_truth() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("truth.json");
        let truth = sample();
        truth.save(&path).expect("save");
        assert_eq!(Truth::load(&path).expect("load"), truth);
    }

    #[test]
    fn field_names_in_the_file_are_the_documented_ones() {
        let json = serde_json::to_value(sample()).expect("serialize");
        assert_eq!(json["case"]["peel_chain"][0], "ee");
        assert_eq!(json["txs"][1]["inputs"][0]["vout"], 2);
        assert_eq!(json["txs"][1]["outputs"][0]["value_sat"], 5_000);
        assert_eq!(json["scripts"][0]["kind"], "p2wpkh");
        assert_eq!(json["balances"]["0014ab"], 5_000);
    }

    #[test]
    fn lookups_find_by_txid_script_address_and_kind() {
        let truth = sample();
        assert_eq!(truth.tx("aa").map(|t| t.height), Some(101));
        assert_eq!(truth.script("0014ab").map(|s| s.owner), Some(0));
        assert!(truth.script_by_address("bcrt1qexample").is_some());
        assert_eq!(truth.blocks(), 1);
        assert_eq!(truth.kind_counts().get("payment"), Some(&1));
        assert_eq!(truth.tx_index().get("aa"), Some(&1));
    }

    #[test]
    fn loading_a_missing_file_names_the_path() {
        let err = Truth::load("/nonexistent/truth.json").expect_err("no such file");
        assert!(err.to_string().contains("/nonexistent/truth.json"));
    }
}
