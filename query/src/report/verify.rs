//! Re-checking a case report against a node: its format, its digest, the node's chain, then every
//! hop in order — its block still in the best chain at its height, its transaction in that block,
//! the output's value, script and address, and the input that spent it — stopping at the first
//! that no longer holds.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use bitcoin::{Address, Block, BlockHash, OutPoint, Transaction, Txid};
use indexer::network::Network;
use indexer::node::{NodeError, Rpc};

use super::{digest_of, BlockRef, CaseReport, Hop, Spend, FORMAT};
use crate::cli::cut;
use crate::error::{ID_QUOTE_MAX, QUOTE_MAX};

/// What the checks ask of a node: [`Rpc`] answers over RPC; tests answer with hand-made blocks.
pub trait ChainSource {
    /// The node's chain, by Bitcoin Core's name (`main`, `regtest`, ...), and its tip height.
    fn chain(&mut self) -> Result<(String, u32), NodeError>;
    /// The hash of the best-chain block at `height` (`getblockhash`); `None` above the tip.
    fn hash_at(&mut self, height: u32) -> Result<Option<BlockHash>, NodeError>;
    /// A block by hash (`getblock`).
    fn fetch_block(&mut self, hash: &BlockHash) -> Result<Block, NodeError>;
}

impl ChainSource for Rpc {
    fn chain(&mut self) -> Result<(String, u32), NodeError> {
        let info = self.chain_info()?;
        Ok((info.chain, info.blocks))
    }

    fn hash_at(&mut self, height: u32) -> Result<Option<BlockHash>, NodeError> {
        self.block_hash_now(height)
    }

    fn fetch_block(&mut self, hash: &BlockHash) -> Result<Block, NodeError> {
        self.block_now(hash)
    }
}

/// Why a report does not hold.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("the report is of format {found}, but this query reads format {FORMAT} (the report was written by {})", cut(.tool, QUOTE_MAX))]
    Format { found: u32, tool: String },
    #[error("digest mismatch: the report was changed after it was written (expected {expected}, computed {computed})")]
    Digest { expected: String, computed: String },
    #[error("the report is of network '{}', which is none of main, test, testnet4, signet or regtest", cut(.0, QUOTE_MAX))]
    UnknownNetwork(String),
    #[error("the node is on '{node}', but the report is of '{report}': verify it against a {report} node (--rpc-url, --rpc-cookie)")]
    Chain { node: String, report: String },
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error("the node's best chain ended below height {0} while it was asked for its tip; try again")]
    TipMoved(u32),
    #[error("hop {index} of {count} (txid {}): {problem}", cut(.txid, ID_QUOTE_MAX))]
    Hop { index: usize, count: usize, txid: String, problem: Box<Problem> },
}

/// What no longer holds of one hop.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error("malformed {what} '{}' in the report", cut(.text, ID_QUOTE_MAX))]
    Malformed { what: &'static str, text: String },
    #[error(
        "block {block} at height {height} is no longer in the best chain (reorged away; the block there is now {now})"
    )]
    Reorged { block: BlockHash, height: u32, now: BlockHash },
    #[error("block {block} at height {height} is no longer in the best chain (reorged away; the node's best chain now ends below height {height})")]
    AboveTip { block: BlockHash, height: u32 },
    #[error("not in block {block} at height {height}")]
    NotInBlock { block: BlockHash, height: u32 },
    #[error("no output {vout}: the node's transaction has {count}")]
    NoOutput { vout: u32, count: usize },
    #[error("value differs: the report says {report} sat, the node {node} sat")]
    Value { report: u64, node: u64 },
    #[error("script differs: the report says {}, the node {}", cut(.report, ID_QUOTE_MAX), cut(.node, ID_QUOTE_MAX))]
    Script { report: String, node: String },
    #[error("address differs: the report says {}, the node's script pays {node}", cut(.report, ID_QUOTE_MAX))]
    Address { report: String, node: String },
    #[error("the report names a spending input but no output of the transaction")]
    SpendWithoutOutput,
    #[error("no input {vin}: the node's transaction has {count}")]
    NoInput { vin: u32, count: usize },
    #[error("input {vin} spends {spends}, not {expected}")]
    WrongInput { vin: u32, spends: OutPoint, expected: OutPoint },
    #[error("spent by {} (input {vin}): {problem}", cut(.txid, ID_QUOTE_MAX))]
    Spend { txid: String, vin: u32, problem: Box<Problem> },
    #[error("cannot get {what} from the node: {source}")]
    Node { what: String, source: NodeError },
}

/// A report that holds, and how much was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub hops_checked: usize,
    /// Distinct blocks fetched from the node.
    pub blocks_checked: usize,
    /// The node's best block when the checks began.
    pub tip: BlockRef,
}

/// The checks that need no node, in order: the format version, then the digest, both over the
/// report as read and over the file's JSON as it stands (`file`: fields the format does not have
/// or that were removed also break it). Returns the report's network.
pub fn check_sealed(report: &CaseReport, file: &serde_json::Value) -> Result<Network, VerifyError> {
    if report.format != FORMAT {
        return Err(VerifyError::Format { found: report.format, tool: report.tool.clone() });
    }
    let mismatch = |computed| VerifyError::Digest { expected: report.digest.clone(), computed };
    if !report.digest_holds() {
        return Err(mismatch(report.compute_digest()));
    }
    let mut file = file.clone();
    if let serde_json::Value::Object(map) = &mut file {
        map.remove("digest");
    }
    let computed = digest_of(&file);
    if computed != report.digest {
        return Err(mismatch(computed));
    }
    Network::from_core_name(&report.network).ok_or_else(|| VerifyError::UnknownNetwork(report.network.clone()))
}

/// The checks against the node, in order: its chain is the report's, then every hop.
pub fn check_on_node(
    report: &CaseReport,
    network: Network,
    source: &mut impl ChainSource,
) -> Result<Verified, VerifyError> {
    let (chain, height) = source.chain()?;
    if chain != report.network {
        return Err(VerifyError::Chain { node: chain, report: report.network.clone() });
    }
    let tip = match source.hash_at(height)? {
        Some(hash) => BlockRef { height, hash: hash.to_string() },
        None => return Err(VerifyError::TipMoved(height)),
    };
    let mut checker = Checker::new(report, network, source);
    let count = report.hops.len();
    let failed = |i: usize, hop: &Hop, problem: Problem| VerifyError::Hop {
        index: i + 1,
        count,
        txid: hop.txid.clone(),
        problem: Box::new(problem),
    };
    // Each hop's own transaction and output first, then the inputs spending them: a transaction
    // reorged away is reported at its own hop, not at the hop it spends from.
    for (i, hop) in report.hops.iter().enumerate() {
        checker.output(hop).map_err(|p| failed(i, hop, p))?;
    }
    for (i, hop) in report.hops.iter().enumerate() {
        checker.spent(hop).map_err(|p| failed(i, hop, p))?;
    }
    Ok(Verified { hops_checked: count, blocks_checked: checker.blocks.len(), tip })
}

/// Asks the node hop by hop, fetching each block once and keeping of it only the transactions the
/// report names.
struct Checker<'a, S> {
    source: &'a mut S,
    network: Network,
    /// The transactions the report names in each block.
    wanted: HashMap<BlockHash, HashSet<Txid>>,
    /// The best chain's block at each height asked.
    heights: HashMap<u32, Option<BlockHash>>,
    /// The wanted transactions of each block fetched.
    blocks: HashMap<BlockHash, HashMap<Txid, Transaction>>,
}

impl<'a, S: ChainSource> Checker<'a, S> {
    fn new(report: &CaseReport, network: Network, source: &'a mut S) -> Self {
        let mut wanted: HashMap<BlockHash, HashSet<Txid>> = HashMap::new();
        let named = report.hops.iter().flat_map(|hop| {
            let spend = hop.spent_by.as_ref().map(|s| (&s.block, &s.txid));
            std::iter::once((&hop.block, &hop.txid)).chain(spend)
        });
        for (block, txid) in named {
            if let (Ok(block), Ok(txid)) = (BlockHash::from_str(&block.hash), Txid::from_str(txid)) {
                wanted.entry(block).or_default().insert(txid);
            }
        }
        Checker { source, network, wanted, heights: HashMap::new(), blocks: HashMap::new() }
    }

    /// The hop's transaction is in its block, and its output as stated.
    fn output(&mut self, hop: &Hop) -> Result<(), Problem> {
        let txid = parse_txid(&hop.txid)?;
        let network = self.network;
        let tx = self.tx_in(&hop.block, &txid)?;
        if let Some(vout) = hop.vout {
            check_output(hop, tx, vout, network)?;
        }
        Ok(())
    }

    /// The input the hop names as spending its output does.
    fn spent(&mut self, hop: &Hop) -> Result<(), Problem> {
        let txid = parse_txid(&hop.txid)?;
        match (&hop.spent_by, hop.vout) {
            (Some(spend), Some(vout)) => self.spend(spend, OutPoint { txid, vout }).map_err(|problem| Problem::Spend {
                txid: spend.txid.clone(),
                vin: spend.vin,
                problem: Box::new(problem),
            }),
            (Some(_), None) => Err(Problem::SpendWithoutOutput),
            (None, _) => Ok(()),
        }
    }

    /// The input `spend` names spends exactly `spent`.
    fn spend(&mut self, spend: &Spend, spent: OutPoint) -> Result<(), Problem> {
        let txid = parse_txid(&spend.txid)?;
        let tx = self.tx_in(&spend.block, &txid)?;
        let input =
            tx.input.get(spend.vin as usize).ok_or(Problem::NoInput { vin: spend.vin, count: tx.input.len() })?;
        if input.previous_output != spent {
            return Err(Problem::WrongInput { vin: spend.vin, spends: input.previous_output, expected: spent });
        }
        Ok(())
    }

    /// The transaction `txid` in `block`, which must be the best chain's at its height.
    fn tx_in(&mut self, block: &BlockRef, txid: &Txid) -> Result<&Transaction, Problem> {
        let hash = BlockHash::from_str(&block.hash)
            .map_err(|_| Problem::Malformed { what: "block hash", text: block.hash.clone() })?;
        let height = block.height;
        match self.hash_at(height)? {
            None => return Err(Problem::AboveTip { block: hash, height }),
            Some(now) if now != hash => return Err(Problem::Reorged { block: hash, height, now }),
            Some(_) => {}
        }
        let txs = self.block(&hash)?;
        txs.get(txid).ok_or(Problem::NotInBlock { block: hash, height })
    }

    fn hash_at(&mut self, height: u32) -> Result<Option<BlockHash>, Problem> {
        if let Some(known) = self.heights.get(&height) {
            return Ok(*known);
        }
        let hash = self
            .source
            .hash_at(height)
            .map_err(|source| Problem::Node { what: format!("the best chain's block at height {height}"), source })?;
        self.heights.insert(height, hash);
        Ok(hash)
    }

    /// The wanted transactions of a block, fetched once.
    fn block(&mut self, hash: &BlockHash) -> Result<&HashMap<Txid, Transaction>, Problem> {
        if !self.blocks.contains_key(hash) {
            let block = self
                .source
                .fetch_block(hash)
                .map_err(|source| Problem::Node { what: format!("block {hash}"), source })?;
            let wanted = self.wanted.get(hash);
            let txs = block
                .txdata
                .into_iter()
                .map(|tx| (tx.compute_txid(), tx))
                .filter(|(txid, _)| wanted.is_some_and(|w| w.contains(txid)))
                .collect();
            self.blocks.insert(*hash, txs);
        }
        Ok(self.blocks.get(hash).expect("inserted just above"))
    }
}

/// The output `vout` of `tx` has the value, script and address the hop states.
fn check_output(hop: &Hop, tx: &Transaction, vout: u32, network: Network) -> Result<(), Problem> {
    let output = tx.output.get(vout as usize).ok_or(Problem::NoOutput { vout, count: tx.output.len() })?;
    if let Some(value) = hop.value_sat {
        if value != output.value.to_sat() {
            return Err(Problem::Value { report: value, node: output.value.to_sat() });
        }
    }
    let script = hex::encode(output.script_pubkey.as_bytes());
    if let Some(stated) = &hop.script_hex {
        if !stated.eq_ignore_ascii_case(&script) {
            return Err(Problem::Script { report: stated.clone(), node: script });
        }
    }
    if let Some(stated) = &hop.address {
        let paid = Address::from_script(&output.script_pubkey, network.bitcoin()).ok().map(|a| a.to_string());
        if paid.as_deref() != Some(stated.as_str()) {
            return Err(Problem::Address { report: stated.clone(), node: paid.unwrap_or_else(|| "no address".into()) });
        }
    }
    Ok(())
}

fn parse_txid(text: &str) -> Result<Txid, Problem> {
    Txid::from_str(text).map_err(|_| Problem::Malformed { what: "txid", text: text.to_string() })
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
