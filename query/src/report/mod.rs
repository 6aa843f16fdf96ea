//! Case reports: a command's answer together with everything it was computed from — the index
//! tip, every output the command read with its value, script, block and what spent it, the
//! clusters and tags it used — and the case's particulars, sealed by a digest over all of it and
//! optionally signed. `query verify` checks every output against a node, then computes the answer
//! again from the file's outputs alone and compares it with the recorded one.
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
pub mod requests;
mod taint;

use bitcoin::hashes::{sha256, Hash};
use serde::{Deserialize, Serialize};

use crate::tags::Tag;

#[cfg(feature = "verify")]
pub mod recompute;
#[cfg(feature = "verify")]
pub mod verify;

pub mod sign;

/// The version of the report format; `verify` refuses others.
pub const FORMAT: u32 = 2;

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
    /// Who made the case file, and when.
    pub case: CaseInfo,
    /// How far the index's derived stages were built, and with which heuristics.
    pub index: IndexState,
    /// Every output the command read, in chain order, each with the input that spent it (as of
    /// the tip) or none when unspent: all outputs of each transaction whose outputs were read,
    /// and the output each read input spent. The answer is computed from these alone.
    pub hops: Vec<Hop>,
    /// Scripts the command looked up by address (a target, a stop address).
    pub scripts_used: Vec<String>,
    /// The clusters the command looked up, as the index had them.
    pub clusters_used: Vec<ClusterUsed>,
    /// The tags of every tagged address among the hops and clusters.
    pub tags_used: Vec<TaggedAddress>,
    /// The tags of every tagged transaction among the hops.
    pub tx_tags_used: Vec<TaggedTx>,
    /// The command's answer, exactly as its JSON output.
    pub answer: serde_json::Value,
    /// For a forward trace or a taint: the deposits at tagged entities and the holders at the
    /// tip, under all four taint models (see [`requests`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<requests::Requests>,
    /// See the module documentation.
    pub digest: String,
    /// An Ed25519 signature over the digest, when the file was signed (`report --sign`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<sign::Signature>,
}

/// The case's particulars, covered by the digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CaseInfo {
    /// The case's id (`--case`).
    pub id: Option<String>,
    /// Who made the file (`--analyst`).
    pub analyst: Option<String>,
    /// A free-text note (`--note`).
    pub note: Option<String>,
    /// When the file was made (UTC, ISO 8601), by the clock of the machine that made it.
    pub created: String,
    /// Says which clock `created` comes from: it is not checked against anything.
    pub clock: String,
}

/// The derived stages the answer depended on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct IndexState {
    /// The block the addresses stage had reached, when built.
    pub addresses: Option<BlockRef>,
    /// The block the clusters stage had reached, when built.
    pub clusters: Option<BlockRef>,
    /// The clusters stage's heuristics version and whether it merged change outputs.
    pub cluster_heuristics: Option<(u16, bool)>,
    /// Whether a tag store was loaded.
    pub tags: bool,
}

/// A cluster as the index had it: its id (its earliest script), size, the scripts of it the
/// command looked up, and the member whose tag names it, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterUsed {
    /// The earliest script's address (or label).
    pub cluster_id: String,
    pub first_script_hex: String,
    pub size: u64,
    /// Hex scripts, in the index's order.
    pub scripts: Vec<String>,
    /// The member whose tag the cluster takes (hex script).
    pub tagged_member: Option<String>,
}

/// A transaction and its tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaggedTx {
    pub txid: String,
    pub tags: Vec<Tag>,
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

/// An address (or a script without one, by its label), its script and its tags, best first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaggedAddress {
    pub address: String,
    pub script_hex: String,
    pub tags: Vec<Tag>,
}

impl CaseReport {
    /// The digest of the report as it stands (its `digest` and `signature` fields left out).
    pub fn compute_digest(&self) -> String {
        let mut value = serde_json::to_value(self).expect("a report holds only JSON values");
        unsealed(&mut value);
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

/// Removes what the digest does not cover: the digest and the signature over it.
pub fn unsealed(value: &mut serde_json::Value) {
    if let serde_json::Value::Object(map) = value {
        map.remove("digest");
        map.remove("signature");
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
            case: CaseInfo { id: Some("C-1".into()), created: "2026-01-01T00:00:00Z".into(), ..CaseInfo::default() },
            index: IndexState::default(),
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
            scripts_used: Vec::new(),
            clusters_used: Vec::new(),
            tags_used: Vec::new(),
            tx_tags_used: Vec::new(),
            answer: serde_json::json!({"z": 1, "a": [1.5, "é"]}),
            requests: None,
            digest: String::new(),
            signature: None,
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
        let mut edited = report.clone();
        edited.answer["z"] = serde_json::json!(2);
        assert!(!edited.digest_holds());
        let mut edited = report;
        edited.case.analyst = Some("mallory".into());
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
