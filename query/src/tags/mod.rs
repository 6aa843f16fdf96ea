//! Attribution tags: labels naming who controls an address or what a transaction was, read from
//! GraphSense TagPacks and CSV files ([`pack`]) into a RocksDB store of their own ([`store`]).

pub mod pack;
pub mod store;
mod yaml;

#[cfg(test)]
mod pack_tests;
#[cfg(test)]
mod store_tests;

use serde::{Deserialize, Serialize};

pub use pack::{Entry, Pack, PackError};
pub use store::{default_tags_dir, ImportCounts, PackRecord, TagStore, TagStoreError};

/// The confidence levels of graphsense-tagpack-tool (its `confidence.csv`): id and level.
pub const CONFIDENCE_LEVELS: [(&str, u8); 12] = [
    ("override", 100),
    ("ownership", 100),
    ("manual_transaction", 90),
    ("service_api", 70),
    ("authority_data", 60),
    ("trusted_provider", 50),
    ("service_data", 50),
    ("forensic", 50),
    ("untrusted_transaction", 40),
    ("web_crawl", 20),
    ("heuristic", 10),
    ("unknown", 5),
];

/// The confidence of a tag that names none.
pub const DEFAULT_CONFIDENCE: &str = "unknown";

/// The level (0..=100) of a confidence id, if it is one.
pub fn confidence_level(id: &str) -> Option<u8> {
    CONFIDENCE_LEVELS.iter().find(|(name, _)| *name == id).map(|&(_, level)| level)
}

/// One attribution of an address or a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// Who or what it is, e.g. `Bitstamp`, `Sextortion Spam`.
    pub label: String,
    /// What kind of entity, e.g. `exchange`, `mixing_service`.
    pub category: Option<String>,
    /// Where the attribution comes from (usually a URL).
    pub source: String,
    /// The confidence level id, e.g. `forensic` (see [`CONFIDENCE_LEVELS`]).
    pub confidence: String,
    /// The level of `confidence`, 0..=100.
    pub confidence_level: u8,
    /// Title of the pack that brought it.
    pub pack: String,
    /// The abuse it is involved in, e.g. `ransomware`.
    pub abuse: Option<String>,
    /// The actor behind it, e.g. `bitstamp`.
    pub actor: Option<String>,
    /// Whether the tag names the owner of the address's whole cluster.
    pub is_cluster_definer: bool,
}

/// What a tag is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    /// An output script (the script of an address).
    Script(Vec<u8>),
    /// A transaction, by txid in internal byte order.
    Tx([u8; 32]),
}
