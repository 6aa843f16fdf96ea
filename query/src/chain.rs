//! The indexed chain as the commands see it: the follower store plus its network (and the tag
//! store of that network, if any), and the lookups that turn row numbers into what people read
//! (txids, block hashes, addresses).

use std::collections::HashMap;
use std::path::Path;

use bitcoin::address::NetworkUnchecked;
use bitcoin::{Address, Script, ScriptBuf};
use indexer::network::Network;
use indexer::stages::clusters::read;
use indexer::storage::schema::{ClusterState, HeaderRow, Meta, ScriptNum, StageId, TxNum, TxRow};
use indexer::storage::store::{hex_hash, Store};

use crate::error::{QueryError, Result, UsageError};
use crate::model::{utc, TagView};
use crate::tags::{Tag, TagStore};

/// The clusters stage as the commands see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterStage {
    /// What the clusters were built with.
    pub state: ClusterState,
    /// Set when the stage is behind the indexed tip.
    pub note: Option<String>,
}

/// An open database and what it indexes, with the tag store of its network if there is one.
pub struct Chain {
    store: Store,
    meta: Meta,
    network: Network,
    tags: Option<TagStore>,
}

impl Chain {
    /// Opens the database read-only as a follower. With `expected`, refuses a database of
    /// another network.
    pub fn open(path: &Path, cache_bytes: usize, expected: Option<Network>) -> Result<Chain> {
        let store = Store::open_follower(path, cache_bytes)?;
        Chain::new(store, expected)
    }

    /// Wraps an open store.
    pub fn new(store: Store, expected: Option<Network>) -> Result<Chain> {
        let path = store.path().display().to_string();
        let meta = store.meta()?.ok_or_else(|| QueryError::Corrupt(format!("{path} has no meta row")))?;
        let network = Network::from_core_name(&meta.network)
            .ok_or_else(|| QueryError::Corrupt(format!("{path} names an unknown network '{}'", meta.network)))?;
        if let Some(expected) = expected {
            if expected != network {
                return Err(QueryError::NetworkMismatch {
                    path,
                    found: meta.network,
                    expected: expected.core_name().into(),
                });
            }
        }
        Ok(Chain { store, meta, network, tags: None })
    }

    /// Brings in the blocks the indexer committed since the database was opened or last
    /// refreshed, and rereads the indexed tip. Returns whether the tip moved (a new block, or a reorg).
    pub fn refresh(&mut self) -> Result<bool> {
        self.store.refresh()?;
        let path = self.store.path().display().to_string();
        let meta = self.store.meta()?.ok_or_else(|| QueryError::Corrupt(format!("{path} has no meta row")))?;
        let moved = meta.tip != self.meta.tip;
        self.meta = meta;
        Ok(moved)
    }

    /// The indexed tip: height and block hash (internal byte order), if any block is indexed.
    pub fn tip(&self) -> Option<(u32, [u8; 32])> {
        self.meta.tip
    }

    /// Adds the tag store (of the same network) the commands show tags from.
    pub fn with_tags(self, tags: Option<TagStore>) -> Chain {
        Chain { tags, ..self }
    }

    /// The tag store; `None` when there is none (no tags).
    pub fn tags(&self) -> Option<&TagStore> {
        self.tags.as_ref()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn network(&self) -> Network {
        self.network
    }

    /// Height of the last indexed block, if any.
    pub fn tip_height(&self) -> Option<u32> {
        self.meta.tip.map(|(h, _)| h)
    }

    /// A note when the addresses stage (history, balances, UTXOs) is behind the indexed tip, as
    /// while the indexer catches a rebuilt stage up: address answers are then as of its height.
    pub fn addresses_note(&self) -> Result<Option<String>> {
        let at = self.store.checkpoint(StageId::Addresses)?.map(|c| c.height);
        Ok(match (self.tip_height(), at) {
            (Some(tip), at) if at != Some(tip) => Some(format!(
                "address history is being rebuilt: it covers blocks up to {}, the index reaches {tip}",
                at.map(|h| format!("height {h}")).unwrap_or_else(|| "none yet".into())
            )),
            _ => None,
        })
    }

    /// The clusters stage, with a note when it is behind the indexed tip; `None` when it was
    /// never built.
    pub fn clusters(&self) -> Result<Option<ClusterStage>> {
        let Some(state) = read::state(&self.store)? else { return Ok(None) };
        let Some(at) = self.store.checkpoint(StageId::Clusters)?.map(|c| c.height) else { return Ok(None) };
        let note = match self.tip_height() {
            Some(tip) if tip != at => {
                Some(format!("clusters are being built: they cover blocks up to height {at}, the index reaches {tip}"))
            }
            _ => None,
        };
        Ok(Some(ClusterStage { state, note }))
    }

    /// The clusters stage; an error when it was never built.
    pub fn require_clusters(&self) -> Result<ClusterStage> {
        self.clusters()?.ok_or(QueryError::NoClusters)
    }

    /// The bytes of a script the index refers to; missing means the database is inconsistent.
    pub fn script_bytes(&self, num: ScriptNum) -> Result<Vec<u8>> {
        self.store.script(num)?.ok_or_else(|| QueryError::Corrupt(format!("no script row for script number {num}")))
    }

    /// The tags of an output script, best first (highest confidence, then label); none without a
    /// tag store.
    pub fn script_tags(&self, script: &[u8]) -> Result<Vec<TagView>> {
        let Some(tags) = &self.tags else { return Ok(Vec::new()) };
        Ok(views(tags.of_script(script)?))
    }

    /// The tags of a transaction (txid in internal byte order), best first.
    pub fn tx_tags(&self, txid: &[u8; 32]) -> Result<Vec<TagView>> {
        let Some(tags) = &self.tags else { return Ok(Vec::new()) };
        Ok(views(tags.of_tx(txid)?))
    }

    /// How people name a script: its address, or `op_return` / `script:<hex>`.
    pub fn script_name(&self, num: ScriptNum) -> Result<String> {
        let bytes = self.script_bytes(num)?;
        Ok(self.address_of(&bytes).unwrap_or_else(|| script_label(&bytes)))
    }

    /// The time of the block at `height` (seconds since 1970, UTC), from its header.
    pub fn block_time(&self, height: u32) -> Result<u32> {
        Ok(header_time(&self.header(height)?.header))
    }

    /// The block time at `height` as ISO 8601 UTC.
    pub fn block_date(&self, height: u32) -> Result<String> {
        Ok(utc(self.block_time(height)?))
    }

    /// The header row at `height`; missing means the database is inconsistent.
    pub fn header(&self, height: u32) -> Result<HeaderRow> {
        self.store.header(height)?.ok_or_else(|| QueryError::Corrupt(format!("no header row for height {height}")))
    }

    /// The first height whose block time is at or after `time` (`None`: no such block), and the
    /// last height whose block time is at or before it. Block times only roughly rise with
    /// height (consensus allows a block up to two hours before its predecessors' median), so
    /// both are found by bisection over the headers, which is exact when they do rise.
    pub fn heights_around(&self, time: i64) -> Result<(Option<u32>, Option<u32>)> {
        let Some(tip) = self.tip_height() else { return Ok((None, None)) };
        // The first height whose time is > `time` (or = with `at_or_after`).
        let first = |at_or_after: bool| -> Result<u32> {
            let (mut lo, mut hi) = (0u32, tip + 1);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                let t = i64::from(self.block_time(mid)?);
                if t > time || (at_or_after && t == time) {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            Ok(lo)
        };
        let from = first(true)?;
        let after = first(false)?;
        Ok(((from <= tip).then_some(from), after.checked_sub(1)))
    }

    /// "height N" or "no blocks yet", for messages.
    pub fn tip_text(&self) -> String {
        match self.tip_height() {
            Some(h) => format!("height {h}"),
            None => "no blocks yet".into(),
        }
    }

    /// Every occurrence of a txid, earliest first; an error if it was never indexed.
    pub fn txnums(&self, txid: &bitcoin::Txid) -> Result<Vec<TxNum>> {
        use bitcoin::hashes::Hash;
        let nums = self.store.txnums(txid.as_byte_array())?;
        if nums.is_empty() {
            return Err(QueryError::UnknownTx { txid: txid.to_string(), tip: self.tip_text() });
        }
        Ok(nums)
    }

    /// The row of a tx the index refers to; missing means the database is inconsistent.
    pub fn tx_row(&self, num: TxNum) -> Result<TxRow> {
        self.store.tx(num)?.ok_or_else(|| QueryError::Corrupt(format!("no row for transaction number {num}")))
    }

    /// Checks an address against the database's network and gives its output script.
    pub fn address_script(&self, address: &Address<NetworkUnchecked>) -> Result<ScriptBuf, UsageError> {
        let shown = address.assume_checked_ref().to_string();
        match address.clone().require_network(self.network.bitcoin()) {
            Ok(checked) => Ok(checked.script_pubkey()),
            Err(_) => Err(UsageError::WrongNetwork {
                address: shown,
                found: address_network(address),
                expected: network_title(self.network),
            }),
        }
    }

    /// The number of a script, or `None` if the indexed chain never paid it.
    pub fn script_num(&self, script: &Script) -> Result<Option<ScriptNum>> {
        Ok(self.store.script_num(script.as_bytes())?)
    }

    /// The address of an output script, if it has one (not bare multisig, OP_RETURN, ...).
    pub fn address_of(&self, script: &[u8]) -> Option<String> {
        Address::from_script(Script::from_bytes(script), self.network.bitcoin()).ok().map(|a| a.to_string())
    }
}

fn views(tags: Vec<Tag>) -> Vec<TagView> {
    tags.iter().map(TagView::from).collect()
}

/// A name for tables and pictures: the best tag's label leading the address when tagged.
pub fn tagged_name(name: &str, tags: &[TagView]) -> String {
    match tags.first() {
        Some(tag) => format!("{} ({name})", tag.label),
        None => name.to_string(),
    }
}

/// How people name a network in messages.
pub fn network_title(network: Network) -> String {
    match network {
        Network::Main => "mainnet".into(),
        Network::Test => "testnet3".into(),
        other => other.core_name().into(),
    }
}

/// Which networks an address can belong to (testnet, testnet4 and signet share encodings).
pub fn address_network(address: &Address<NetworkUnchecked>) -> &'static str {
    if address.is_valid_for_network(bitcoin::Network::Bitcoin) {
        "mainnet"
    } else if address.is_valid_for_network(bitcoin::Network::Testnet) {
        "testnet/signet"
    } else {
        "regtest"
    }
}

/// A short text for a script with no address: `op_return` or `script:<hex>`.
pub fn script_label(script: &[u8]) -> String {
    if script.first() == Some(&0x6a) {
        "op_return".into()
    } else {
        format!("script:{}", hex::encode(script))
    }
}

/// Where a transaction sits, ready for output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxPlace {
    pub txid: String,
    /// The txid in internal byte order, for lookups.
    pub id: [u8; 32],
    pub height: u32,
    pub block_hash: String,
    /// The block's time, UTC (ISO 8601).
    pub time: String,
}

/// The time field of an 80-byte block header (bytes 68..72, little-endian).
pub fn header_time(header: &[u8; 80]) -> u32 {
    u32::from_le_bytes([header[68], header[69], header[70], header[71]])
}

/// A block as shown: its hash and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockView {
    pub hash: String,
    /// UTC, ISO 8601.
    pub time: String,
}

/// Resolves tx numbers and outputs into display strings, caching blocks.
pub struct Resolver<'c> {
    chain: &'c Chain,
    blocks: HashMap<u32, BlockView>,
}

impl<'c> Resolver<'c> {
    pub fn new(chain: &'c Chain) -> Self {
        Resolver { chain, blocks: HashMap::new() }
    }

    pub fn chain(&self) -> &'c Chain {
        self.chain
    }

    /// The hash (as block explorers show it) and time of the block at `height`.
    pub fn block(&mut self, height: u32) -> Result<BlockView> {
        if let Some(block) = self.blocks.get(&height) {
            return Ok(block.clone());
        }
        let header = self.chain.header(height)?;
        let block = BlockView { hash: hex_hash(&header.hash), time: utc(header_time(&header.header)) };
        self.blocks.insert(height, block.clone());
        Ok(block)
    }

    /// The time of the block at `height`, UTC (ISO 8601).
    pub fn time(&mut self, height: u32) -> Result<String> {
        Ok(self.block(height)?.time)
    }

    /// Txid, height, block hash and time of a transaction number.
    pub fn place(&mut self, num: TxNum) -> Result<TxPlace> {
        let row = self.chain.tx_row(num)?;
        let block = self.block(row.height)?;
        Ok(TxPlace {
            txid: hex_hash(&row.txid),
            id: row.txid,
            height: row.height,
            block_hash: block.hash,
            time: block.time,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn labels_name_op_return_and_raw_scripts() {
        assert_eq!(script_label(&[0x6a, 0x01, 0x02]), "op_return");
        assert_eq!(script_label(&[0x51, 0xae]), "script:51ae");
    }

    #[test]
    fn address_networks_are_told_apart() {
        let main = Address::from_str("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4").unwrap();
        let test = Address::from_str("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx").unwrap();
        let reg = Address::from_str("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080").unwrap();
        assert_eq!(address_network(&main), "mainnet");
        assert_eq!(address_network(&test), "testnet/signet");
        assert_eq!(address_network(&reg), "regtest");
        assert_eq!(network_title(Network::Main), "mainnet");
    }
}
