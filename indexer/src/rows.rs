//! Turns blocks into rows (`apply`) and takes them back out (`undo`), through one write batch.
//!
//! Every write of a block goes through [`Pending`], which records the value each key held before
//! (when undo data is kept for that block). Undoing a block writes those prior values back in
//! reverse order: rollback is the apply path run backwards, not a second implementation.

use std::collections::HashMap;

use bitcoin::hashes::Hash;
use bitcoin::{consensus, Block, Transaction};
use rocksdb::WriteBatch;

use crate::schema::*;
use crate::store::{hex_hash, Store, StoreError, WriteMode};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("block {height} ({hash}) does not extend the indexed tip {tip}")]
    NotOnTip { height: u32, hash: String, tip: String },
    #[error("transaction {txid} spends {prev_txid}:{vout}, which is not in the index")]
    MissingPrevout { txid: String, prev_txid: String, vout: u32 },
    #[error("transaction number space exhausted at height {0}")]
    TxNumOverflow(u32),
    #[error("no undo data for block {height}: the index can roll back at most its undo depth; re-index to recover")]
    NoUndo { height: u32 },
    #[error("asked to undo block {asked} but the indexed tip is {tip:?}")]
    UndoNotTip { asked: u32, tip: Option<u32> },
}

/// Column families that `apply` reads back, and so are mirrored in the in-memory overlay.
const READ_BACK: [&str; 4] = [CF_TXIDS, CF_OUTPUTS, CF_SCRIPTS, CF_UTXOS];

/// Writes of one or more blocks not yet committed, readable before they are.
pub struct Pending<'s> {
    store: &'s Store,
    batch: WriteBatch,
    overlay: HashMap<(u8, Vec<u8>), Option<Vec<u8>>>,
    undo: Option<Vec<UndoEntry>>,
    meta: Meta,
    blocks: u32,
    txs: u64,
    bytes: u64,
}

/// What a committed batch held, for progress reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct BatchSummary {
    pub blocks: u32,
    pub txs: u64,
    pub bytes: u64,
}

impl<'s> Pending<'s> {
    pub fn new(store: &'s Store, meta: Meta) -> Self {
        Pending { store, batch: WriteBatch::default(), overlay: HashMap::new(), undo: None, meta, blocks: 0, txs: 0, bytes: 0 }
    }

    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    pub fn is_empty(&self) -> bool {
        self.blocks == 0
    }

    pub fn txs(&self) -> u64 {
        self.txs
    }

    fn get(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        debug_assert!(READ_BACK.contains(&cf));
        match self.overlay.get(&(cf_id(cf), key.to_vec())) {
            Some(v) => Ok(v.clone()),
            None => self.store.get(cf, key),
        }
    }

    /// Writes `value` (`None` deletes). `old` is what the key held, when the caller knows it;
    /// otherwise it is read.
    fn set(&mut self, cf: &str, key: &[u8], value: Option<Vec<u8>>, old: Known) -> Result<(), StoreError> {
        if self.undo.is_some() {
            let old = match old {
                Known::Absent => None,
                Known::Was(v) => v,
                Known::Read => self.get(cf, key)?,
            };
            if let Some(undo) = self.undo.as_mut() {
                undo.push(UndoEntry { cf: cf_id(cf), key: key.to_vec(), old });
            }
        }
        self.store.batch_set(&mut self.batch, cf, key, value.as_deref());
        if READ_BACK.contains(&cf) {
            self.overlay.insert((cf_id(cf), key.to_vec()), value);
        }
        Ok(())
    }

    /// Writes a key that cannot exist yet (its key holds a new tx number or block).
    fn insert(&mut self, cf: &str, key: &[u8], value: Vec<u8>) -> Result<(), StoreError> {
        self.set(cf, key, Some(value), Known::Absent)
    }

    /// Commits everything pending in one atomic write, tip included.
    pub fn commit(&mut self, mode: WriteMode) -> Result<BatchSummary, StoreError> {
        let batch = std::mem::take(&mut self.batch);
        self.store.write(batch, mode)?;
        self.overlay.clear();
        let summary = BatchSummary { blocks: self.blocks, txs: self.txs, bytes: self.bytes };
        (self.blocks, self.txs, self.bytes) = (0, 0, 0);
        Ok(summary)
    }

    /// Adds one block on top of the pending tip. Undo data is kept when `keep_undo` is set and
    /// undo rows more than `undo_depth` blocks below it are dropped.
    pub fn apply(&mut self, block: &Block, height: u32, keep_undo: bool, undo_depth: u32) -> Result<(), ApplyError> {
        let hash = block.block_hash().to_byte_array();
        let expected_prev = self.meta.tip.map(|(_, h)| h).unwrap_or([0; 32]);
        let expected_height = self.meta.tip.map(|(h, _)| h + 1).unwrap_or(0);
        if block.header.prev_blockhash.to_byte_array() != expected_prev || height != expected_height {
            return Err(ApplyError::NotOnTip {
                height,
                hash: hex_hash(&hash),
                tip: self.meta.tip.map(|(h, b)| format!("{h} ({})", hex_hash(&b))).unwrap_or_else(|| "(empty)".into()),
            });
        }
        let meta_before = self.meta.clone();
        self.undo = keep_undo.then(Vec::new);
        let first = self.meta.next_txnum;
        for (pos, tx) in block.txdata.iter().enumerate() {
            let num = first.checked_add(pos as u32).ok_or(ApplyError::TxNumOverflow(height))?;
            self.apply_tx(tx, num, height, pos as u32)?;
        }
        let count = block.txdata.len() as u32;
        let size = consensus::serialize(block).len() as u32;
        let header: [u8; 80] = consensus::serialize(&block.header).try_into().expect("a header is 80 bytes");
        let row = HeaderRow { hash, header, first_txnum: first, tx_count: count, size };
        self.insert(CF_HEADERS, &height_key(height), row.encode())?;
        self.insert(CF_BLOCK_HEIGHTS, &hash, height_key(height).to_vec())?;
        self.meta.tip = Some((height, hash));
        self.meta.next_txnum = first.checked_add(count).ok_or(ApplyError::TxNumOverflow(height))?;
        self.store.batch_set(&mut self.batch, CF_META, META_KEY, Some(&self.meta.encode()));
        if let Some(entries) = self.undo.take() {
            let undo = BlockUndo { entries, meta_before };
            self.store.batch_set(&mut self.batch, CF_UNDO, &height_key(height), Some(&undo.encode()));
        }
        if let Some(stale) = height.checked_sub(undo_depth) {
            self.store.batch_set(&mut self.batch, CF_UNDO, &height_key(stale), None);
        }
        self.blocks += 1;
        self.txs += u64::from(count);
        self.bytes += u64::from(size);
        Ok(())
    }

    fn apply_tx(&mut self, tx: &Transaction, num: TxNum, height: u32, position: u32) -> Result<(), ApplyError> {
        let txid = tx.compute_txid().to_byte_array();
        let mut nums = self.get(CF_TXIDS, &txid)?.map(|b| decode_txnums(&b)).transpose().map_err(StoreError::from)?.unwrap_or_default();
        let old = (!nums.is_empty()).then(|| encode_txnums(&nums));
        nums.push(num);
        self.set(CF_TXIDS, &txid, Some(encode_txnums(&nums)), Known::Was(old))?;
        let row = TxRow { txid, height, position, inputs: tx.input.len() as u32, outputs: tx.output.len() as u32 };
        self.insert(CF_TXS, &txnum_key(num), row.encode())?;

        let mut touched: HashMap<ScriptId, StatsDelta> = HashMap::new();
        if position != 0 {
            for (vin, input) in tx.input.iter().enumerate() {
                let vin = vin as u32;
                let prev = &input.previous_output;
                let missing = || ApplyError::MissingPrevout {
                    txid: hex_hash(&txid),
                    prev_txid: prev.txid.to_string(),
                    vout: prev.vout,
                };
                let prev_nums = self.get(CF_TXIDS, prev.txid.as_byte_array())?;
                let prev_num = *prev_nums
                    .map(|b| decode_txnums(&b))
                    .transpose()
                    .map_err(StoreError::from)?
                    .and_then(|n| n.last().copied())
                    .as_ref()
                    .ok_or_else(missing)?;
                let out_key = io_key(prev_num, prev.vout);
                let out = self.get(CF_OUTPUTS, &out_key)?.ok_or_else(missing)?;
                let out = OutputRow::decode(&out).map_err(StoreError::from)?;
                let spent = IoRef { txnum: prev_num, index: prev.vout };
                self.insert(CF_INPUTS, &io_key(num, vin), InputRow { prev: spent, value: out.value }.encode())?;
                self.insert(CF_SPENDS, &out_key, IoRef { txnum: num, index: vin }.encode().to_vec())?;
                let script = out.script_id();
                let key = HistoryKey { script, txnum: num, kind: EventKind::Spent, index: vin };
                self.insert(CF_HISTORY, &key.encode(), encode_value(out.value).to_vec())?;
                self.set(CF_UTXOS, &utxo_key(&script, prev_num, prev.vout), None, Known::Read)?;
                touched.entry(script).or_default().spent(out.value);
            }
        }
        for (vout, out) in tx.output.iter().enumerate() {
            let vout = vout as u32;
            let row = OutputRow { value: out.value.to_sat(), script: out.script_pubkey.to_bytes() };
            let spendable = !row.is_unspendable();
            let script = row.script_id();
            self.insert(CF_OUTPUTS, &io_key(num, vout), row.encode())?;
            if spendable {
                let key = HistoryKey { script, txnum: num, kind: EventKind::Funded, index: vout };
                self.insert(CF_HISTORY, &key.encode(), encode_value(row.value).to_vec())?;
                let utxo = UtxoRow { value: row.value, height };
                self.insert(CF_UTXOS, &utxo_key(&script, num, vout), utxo.encode().to_vec())?;
                touched.entry(script).or_default().funded(row.value);
            }
        }
        let mut touched: Vec<_> = touched.into_iter().collect();
        touched.sort_by_key(|(s, _)| *s);
        for (script, delta) in touched {
            let old = self.get(CF_SCRIPTS, &script.0)?;
            let stats = old.as_deref().map(ScriptStats::decode).transpose().map_err(StoreError::from)?;
            let stats = delta.applied_to(stats, height);
            self.set(CF_SCRIPTS, &script.0, Some(stats.encode()), Known::Was(old))?;
        }
        Ok(())
    }
}

/// What the caller knows of a key's value before a write.
enum Known {
    /// The key cannot exist yet.
    Absent,
    /// The key held this.
    Was(Option<Vec<u8>>),
    /// Unknown: read it.
    Read,
}

/// What one transaction did to one script.
#[derive(Default)]
struct StatsDelta {
    funded: u64,
    funded_outputs: u32,
    spent: u64,
    spent_outputs: u32,
}

impl StatsDelta {
    fn funded(&mut self, value: u64) {
        self.funded += value;
        self.funded_outputs += 1;
    }

    fn spent(&mut self, value: u64) {
        self.spent += value;
        self.spent_outputs += 1;
    }

    fn applied_to(&self, before: Option<ScriptStats>, height: u32) -> ScriptStats {
        let mut s = before.unwrap_or(ScriptStats { first_height: height, ..Default::default() });
        s.balance = s.balance + self.funded - self.spent;
        s.received += self.funded;
        s.sent += self.spent;
        s.tx_count += 1;
        s.funded_outputs += self.funded_outputs;
        s.spent_outputs += self.spent_outputs;
        s.last_height = height;
        s
    }
}

/// Takes the indexed tip block back out, restoring every key it wrote and the meta row before
/// it, in one atomic write. Returns the new tip height, if any.
pub fn undo_tip(store: &Store, height: u32) -> Result<Option<u32>, ApplyError> {
    let meta = store.meta()?;
    let tip = meta.as_ref().and_then(|m| m.tip.map(|(h, _)| h));
    if tip != Some(height) {
        return Err(ApplyError::UndoNotTip { asked: height, tip });
    }
    let undo = store.undo(height)?.ok_or(ApplyError::NoUndo { height })?;
    let mut batch = WriteBatch::default();
    for entry in undo.entries.iter().rev() {
        let cf = COLUMN_FAMILIES[entry.cf as usize];
        store.batch_set(&mut batch, cf, &entry.key, entry.old.as_deref());
    }
    store.batch_set(&mut batch, CF_UNDO, &height_key(height), None);
    store.batch_set(&mut batch, CF_META, META_KEY, Some(&undo.meta_before.encode()));
    store.write(batch, WriteMode::Tip)?;
    Ok(undo.meta_before.tip.map(|(h, _)| h))
}
