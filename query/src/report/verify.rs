//! Re-checking a case report against a node: its format, its digest, the node's chain, then every
//! hop in order — its block still in the best chain at its height, its transaction in that block,
//! the output's value, script and address, and the input that spent it — stopping at the first
//! that no longer holds; then whether the outputs it records as unspent still are. What the node
//! returned becomes an [`Excerpt`] of the index, on which the answer is computed again
//! ([`super::recompute`]).

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use bitcoin::hashes::Hash;
use bitcoin::{Address, Block, BlockHash, OutPoint, Transaction, Txid};
use indexer::network::Network;
use indexer::node::{NodeError, Rpc};
use indexer::storage::excerpt::{Excerpt, ExcerptBlock, ExcerptCluster, ExcerptInput, ExcerptTx};
use indexer::storage::schema::{Checkpoint, ClusterState, StageId};

use super::{digest_of, unsealed, BlockRef, CaseReport, Hop, Spend, FORMAT};
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
    /// Whether an output is unspent at the node's tip (`gettxout`).
    fn unspent(&mut self, outpoint: &OutPoint) -> Result<bool, NodeError>;
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

    fn unspent(&mut self, outpoint: &OutPoint) -> Result<bool, NodeError> {
        self.unspent_now(outpoint)
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
    #[error("the report's {what} is malformed: {}", cut(.text, ID_QUOTE_MAX))]
    Malformed { what: &'static str, text: String },
    #[error("the report's outputs do not hold its answer: {0}")]
    Incomplete(String),
    #[error("the answer does not follow from the report's outputs: at {field}, the report says {}, computed again from its outputs: {}", cut(.recorded, QUOTE_MAX), cut(.computed, QUOTE_MAX))]
    Answer { field: String, recorded: String, computed: String },
    /// Not a source: the line says it all.
    #[error("the signature does not hold: {0}")]
    Signature(super::sign::SignError),
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
    #[error(
        "recorded unspent, but spent at or before the report's tip (height {tip}): the report leaves out where it went"
    )]
    SpentBefore { tip: u32 },
}

/// A report whose hops hold, how much was checked, and what the node returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub hops_checked: usize,
    /// Distinct blocks fetched from the node.
    pub blocks_checked: usize,
    /// The node's best block when the checks began.
    pub tip: BlockRef,
    /// Its time, UTC (ISO 8601).
    pub tip_time: String,
    /// Outputs the report records as unspent, checked at the node's tip.
    pub unspent_checked: usize,
    /// Of those, the ones spent in a block after the report's tip, with where.
    pub moved_since: Vec<Moved>,
    /// The index excerpt the node's copies make, for computing the answer again.
    pub excerpt: Excerpt,
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
    unsealed(&mut file);
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
    let (mut unspent_checked, mut moved) = (0, HashMap::new());
    for (i, hop) in report.hops.iter().enumerate() {
        let (Some(vout), None) = (hop.vout, &hop.spent_by) else { continue };
        if hop.script_hex.as_deref().is_some_and(|s| s.starts_with("6a")) {
            continue;
        }
        let outpoint = OutPoint { txid: parse_txid(&hop.txid).map_err(|p| failed(i, hop, p))?, vout };
        unspent_checked += 1;
        if !checker.source.unspent(&outpoint)? {
            moved.insert(outpoint, i);
        }
    }
    let moved_since =
        spent_since(report, height, moved, checker.source).map_err(|(i, p)| failed(i, &report.hops[i], p))?;
    let tip_hash = parse_block(&report.tip.hash)?;
    let now = checker.header(&parse_block(&tip.hash)?)?;
    let tip_time = crate::model::utc(now.time);
    let genesis = checker.source.hash_at(0)?.ok_or(VerifyError::TipMoved(0))?;
    let mut excerpt = checker.excerpt(report)?;
    excerpt.network = report.network.clone();
    excerpt.genesis = genesis.to_byte_array();
    excerpt.tip = (report.tip.height, tip_hash.to_byte_array());
    if !excerpt.blocks.iter().any(|b| b.height == report.tip.height) {
        let header = bitcoin::consensus::serialize(&checker.header(&tip_hash)?);
        excerpt.blocks.push(ExcerptBlock {
            height: report.tip.height,
            hash: tip_hash.to_byte_array(),
            header: header.try_into().expect("a header is 80 bytes"),
        });
    }
    index_state(report, &mut excerpt)?;
    Ok(Verified {
        hops_checked: count,
        blocks_checked: checker.blocks.len(),
        tip,
        tip_time,
        unspent_checked,
        moved_since,
        excerpt,
    })
}

/// An output the report records unspent that a later block spent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub outpoint: OutPoint,
    pub spent_by: Txid,
    pub vin: u32,
    pub height: u32,
}

/// Where each output recorded unspent but spent at the node's tip was spent, searching the
/// blocks after the report's tip up to `tip`. One not spent there was spent at or before the
/// report's tip, so the report left a branch out: the error names its hop.
fn spent_since(
    report: &CaseReport,
    tip: u32,
    mut wanted: HashMap<OutPoint, usize>,
    source: &mut impl ChainSource,
) -> Result<Vec<Moved>, (usize, Problem)> {
    let mut found = Vec::new();
    let mut height = report.tip.height;
    while !wanted.is_empty() && height < tip {
        height += 1;
        let node = |what: String| move |source| Problem::Node { what, source };
        let first = *wanted.values().min().expect("not empty");
        let hash = source
            .hash_at(height)
            .map_err(|e| (first, node(format!("the block at height {height}"))(e)))?
            .ok_or((first, Problem::SpentBefore { tip: report.tip.height }))?;
        let block = source.fetch_block(&hash).map_err(|e| (first, node(format!("block {hash}"))(e)))?;
        for tx in &block.txdata {
            for (vin, input) in tx.input.iter().enumerate() {
                if wanted.remove(&input.previous_output).is_some() {
                    let spent_by = tx.compute_txid();
                    found.push(Moved { outpoint: input.previous_output, spent_by, vin: vin as u32, height });
                }
            }
        }
    }
    if let Some(&first) = wanted.values().min() {
        return Err((first, Problem::SpentBefore { tip: report.tip.height }));
    }
    found.sort_by_key(|m| (m.height, m.outpoint));
    Ok(found)
}

fn parse_block(text: &str) -> Result<BlockHash, VerifyError> {
    BlockHash::from_str(text).map_err(|_| VerifyError::Malformed { what: "block hash", text: text.to_string() })
}

fn hex_script(text: &str) -> Result<Vec<u8>, VerifyError> {
    hex::decode(text).map_err(|_| VerifyError::Malformed { what: "script", text: text.to_string() })
}

/// The excerpt's scripts, clusters and stage checkpoints, from what the report records of the
/// index.
fn index_state(report: &CaseReport, excerpt: &mut Excerpt) -> Result<(), VerifyError> {
    for script in &report.scripts_used {
        excerpt.scripts.push(hex_script(script)?);
    }
    for c in &report.clusters_used {
        let scripts: Vec<Vec<u8>> = c.scripts.iter().map(|s| hex_script(s)).collect::<Result<_, _>>()?;
        let first = hex_script(&c.first_script_hex)?;
        let root = match &c.tagged_member {
            Some(member) => hex_script(member)?,
            None => scripts.first().cloned().unwrap_or_else(|| first.clone()),
        };
        excerpt.clusters.push(ExcerptCluster { root, members: scripts, size: c.size, first });
    }
    if let Some((version, change)) = report.index.cluster_heuristics {
        excerpt.cluster_state = Some(ClusterState { version, change, next_script: u64::MAX >> 24 });
    }
    for (stage, at) in [(StageId::Addresses, &report.index.addresses), (StageId::Clusters, &report.index.clusters)] {
        if let Some(at) = at {
            let hash = parse_block(&at.hash)?.to_byte_array();
            excerpt.stages.push((stage, Checkpoint { height: at.height, hash }));
        }
    }
    Ok(())
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
    /// The wanted transactions of each block fetched, with their positions, and its header.
    blocks: HashMap<BlockHash, Fetched>,
}

/// What is kept of a block fetched.
struct Fetched {
    height: u32,
    header: bitcoin::block::Header,
    txs: HashMap<Txid, (u32, Transaction)>,
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
        let fetched = self.block(&hash, height)?;
        fetched.txs.get(txid).map(|(_, tx)| tx).ok_or(Problem::NotInBlock { block: hash, height })
    }

    /// The header of a block, fetching it if it was not.
    fn header(&mut self, hash: &BlockHash) -> Result<bitcoin::block::Header, VerifyError> {
        if let Some(fetched) = self.blocks.get(hash) {
            return Ok(fetched.header);
        }
        Ok(self.source.fetch_block(hash)?.header)
    }

    /// The excerpt of the index the fetched transactions make: each with all its outputs, what
    /// the report says spent them, and its inputs where the report names the output each spent.
    fn excerpt(&self, report: &CaseReport) -> Result<Excerpt, VerifyError> {
        let mut txs: Vec<(u32, u32, Txid, &Transaction)> = Vec::new();
        let mut blocks = Vec::new();
        for (hash, fetched) in &self.blocks {
            let header = bitcoin::consensus::serialize(&fetched.header);
            blocks.push(ExcerptBlock {
                height: fetched.height,
                hash: hash.to_byte_array(),
                header: header.try_into().expect("a header is 80 bytes"),
            });
            txs.extend(fetched.txs.iter().map(|(txid, (position, tx))| (fetched.height, *position, *txid, tx)));
        }
        blocks.sort_by_key(|b| b.height);
        txs.sort_by_key(|t| (t.0, t.1));
        let index: HashMap<Txid, usize> = txs.iter().enumerate().map(|(i, t)| (t.2, i)).collect();
        // What spent each output, by the report.
        let mut spent: HashMap<OutPoint, (Txid, u32, u64)> = HashMap::new();
        for hop in &report.hops {
            let (Some(vout), Some(by), Some(value)) = (hop.vout, &hop.spent_by, hop.value_sat) else { continue };
            let (Ok(txid), Ok(by_txid)) = (Txid::from_str(&hop.txid), Txid::from_str(&by.txid)) else { continue };
            spent.insert(OutPoint { txid, vout }, (by_txid, by.vin, value));
        }
        let mut out = Vec::with_capacity(txs.len());
        for &(height, position, txid, tx) in &txs {
            let outputs = tx.output.iter().map(|o| (o.value.to_sat(), o.script_pubkey.to_bytes())).collect();
            let mut by = Vec::new();
            for vout in 0..tx.output.len() as u32 {
                if let Some((by_txid, vin, _)) = spent.get(&OutPoint { txid, vout }) {
                    let at = index.get(by_txid).ok_or_else(|| {
                        VerifyError::Incomplete(format!(
                            "{txid}:{vout} is spent by {by_txid}, whose block was not checked"
                        ))
                    })?;
                    by.push((vout, *at, *vin));
                }
            }
            let inputs = match tx.is_coinbase() {
                true => Some(Vec::new()),
                false => tx
                    .input
                    .iter()
                    .enumerate()
                    .map(|(vin, input)| {
                        let (by_txid, by_vin, value) = spent.get(&input.previous_output)?;
                        let prev = *index.get(&input.previous_output.txid)?;
                        (*by_txid == txid && *by_vin == vin as u32).then_some(ExcerptInput {
                            prev,
                            vout: input.previous_output.vout,
                            value: *value,
                        })
                    })
                    .collect::<Option<Vec<_>>>(),
            };
            out.push(ExcerptTx { txid: txid.to_byte_array(), height, position, outputs, inputs, spent: by });
        }
        Ok(Excerpt { blocks, txs: out, ..Excerpt::default() })
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
    fn block(&mut self, hash: &BlockHash, height: u32) -> Result<&Fetched, Problem> {
        if !self.blocks.contains_key(hash) {
            let block = self
                .source
                .fetch_block(hash)
                .map_err(|source| Problem::Node { what: format!("block {hash}"), source })?;
            let wanted = self.wanted.get(hash);
            let txs = block
                .txdata
                .into_iter()
                .enumerate()
                .map(|(position, tx)| (tx.compute_txid(), (position as u32, tx)))
                .filter(|(txid, _)| wanted.is_some_and(|w| w.contains(txid)))
                .collect();
            self.blocks.insert(*hash, Fetched { height, header: block.header, txs });
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
