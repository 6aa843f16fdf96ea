//! Case reports: a command's answer together with everything needed to check it later against any
//! node — the index tip it was computed at, every output it rests on with its value, script and
//! block, the tags it used — sealed by a digest over all of it.
//!
//! The digest is the SHA-256 of the report without its `digest` field, serialized as compact JSON
//! with every object's keys in sorted order (what `json.dumps(report, sort_keys=True,
//! separators=(",", ":"), ensure_ascii=False)` gives in Python), in lowercase hex. Anyone can
//! recompute it; `query verify` does, and checks every hop against a node.

pub mod exposure;
pub mod hops;
pub mod html;
mod html_tables;
#[cfg(test)]
mod html_tests;
mod taint;

use bitcoin::hashes::{sha256, Hash};
use serde::{Deserialize, Serialize};

use crate::model::TagView;

#[cfg(feature = "verify")]
pub mod verify;

/// The version of the report format; `verify` refuses others.
pub const FORMAT: u32 = 1;

/// `report.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseReport {
    /// [`FORMAT`].
    pub format: u32,
    /// The program and version that wrote it, e.g. `chaintrail query 0.1.0`.
    pub tool: String,
    /// The command as it would be typed after `query`, e.g. `["trace", "forward", "<txid>",
    /// "--hops", "20"]`: the options that shaped the answer.
    pub command: Vec<String>,
    /// The network's Bitcoin Core name: `main`, `test`, `testnet4`, `signet` or `regtest`.
    pub network: String,
    /// The last block indexed when the answer was computed.
    pub tip: BlockRef,
    /// Every output the answer rests on, and the input that spent it where the answer follows
    /// the money through it; in the order the answer lists them.
    pub hops: Vec<Hop>,
    /// The tags the answer shows, by address.
    pub tags_used: Vec<TaggedAddress>,
    /// The command's answer, exactly as its JSON output.
    pub answer: serde_json::Value,
    /// See the module documentation.
    pub digest: String,
}

/// A block by height and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockRef {
    pub height: u32,
    /// As block explorers show it.
    pub hash: String,
}

/// An output of a transaction, as the index had it, and what spent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    pub txid: String,
    /// The block the transaction is in.
    pub block: BlockRef,
    /// The output; `None` for a coinbase's newly mined coins, where only the transaction is
    /// checked.
    pub vout: Option<u32>,
    pub value_sat: Option<u64>,
    pub script_hex: Option<String>,
    /// The script's address, when it has one.
    pub address: Option<String>,
    /// The input that spent the output, when the answer follows the money through it.
    pub spent_by: Option<Spend>,
}

/// An input and the block of its transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spend {
    pub txid: String,
    pub vin: u32,
    pub block: BlockRef,
}

/// An address and the tags the answer showed for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaggedAddress {
    pub address: String,
    pub tags: Vec<TagView>,
}

impl CaseReport {
    /// The digest of the report as it stands (its `digest` field left out).
    pub fn compute_digest(&self) -> String {
        let mut value = serde_json::to_value(self).expect("a report holds only JSON values");
        if let serde_json::Value::Object(map) = &mut value {
            map.remove("digest");
        }
        digest_of(&value)
    }

    /// Fills in the digest.
    pub fn seal(mut self) -> CaseReport {
        self.digest = self.compute_digest();
        self
    }

    /// Whether the stored digest matches the report.
    pub fn digest_holds(&self) -> bool {
        self.digest == self.compute_digest()
    }
}

/// SHA-256 of a JSON value serialized compactly with sorted keys, in lowercase hex.
pub fn digest_of(value: &serde_json::Value) -> String {
    // serde_json's maps keep their keys sorted (no `preserve_order` feature), so the compact
    // serialization is the canonical one.
    let bytes = serde_json::to_vec(value).expect("a JSON value serializes");
    sha256::Hash::hash(&bytes).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CaseReport {
        CaseReport {
            format: FORMAT,
            tool: "chaintrail query 0.1.0".into(),
            command: vec!["trace".into(), "forward".into(), "ab".repeat(32), "--hops".into(), "2".into()],
            network: "regtest".into(),
            tip: BlockRef { height: 7, hash: "cd".repeat(32) },
            hops: vec![Hop {
                txid: "ab".repeat(32),
                block: BlockRef { height: 5, hash: "ef".repeat(32) },
                vout: Some(1),
                value_sat: Some(150_000_000),
                script_hex: Some("0014".to_string() + &"11".repeat(20)),
                address: None,
                spent_by: Some(Spend {
                    txid: "12".repeat(32),
                    vin: 0,
                    block: BlockRef { height: 6, hash: "34".repeat(32) },
                }),
            }],
            tags_used: Vec::new(),
            answer: serde_json::json!({"z": 1, "a": [1.5, "é"]}),
            digest: String::new(),
        }
        .seal()
    }

    #[test]
    fn the_digest_covers_everything_but_itself_and_ignores_key_order() {
        let report = sample();
        assert_eq!(report.digest.len(), 64);
        assert!(report.digest_holds());
        // Read back from JSON whose keys are in another order: the same digest.
        let text = serde_json::to_string_pretty(&report).unwrap();
        let back: CaseReport = serde_json::from_str(&text).unwrap();
        assert!(back.digest_holds());
        // Any change breaks it.
        let mut edited = report.clone();
        edited.hops[0].value_sat = Some(150_000_001);
        assert!(!edited.digest_holds());
        let mut edited = report;
        edited.answer["z"] = serde_json::json!(2);
        assert!(!edited.digest_holds());
    }

    #[test]
    fn the_canonical_form_is_compact_with_sorted_keys() {
        let value = serde_json::json!({"b": {"y": 1, "x": [true, null]}, "a": "é\n"});
        assert_eq!(serde_json::to_string(&value).unwrap(), r#"{"a":"é\n","b":{"x":[true,null],"y":1}}"#);
        // The SHA-256 of those exact bytes.
        let expected = sha256::Hash::hash(r#"{"a":"é\n","b":{"x":[true,null],"y":1}}"#.as_bytes()).to_string();
        assert_eq!(digest_of(&value), expected);
    }
}
