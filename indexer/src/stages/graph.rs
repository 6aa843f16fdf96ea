//! The transaction graph, the stage fed by the node: a block becomes transaction, txid, output,
//! input, spend and script rows, plus the [`BlockRows`] every derived stage is built from. The
//! same [`BlockRows`] can be loaded back from stored rows, so a derived stage catches up without
//! the node.

use rustc_hash::FxHashMap as HashMap;

use bitcoin::hashes::Hash;
use bitcoin::{Block, OutPoint, Transaction, TxOut};

use crate::stages::StageTables;
use crate::storage::journal::Journal;
use crate::storage::schema::*;
use crate::storage::store::{hex_hash, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("transaction {txid} spends {prev_txid}:{vout}, which is not in the index")]
    MissingPrevout { txid: String, prev_txid: String, vout: u32 },
    #[error("transaction {txid} spends {prev_txid}:{vout}, an unspendable output")]
    SpendsUnspendable { txid: String, prev_txid: String, vout: u32 },
    #[error("number space exhausted at height {0}")]
    NumOverflow(u32),
    #[error("block {height} is not indexed (stage catch-up reads only indexed blocks)")]
    NotIndexed { height: u32 },
    #[error("the index says output {prev_txid}:{vout} holds {indexed} sat but the node says {node} sat: the database is corrupt; re-index into a new directory")]
    Disagrees { prev_txid: String, vout: u32, indexed: u64, node: u64 },
}

/// The graph's tables. It reads back what it resolves inputs and scripts from, and sealing
/// reads back every segmented row and the headers that bound a block's numbers.
pub const TABLES: StageTables = StageTables {
    writes: &[
        Headers::ID,
        BlockHeights::ID,
        Txs::ID,
        Txids::ID,
        Outputs::ID,
        Inputs::ID,
        Spends::ID,
        Scripts::ID,
        ScriptIds::ID,
    ],
    reads: &[Headers::ID, Txs::ID, Outputs::ID, Inputs::ID, Scripts::ID, Spends::ID],
};

/// An input as the derived stages see it: the output it spent, its value and script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpentInput {
    pub prev: IoRef,
    pub value: u64,
    pub script: ScriptNum,
}

/// An unspent output that a BIP30 duplicate coinbase overwrote: gone, as in Core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overwritten {
    pub out: OutKey,
    pub value: u64,
    pub script: ScriptNum,
}

/// One transaction's rows, by number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRows {
    pub num: TxNum,
    pub outputs: Vec<OutputEntry>,
    pub inputs: Vec<SpentInput>,
    pub overwritten: Vec<Overwritten>,
}

/// A block's transactions as numbers: the input of every derived stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockRows {
    pub height: u32,
    pub hash: [u8; 32],
    pub txs: Vec<TxRows>,
}

/// Scripts seen recently, by bytes: most outputs pay a script seen shortly before.
struct ScriptCache {
    map: HashMap<Vec<u8>, ScriptNum>,
}

/// Entries the script cache holds before it starts over: bounds memory.
const SCRIPT_CACHE_ENTRIES: usize = 1 << 18;

/// Txids of recent transactions: most inputs spend a recent one. Two generations, so memory
/// stays bounded and the most recent entries are always kept.
#[derive(Default)]
struct TxidCache {
    current: HashMap<[u8; 32], TxNum>,
    previous: HashMap<[u8; 32], TxNum>,
}

/// Entries per generation of the txid cache (about 60 bytes each).
const TXID_CACHE_ENTRIES: usize = 1 << 19;

impl TxidCache {
    fn get(&self, txid: &[u8; 32]) -> Option<TxNum> {
        self.current.get(txid).or_else(|| self.previous.get(txid)).copied()
    }

    fn insert(&mut self, txid: [u8; 32], num: TxNum) {
        if self.current.len() >= TXID_CACHE_ENTRIES {
            self.previous = std::mem::take(&mut self.current);
        }
        // A later occurrence of a txid (BIP30) replaces the earlier one: spends resolve to it.
        self.current.insert(txid, num);
    }
}

/// Applies blocks to the graph tables.
pub struct GraphWriter {
    scripts: ScriptCache,
    txids: TxidCache,
}

impl Default for GraphWriter {
    fn default() -> Self {
        GraphWriter { scripts: ScriptCache { map: HashMap::default() }, txids: TxidCache::default() }
    }
}

impl GraphWriter {
    /// Writes the graph rows of `block` at `height` on top of `meta`'s tip, advancing `meta`'s
    /// counters. The caller has checked that the block extends the tip.
    /// `spent`, when the feed gives it, holds the outputs each transaction spends as the node
    /// sees them: every spent value is checked against the index.
    pub fn apply(
        &mut self,
        j: &mut Journal<'_>,
        meta: &mut Meta,
        block: &Block,
        spent: Option<&[Vec<TxOut>]>,
        height: u32,
    ) -> Result<BlockRows, GraphError> {
        let hash = block.block_hash().to_byte_array();
        let first = meta.next_txnum;
        let first_scriptnum = meta.next_scriptnum;
        let mut txs = Vec::with_capacity(block.txdata.len());
        for (pos, tx) in block.txdata.iter().enumerate() {
            let num = first + pos as u64;
            if num > MAX_NUM {
                return Err(GraphError::NumOverflow(height));
            }
            let rows = self.apply_tx(j, meta, tx, num, height, pos as u32)?;
            if let Some(spent) = spent {
                check_values(tx, &rows, &spent[pos])?;
            }
            txs.push(rows);
        }
        let size = block.total_size() as u32;
        let header: [u8; 80] = bitcoin::consensus::serialize(&block.header).try_into().expect("a header is 80 bytes");
        j.insert::<Headers>(
            &height,
            &HeaderRow { hash, header, first_txnum: first, tx_count: txs.len() as u32, size, first_scriptnum },
        )?;
        j.insert::<BlockHeights>(&BlockHashKey(hash), &height)?;
        meta.next_txnum = first + txs.len() as u64;
        meta.tip = Some((height, hash));
        Ok(BlockRows { height, hash, txs })
    }

    fn apply_tx(
        &mut self,
        j: &mut Journal<'_>,
        meta: &mut Meta,
        tx: &Transaction,
        num: TxNum,
        height: u32,
        position: u32,
    ) -> Result<TxRows, GraphError> {
        let txid = tx.compute_txid().to_byte_array();
        let prefix = PrefixKey::of_txid(&txid);
        let overwritten = if position == 0 { overwritten_by(j, &txid)? } else { Vec::new() };
        j.insert::<Txs>(&num, &TxRow { txid, height, position })?;
        j.insert_prefixed::<Txids>(prefix, num)?;

        let mut inputs = Vec::new();
        if position != 0 {
            for (vin, input) in tx.input.iter().enumerate() {
                let cached = self.txids.get(input.previous_output.txid.as_byte_array());
                let spent = spend(j, &txid, &input.previous_output, cached)?;
                j.insert::<Spends>(
                    &OutKey { txnum: spent.prev.txnum, vout: spent.prev.index },
                    &IoRef { txnum: num, index: vin as u32 },
                )?;
                inputs.push(spent);
            }
        }
        // A coinbase's row is empty: every transaction has one, so the table stays dense.
        let rows: Vec<InputRow> = inputs.iter().map(|i| InputRow { prev: i.prev, value: i.value }).collect();
        j.insert::<Inputs>(&num, &InputsRow::of(num, &rows))?;
        let mut outputs = Vec::with_capacity(tx.output.len());
        for out in &tx.output {
            let bytes = out.script_pubkey.as_bytes();
            let script = if is_unspendable(bytes) {
                OutScript::Unspendable(bytes.to_vec())
            } else {
                OutScript::Num(self.script_num(j, meta, bytes)?)
            };
            outputs.push(OutputEntry { value: out.value.to_sat(), script });
        }
        let row = OutputsRow(outputs);
        j.insert::<Outputs>(&num, &row)?;
        self.txids.insert(txid, num);
        Ok(TxRows { num, outputs: row.0, inputs, overwritten })
    }

    /// The number of a spendable script, assigning the next one if it is new.
    fn script_num(&mut self, j: &mut Journal<'_>, meta: &mut Meta, script: &[u8]) -> Result<ScriptNum, GraphError> {
        if let Some(num) = self.scripts.map.get(script) {
            return Ok(*num);
        }
        let prefix = PrefixKey::of_script(script);
        let mut found = None;
        for candidate in j.prefixed::<ScriptIds>(&prefix)? {
            if j.get::<Scripts>(&candidate)?.is_some_and(|s| s.0 == script) {
                found = Some(candidate);
                break;
            }
        }
        let num = match found {
            Some(num) => num,
            None => {
                let num = meta.next_scriptnum;
                if num > MAX_NUM {
                    return Err(GraphError::NumOverflow(meta.next_height()));
                }
                meta.next_scriptnum += 1;
                j.insert::<Scripts>(&num, &ScriptBytes(script.to_vec()))?;
                j.insert_prefixed::<ScriptIds>(prefix, num)?;
                num
            }
        };
        if self.scripts.map.len() >= SCRIPT_CACHE_ENTRIES {
            self.scripts.map.clear();
        }
        self.scripts.map.insert(script.to_vec(), num);
        Ok(num)
    }
}

/// Every spent value the index resolved must be the one the node reports.
fn check_values(tx: &Transaction, rows: &TxRows, node: &[TxOut]) -> Result<(), GraphError> {
    for ((input, ours), theirs) in tx.input.iter().zip(&rows.inputs).zip(node) {
        if ours.value != theirs.value.to_sat() {
            return Err(GraphError::Disagrees {
                prev_txid: input.previous_output.txid.to_string(),
                vout: input.previous_output.vout,
                indexed: ours.value,
                node: theirs.value.to_sat(),
            });
        }
    }
    Ok(())
}

/// Transaction numbers of a txid, pending writes included, checking full txids when the prefix
/// is shared. `known` means the txid is known to be indexed (an input's spent tx), so a single
/// candidate needs no check.
fn txnums(j: &Journal<'_>, txid: &[u8; 32], known: bool) -> Result<Vec<TxNum>, GraphError> {
    let candidates = j.prefixed::<Txids>(&PrefixKey::of_txid(txid))?;
    if known && candidates.len() == 1 {
        return Ok(candidates);
    }
    let mut nums = Vec::new();
    for num in candidates {
        if j.get::<Txs>(&num)?.is_some_and(|row| &row.txid == txid) {
            nums.push(num);
        }
    }
    Ok(nums)
}

/// Resolves an input: the latest occurrence of the spent txid (BIP30 duplicates resolve to the
/// latest, as in Core; so does the cache, `cached`), and the spent output's value and script.
fn spend(j: &Journal<'_>, txid: &[u8; 32], prev: &OutPoint, cached: Option<TxNum>) -> Result<SpentInput, GraphError> {
    let what = || (hex_hash(txid), prev.txid.to_string(), prev.vout);
    let missing = || {
        let (txid, prev_txid, vout) = what();
        GraphError::MissingPrevout { txid, prev_txid, vout }
    };
    let prev_num = match cached {
        Some(num) => num,
        None => *txnums(j, prev.txid.as_byte_array(), true)?.last().ok_or_else(missing)?,
    };
    let outputs = j.get::<Outputs>(&prev_num)?.ok_or_else(missing)?;
    let out = outputs.0.get(prev.vout as usize).ok_or_else(missing)?;
    match out.script {
        OutScript::Num(script) => {
            Ok(SpentInput { prev: IoRef { txnum: prev_num, index: prev.vout }, value: out.value, script })
        }
        OutScript::Unspendable(_) => {
            let (txid, prev_txid, vout) = what();
            Err(GraphError::SpendsUnspendable { txid, prev_txid, vout })
        }
    }
}

/// The unspent outputs of earlier occurrences of a coinbase's txid, which it overwrites.
fn overwritten_by(j: &Journal<'_>, txid: &[u8; 32]) -> Result<Vec<Overwritten>, GraphError> {
    let mut gone = Vec::new();
    for earlier in txnums(j, txid, false)? {
        let outputs = j.get::<Outputs>(&earlier)?.unwrap_or_default();
        unspent_outputs(earlier, &outputs, |key| Ok(j.get::<Spends>(key)?.is_some()), &mut gone)?;
    }
    Ok(gone)
}

/// Appends the spendable outputs of tx `num` that `is_spent` says nothing spent.
fn unspent_outputs(
    num: TxNum,
    outputs: &OutputsRow,
    is_spent: impl Fn(&OutKey) -> Result<bool, StoreError>,
    gone: &mut Vec<Overwritten>,
) -> Result<(), StoreError> {
    for (vout, out) in outputs.0.iter().enumerate() {
        let key = OutKey { txnum: num, vout: vout as u32 };
        if let OutScript::Num(script) = out.script {
            if !is_spent(&key)? {
                gone.push(Overwritten { out: key, value: out.value, script });
            }
        }
    }
    Ok(())
}

impl BlockRows {
    /// Loads an indexed block's rows back from the store, for a stage catching up.
    pub fn load(store: &Store, height: u32) -> Result<BlockRows, GraphError> {
        let header = store.header(height)?.ok_or(GraphError::NotIndexed { height })?;
        let mut txs = Vec::with_capacity(header.tx_count as usize);
        for num in header.first_txnum..header.first_txnum + u64::from(header.tx_count) {
            let outputs = store.output_entries(num)?.unwrap_or_default().0;
            let mut inputs = Vec::new();
            for (_, input) in store.inputs(num)? {
                let prev = store.output_entries(input.prev.txnum)?.unwrap_or_default();
                let script = match prev.0.get(input.prev.index as usize).map(|o| &o.script) {
                    Some(OutScript::Num(s)) => *s,
                    _ => return Err(corrupt_input(num, input.prev)),
                };
                inputs.push(SpentInput { prev: input.prev, value: input.value, script });
            }
            let overwritten = if num == header.first_txnum { stored_overwrites(store, num)? } else { Vec::new() };
            txs.push(TxRows { num, outputs, inputs, overwritten });
        }
        Ok(BlockRows { height, hash: header.hash, txs })
    }
}

fn corrupt_input(num: TxNum, prev: IoRef) -> GraphError {
    GraphError::Store(StoreError::Decode(DecodeError {
        what: "inputs",
        why: format!("transaction {num} spends output {}:{} that has no spendable row", prev.txnum, prev.index),
    }))
}

/// What coinbase `num` overwrote: earlier occurrences of its txid never spent (after it, spends
/// resolve to it, so their spend rows can only predate it).
fn stored_overwrites(store: &Store, num: TxNum) -> Result<Vec<Overwritten>, GraphError> {
    let row = store.tx(num)?.ok_or_else(|| corrupt_input(num, IoRef { txnum: num, index: 0 }))?;
    let mut gone = Vec::new();
    for earlier in store.txnums(&row.txid)?.into_iter().filter(|e| *e < num) {
        let outputs = store.output_entries(earlier)?.unwrap_or_default();
        unspent_outputs(earlier, &outputs, |key| Ok(store.spend(key.txnum, key.vout)?.is_some()), &mut gone)?;
    }
    Ok(gone)
}
