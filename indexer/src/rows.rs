//! Turns blocks into rows (`apply`) and takes them back out (`undo`), through one write batch.
//!
//! Every write of a block goes through [`Pending`], which records the value each key held before
//! (when undo data is kept for that block). Undoing a block writes those prior values back in
//! reverse order: rollback is the apply path run backwards, not a second implementation.

use std::collections::HashMap;

use bitcoin::hashes::Hash;
use bitcoin::{consensus, Block, Transaction, TxOut};
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
    /// Every write of the pending blocks, in order.
    writes: Vec<Write>,
    overlay: Overlay,
    /// The overlay of a batch taken by [`Pending::take_batch`] whose write has not landed yet.
    settling: Overlay,
    undo: Option<Vec<UndoEntry>>,
    meta: Meta,
    blocks: u32,
    txs: u64,
    bytes: u64,
}

type Overlay = HashMap<(u8, Vec<u8>), Option<Vec<u8>>>;

/// One write: column family id, key, and the new value (`None` deletes).
type Write = (u8, Vec<u8>, Option<Vec<u8>>);

/// What a committed batch held, for progress reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct BatchSummary {
    pub blocks: u32,
    pub txs: u64,
    pub bytes: u64,
}

impl<'s> Pending<'s> {
    pub fn new(store: &'s Store, meta: Meta) -> Self {
        Pending {
            store,
            writes: Vec::new(),
            overlay: HashMap::new(),
            settling: HashMap::new(),
            undo: None,
            meta,
            blocks: 0,
            txs: 0,
            bytes: 0,
        }
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
        let key = (cf_id(cf), key.to_vec());
        // Only read-back column families are ever read, and both overlays hold every write to
        // those: a key in neither is not in a batch still being written, so the store is exact.
        match self.overlay.get(&key).or_else(|| self.settling.get(&key)) {
            Some(v) => Ok(v.clone()),
            None => self.store.get(cf, &key.1),
        }
    }

    /// Writes `value` (`None` deletes). `old` is what the key held, when the caller knows it;
    /// otherwise it is read.
    fn set(&mut self, cf: &str, key: &[u8], value: Option<Vec<u8>>, old: Known) -> Result<(), StoreError> {
        let id = cf_id(cf);
        if self.undo.is_some() {
            let old = match old {
                Known::Absent => None,
                Known::Was(v) => v,
                Known::Read => self.get(cf, key)?,
            };
            if let Some(undo) = self.undo.as_mut() {
                undo.push(UndoEntry { cf: id, key: key.to_vec(), old });
            }
        }
        if READ_BACK.contains(&cf) {
            self.overlay.insert((id, key.to_vec()), value.clone());
        }
        self.writes.push((id, key.to_vec(), value));
        Ok(())
    }

    /// Writes a key that cannot exist yet (its key holds a new tx number or block).
    fn insert(&mut self, cf: &str, key: &[u8], value: Vec<u8>) -> Result<(), StoreError> {
        self.set(cf, key, Some(value), Known::Absent)
    }

    /// Commits everything pending in one atomic write, tip included.
    pub fn commit(&mut self, mode: WriteMode) -> Result<BatchSummary, StoreError> {
        let summary = self.take_batch().write(self.store, mode)?;
        self.settled();
        Ok(summary)
    }

    /// Takes everything pending as one batch to write, possibly on another thread, while more
    /// blocks are applied. Until [`Pending::settled`] is called, reads still see the batch.
    /// Call `settled` once the batch's write has landed, before taking the next batch.
    pub fn take_batch(&mut self) -> Batch {
        debug_assert!(self.settling.is_empty(), "the previous batch has not settled");
        self.settling = std::mem::take(&mut self.overlay);
        let summary = BatchSummary { blocks: self.blocks, txs: self.txs, bytes: self.bytes };
        (self.blocks, self.txs, self.bytes) = (0, 0, 0);
        Batch { writes: std::mem::take(&mut self.writes), summary }
    }

    /// The batch last taken is in the store.
    pub fn settled(&mut self) {
        self.settling.clear();
    }
    /// Adds one block on top of the pending tip. `spent`, when the feed gives it, holds the
    /// outputs each transaction spends (saving a read of each). Undo data is kept when
    /// `keep_undo` is set and undo rows more than `undo_depth` blocks below it are dropped.
    pub fn apply(
        &mut self,
        block: &Block,
        spent: Option<&[Vec<TxOut>]>,
        height: u32,
        keep_undo: bool,
        undo_depth: u32,
    ) -> Result<(), ApplyError> {
        let hash = block.block_hash().to_byte_array();
        let expected_prev = self.meta.tip.map(|(_, h)| h).unwrap_or([0; 32]);
        let expected_height = self.meta.next_height();
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
            self.apply_tx(tx, spent.map(|s| s[pos].as_slice()), num, height, pos as u32)?;
        }
        let count = block.txdata.len() as u32;
        let size = block.total_size() as u32;
        let header: [u8; 80] = consensus::serialize(&block.header).try_into().expect("a header is 80 bytes");
        let row = HeaderRow { hash, header, first_txnum: first, tx_count: count, size };
        self.insert(CF_HEADERS, &height_key(height), row.encode())?;
        self.insert(CF_BLOCK_HEIGHTS, &hash, height_key(height).to_vec())?;
        self.meta.tip = Some((height, hash));
        self.meta.next_txnum = first.checked_add(count).ok_or(ApplyError::TxNumOverflow(height))?;
        self.writes.push((cf_id(CF_META), META_KEY.to_vec(), Some(self.meta.encode())));
        if let Some(entries) = self.undo.take() {
            let undo = BlockUndo { entries, meta_before };
            self.writes.push((cf_id(CF_UNDO), height_key(height).to_vec(), Some(undo.encode())));
        }
        if let Some(stale) = height.checked_sub(undo_depth) {
            self.writes.push((cf_id(CF_UNDO), height_key(stale).to_vec(), None));
        }
        self.blocks += 1;
        self.txs += u64::from(count);
        self.bytes += u64::from(size);
        Ok(())
    }

    fn apply_tx(&mut self, tx: &Transaction, spent: Option<&[TxOut]>, num: TxNum, height: u32, position: u32) -> Result<(), ApplyError> {
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
                let given = spent.map(|s| &s[vin]);
                let (script, value) = self.spend_input(&txid, num, vin as u32, &input.previous_output, given)?;
                touched.entry(script).or_default().spent(value);
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

impl Pending<'_> {
    /// Records input `vin` of tx `num` spending `prev`: the input row, the spend edge, the spent
    /// script's history event, and the UTXO's removal. The spent output is `given` by the feed,
    /// or read. Returns the spent script and value.
    fn spend_input(
        &mut self,
        txid: &[u8; 32],
        num: TxNum,
        vin: u32,
        prev: &bitcoin::OutPoint,
        given: Option<&TxOut>,
    ) -> Result<(ScriptId, u64), ApplyError> {
        let missing = || ApplyError::MissingPrevout { txid: hex_hash(txid), prev_txid: prev.txid.to_string(), vout: prev.vout };
        let prev_nums = self.get(CF_TXIDS, prev.txid.as_byte_array())?.map(|b| decode_txnums(&b)).transpose().map_err(StoreError::from)?;
        // A BIP30 duplicate txid: the latest occurrence is the spendable one, as in Core.
        let prev_num = prev_nums.and_then(|n| n.last().copied()).ok_or_else(missing)?;
        let out_key = io_key(prev_num, prev.vout);
        let out = match given {
            Some(o) => OutputRow { value: o.value.to_sat(), script: o.script_pubkey.to_bytes() },
            None => {
                let bytes = self.get(CF_OUTPUTS, &out_key)?.ok_or_else(missing)?;
                OutputRow::decode(&bytes).map_err(StoreError::from)?
            }
        };
        let spent = IoRef { txnum: prev_num, index: prev.vout };
        self.insert(CF_INPUTS, &io_key(num, vin), InputRow { prev: spent, value: out.value }.encode())?;
        self.insert(CF_SPENDS, &out_key, IoRef { txnum: num, index: vin }.encode().to_vec())?;
        let script = out.script_id();
        let key = HistoryKey { script, txnum: num, kind: EventKind::Spent, index: vin };
        self.insert(CF_HISTORY, &key.encode(), encode_value(out.value).to_vec())?;
        self.set(CF_UTXOS, &utxo_key(&script, prev_num, prev.vout), None, Known::Read)?;
        Ok((script, out.value))
    }
}

/// The writes of one or more blocks, to be committed in one atomic write.
pub struct Batch {
    writes: Vec<Write>,
    summary: BatchSummary,
}

impl Batch {
    /// Writes the batch. The writes go in sorted by column family and key, keeping only the last
    /// write of each key: the same end state as writing them in order, but RocksDB's memtable
    /// inserts sorted keys far faster than random ones.
    pub fn write(mut self, store: &Store, mode: WriteMode) -> Result<BatchSummary, StoreError> {
        self.writes.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let mut batch = WriteBatch::default();
        for (i, (cf, key, value)) in self.writes.iter().enumerate() {
            let superseded = self.writes.get(i + 1).is_some_and(|next| next.0 == *cf && next.1 == *key);
            if !superseded {
                store.batch_set(&mut batch, COLUMN_FAMILIES[*cf as usize], key, value.as_deref());
            }
        }
        drop(self.writes);
        store.write(batch, mode)?;
        Ok(self.summary)
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

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::block::{Header, Version};
    use bitcoin::hashes::Hash;
    use bitcoin::{
        absolute, transaction, Amount, BlockHash, CompactTarget, OutPoint, ScriptBuf, Sequence, TxIn, TxMerkleNode, TxOut,
        Witness,
    };

    fn script(tag: u8) -> ScriptBuf {
        ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array([tag; 20]))
    }

    fn tx(inputs: Vec<OutPoint>, outputs: Vec<(ScriptBuf, u64)>, coinbase_tag: Option<u8>) -> Transaction {
        let input = match coinbase_tag {
            Some(tag) => vec![TxIn { script_sig: ScriptBuf::from_bytes(vec![1, tag]), ..TxIn::default() }],
            None => inputs
                .into_iter()
                .map(|previous_output| TxIn { previous_output, sequence: Sequence::MAX, witness: Witness::new(), ..TxIn::default() })
                .collect(),
        };
        let output = outputs.into_iter().map(|(script_pubkey, v)| TxOut { value: Amount::from_sat(v), script_pubkey }).collect();
        Transaction { version: transaction::Version::TWO, lock_time: absolute::LockTime::ZERO, input, output }
    }

    fn block(prev: BlockHash, nonce: u32, txdata: Vec<Transaction>) -> Block {
        let header = Header {
            version: Version::TWO,
            prev_blockhash: prev,
            merkle_root: TxMerkleNode::all_zeros(),
            time: 1_700_000_000 + nonce,
            bits: CompactTarget::from_consensus(0x207fffff),
            nonce,
        };
        Block { header, txdata }
    }

    fn fresh_meta() -> Meta {
        Meta { schema_version: SCHEMA_VERSION, network: "regtest".into(), genesis_hash: [0; 32], tip: None, next_txnum: 0 }
    }

    /// Genesis, then blocks 1..=3: coinbases, a spend of an earlier coinbase, an in-block chain,
    /// address reuse and an OP_RETURN.
    fn chain() -> Vec<Block> {
        let genesis = bitcoin::constants::genesis_block(bitcoin::Network::Regtest);
        let b1 = block(genesis.block_hash(), 1, vec![tx(vec![], vec![(script(1), 5_000), (script(2), 1_000)], Some(1))]);
        let cb1 = b1.txdata[0].compute_txid();
        let pay = tx(vec![OutPoint::new(cb1, 0)], vec![(script(3), 3_000), (script(1), 1_900)], None);
        let chained = tx(vec![OutPoint::new(pay.compute_txid(), 0)], vec![(script(4), 2_900), (ScriptBuf::new_op_return([7u8; 4]), 0)], None);
        let b2 = block(b1.block_hash(), 2, vec![tx(vec![], vec![(script(5), 5_000)], Some(2)), pay.clone(), chained]);
        let consolidate = tx(vec![OutPoint::new(pay.compute_txid(), 1), OutPoint::new(cb1, 1)], vec![(script(6), 2_800)], None);
        let b3 = block(b2.block_hash(), 3, vec![tx(vec![], vec![(script(1), 5_000)], Some(3)), consolidate]);
        vec![genesis, b1, b2, b3]
    }

    fn apply_all(store: &Store, blocks: &[Block]) {
        let mut pending = Pending::new(store, store.meta().unwrap().unwrap_or_else(fresh_meta));
        let start = pending.meta().tip.map(|t| t.0 + 1).unwrap_or(0);
        for (i, b) in blocks.iter().enumerate() {
            pending.apply(b, None, start + i as u32, true, 100).unwrap();
        }
        pending.commit(WriteMode::Tip).unwrap();
    }

    fn dump(store: &Store) -> Vec<crate::store::Row> {
        COLUMN_FAMILIES.iter().filter(|cf| **cf != CF_UNDO).flat_map(|cf| store.scan(cf, &[], &[]).map(|r| r.unwrap())).collect()
    }

    #[test]
    fn undoing_blocks_restores_exactly_the_rows_of_the_shorter_chain() {
        let blocks = chain();
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let long = Store::open_writable(a.path(), 1 << 20).unwrap();
        apply_all(&long, &blocks);
        assert_eq!(undo_tip(&long, 3).unwrap(), Some(2));
        assert_eq!(undo_tip(&long, 2).unwrap(), Some(1));
        let short = Store::open_writable(b.path(), 1 << 20).unwrap();
        apply_all(&short, &blocks[..2]);
        assert_eq!(dump(&long), dump(&short));
        assert!(matches!(undo_tip(&long, 3), Err(ApplyError::UndoNotTip { asked: 3, tip: Some(1) })));
        // And the rolled-back blocks apply again on top.
        apply_all(&long, &blocks[2..]);
        let full = tempfile::tempdir().unwrap();
        let full_store = Store::open_writable(full.path(), 1 << 20).unwrap();
        apply_all(&full_store, &blocks);
        assert_eq!(dump(&long), dump(&full_store));
    }

    #[test]
    fn balances_history_and_spend_edges_follow_the_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_writable(dir.path(), 1 << 20).unwrap();
        apply_all(&store, &chain());
        let s1 = store.script_stats(&ScriptId::of(script(1).as_bytes())).unwrap().unwrap();
        // script 1: 5000 (b1 coinbase, spent) + 1900 (change, spent in b3) + 5000 (b3 coinbase).
        assert_eq!((s1.balance, s1.received, s1.sent), (5_000, 11_900, 6_900));
        assert_eq!((s1.tx_count, s1.funded_outputs, s1.spent_outputs, s1.first_height, s1.last_height), (4, 3, 2, 1, 3));
        let s6 = store.script_stats(&ScriptId::of(script(6).as_bytes())).unwrap().unwrap();
        assert_eq!(s6.balance, 2_800);
        // Block 2 holds txnums 2 (coinbase), 3 (pay), 4 (chained); block 3: 5, 6.
        assert_eq!(store.spend(3, 0).unwrap(), Some(IoRef { txnum: 4, index: 0 }));
        assert_eq!(store.inputs(6).unwrap().iter().map(|(i, r)| (*i, r.prev, r.value)).collect::<Vec<_>>(), vec![
            (0, IoRef { txnum: 3, index: 1 }, 1_900),
            (1, IoRef { txnum: 1, index: 1 }, 1_000)
        ]);
        let op_return = store.output(4, 1).unwrap().unwrap();
        assert!(op_return.is_unspendable());
        assert!(store.script_stats(&op_return.script_id()).unwrap().is_none());
        let history = store.history(&ScriptId::of(script(1).as_bytes()), 0, 100).unwrap();
        let events: Vec<_> = history.iter().map(|(k, v)| (k.txnum, k.kind, *v)).collect();
        assert_eq!(events, vec![
            (1, EventKind::Funded, 5_000),
            (3, EventKind::Funded, 1_900),
            (3, EventKind::Spent, 5_000),
            (5, EventKind::Funded, 5_000),
            (6, EventKind::Spent, 1_900)
        ]);
        let utxos = store.utxos(&ScriptId::of(script(1).as_bytes()), 10).unwrap();
        assert_eq!(utxos, vec![(5, 0, UtxoRow { value: 5_000, height: 3 })]);
    }

    #[test]
    fn spent_outputs_given_by_the_feed_give_the_same_rows_as_reading_them() {
        let blocks = chain();
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let read = Store::open_writable(a.path(), 1 << 20).unwrap();
        apply_all(&read, &blocks);
        let given = Store::open_writable(b.path(), 1 << 20).unwrap();
        let mut outputs: HashMap<bitcoin::OutPoint, TxOut> = HashMap::new();
        let mut pending = Pending::new(&given, fresh_meta());
        for (height, block) in blocks.iter().enumerate() {
            let mut spent: Vec<Vec<TxOut>> = Vec::new();
            for tx in &block.txdata {
                let prevouts = tx.input.iter().filter(|_| !tx.is_coinbase()).map(|i| outputs[&i.previous_output].clone());
                spent.push(prevouts.collect());
                for (vout, out) in tx.output.iter().enumerate() {
                    outputs.insert(bitcoin::OutPoint::new(tx.compute_txid(), vout as u32), out.clone());
                }
            }
            pending.apply(block, Some(&spent), height as u32, true, 100).unwrap();
        }
        pending.commit(WriteMode::Tip).unwrap();
        assert_eq!(dump(&read), dump(&given));
    }

    #[test]
    fn a_duplicated_coinbase_txid_keeps_both_occurrences_and_spends_resolve_to_the_latest() {
        let genesis = bitcoin::constants::genesis_block(bitcoin::Network::Regtest);
        let dup = tx(vec![], vec![(script(9), 50)], Some(9));
        let b1 = block(genesis.block_hash(), 1, vec![dup.clone()]);
        let b2 = block(b1.block_hash(), 2, vec![dup.clone()]);
        let spend = tx(vec![OutPoint::new(dup.compute_txid(), 0)], vec![(script(8), 40)], None);
        let b3 = block(b2.block_hash(), 3, vec![tx(vec![], vec![(script(7), 50)], Some(3)), spend]);
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_writable(dir.path(), 1 << 20).unwrap();
        apply_all(&store, &[genesis, b1, b2, b3]);
        assert_eq!(store.txnums(dup.compute_txid().as_byte_array()).unwrap(), vec![1, 2]);
        assert_eq!(store.tx(1).unwrap().unwrap().height, 1);
        assert_eq!(store.tx(2).unwrap().unwrap().height, 2);
        assert_eq!(store.spend(1, 0).unwrap(), None);
        assert_eq!(store.spend(2, 0).unwrap(), Some(IoRef { txnum: 4, index: 0 }));
        assert_eq!(store.output(1, 0).unwrap().unwrap().value, 50);
        undo_tip(&store, 3).unwrap();
        undo_tip(&store, 2).unwrap();
        assert_eq!(store.txnums(dup.compute_txid().as_byte_array()).unwrap(), vec![1]);
    }

    #[test]
    fn a_block_that_does_not_extend_the_tip_is_refused_before_anything_is_written() {
        let blocks = chain();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_writable(dir.path(), 1 << 20).unwrap();
        apply_all(&store, &blocks[..2]);
        let mut pending = Pending::new(&store, store.meta().unwrap().unwrap());
        assert!(matches!(pending.apply(&blocks[3], None, 2, true, 100), Err(ApplyError::NotOnTip { height: 2, .. })));
        assert!(pending.is_empty());
        let err = pending.apply(&blocks[2], None, 5, true, 100).unwrap_err();
        assert!(err.to_string().contains("does not extend the indexed tip 1"), "{err}");
    }
}
