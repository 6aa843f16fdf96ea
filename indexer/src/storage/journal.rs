//! Writes of one or more blocks not yet committed: readable before they are, committed in one
//! atomic batch, and journaled so a block can be taken back out.
//!
//! Every write of a block goes through [`Journal`], which records the value each key held before
//! (when undo data is kept for that block). Undoing a block writes those prior values back in
//! reverse order: rollback is the apply path run backwards, not a second implementation.

use rustc_hash::FxHashMap as HashMap;

use crate::storage::kv::{RawWrite, WriteMode};
use crate::storage::schema::*;
use crate::storage::store::{Store, StoreError};

/// The tables whose pending writes stay readable through the journal (mirrored in its in-memory
/// overlay): those its user reads back while applying. The stages declare theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadBack([bool; TABLES.len()]);

impl ReadBack {
    pub const fn of(tables: &[u8]) -> Self {
        ReadBack([false; TABLES.len()]).with(tables)
    }

    pub const fn with(mut self, tables: &[u8]) -> Self {
        let mut i = 0;
        while i < tables.len() {
            self.0[tables[i] as usize] = true;
            i += 1;
        }
        self
    }

    pub fn contains(&self, table: u8) -> bool {
        self.0[table as usize]
    }
}

type Overlay = HashMap<(u8, Vec<u8>), Option<Vec<u8>>>;

/// Numbers filed under an 8-byte prefix in `txids` or `script_ids` by pending writes.
type PrefixOverlay = HashMap<(u8, [u8; 8]), Vec<u64>>;

/// What the caller knows of a key's value before a write.
pub enum Known {
    /// The key cannot exist yet (it holds a new number or block).
    Absent,
    /// The key held this (encoded).
    Was(Option<Vec<u8>>),
    /// Unknown: read it.
    Read,
}

/// What a committed batch held, for progress reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct BatchSummary {
    pub blocks: u32,
    pub txs: u64,
    pub bytes: u64,
}

/// Pending writes over a store.
pub struct Journal<'s> {
    store: &'s Store,
    read_back: ReadBack,
    /// Per table, in write order.
    writes: Vec<TableWrites>,
    overlay: Overlay,
    /// The overlay of a batch taken by [`Journal::take_batch`] whose write has not landed yet.
    settling: Overlay,
    prefixed: PrefixOverlay,
    settling_prefixed: PrefixOverlay,
    /// Undo entries of the block being applied, when it keeps undo data.
    undo: Option<Vec<UndoEntry>>,
    /// The block being applied goes straight to the segment files (its rows of segmented tables).
    sealing: bool,
    pub(crate) summary: BatchSummary,
}

impl<'s> Journal<'s> {
    pub fn new(store: &'s Store, read_back: ReadBack) -> Self {
        Journal {
            store,
            read_back,
            writes: new_writes(),
            overlay: HashMap::default(),
            settling: HashMap::default(),
            prefixed: HashMap::default(),
            settling_prefixed: HashMap::default(),
            undo: None,
            sealing: false,
            summary: BatchSummary::default(),
        }
    }

    pub fn store(&self) -> &'s Store {
        self.store
    }

    /// Nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.writes.iter().all(|w| w.entries.is_empty())
    }

    /// Reads a read-back table through the pending writes.
    pub fn get<T: Table>(&self, key: &T::Key) -> Result<Option<T::Value>, StoreError> {
        debug_assert!(self.read_back.contains(T::ID), "{} is not read back", T::NAME);
        match self.get_raw(T::ID, key.encode())? {
            Some(bytes) => Ok(Some(T::Value::decode(&bytes)?)),
            None => Ok(None),
        }
    }

    fn get_raw(&self, table: u8, key: Vec<u8>) -> Result<Option<Vec<u8>>, StoreError> {
        // Both overlays hold every write to read-back tables: a key in neither is not in a
        // batch still being written, so the store is exact.
        let key = (table, key);
        match self.overlay.get(&key).or_else(|| self.settling.get(&key)) {
            Some(v) => Ok(v.clone()),
            None => self.store.kv().get_raw(table, &key.1),
        }
    }

    /// Numbers under `prefix` in `txids` (`T` = [`Txids`]) or `script_ids` ([`ScriptIds`]),
    /// pending writes included, in ascending order.
    pub fn prefixed<T: Table<Key = PrefixKey>>(&self, prefix: &[u8; 8]) -> Result<Vec<u64>, StoreError> {
        let mut nums = self.store.kv().prefixed::<T>(prefix)?;
        for overlay in [&self.settling_prefixed, &self.prefixed] {
            nums.extend(overlay.get(&(T::ID, *prefix)).into_iter().flatten());
        }
        // A batch that has landed but not settled is in both the store and an overlay.
        nums.sort_unstable();
        nums.dedup();
        Ok(nums)
    }

    /// Files `num` under `prefix` in `txids` or `script_ids`.
    pub fn insert_prefixed<T: Table<Key = PrefixKey, Value = Empty>>(
        &mut self,
        prefix: [u8; 8],
        num: u64,
    ) -> Result<(), StoreError> {
        self.writes[T::ID as usize].push(&PrefixKey { prefix, num }, Some(&Empty));
        self.journal_write(T::ID, Known::Absent)?;
        self.prefixed.entry((T::ID, prefix)).or_default().push(num);
        Ok(())
    }

    /// Starts a block: its writes are journaled when `keep_undo`. With `seal` (a block without
    /// undo data, every earlier block sealed) its rows of segmented tables go straight to the
    /// segment files.
    pub fn begin_block(&mut self, keep_undo: bool, seal: bool) {
        debug_assert!(!(keep_undo && seal), "a block that can be undone is not sealed");
        self.undo = keep_undo.then(Vec::new);
        self.sealing = seal;
    }

    /// Ends a block: its undo entries, if kept.
    pub fn end_block(&mut self) -> Option<Vec<UndoEntry>> {
        self.sealing = false;
        self.undo.take()
    }

    /// Writes `value` to `key` of `T` (`None` deletes).
    pub fn set<T: Table>(&mut self, key: &T::Key, value: Option<&T::Value>, old: Known) -> Result<(), StoreError> {
        if T::STORAGE == Storage::Segmented && self.sealing {
            if let Some(value) = value {
                self.append::<T>(key, &value.encode())?;
                return Ok(());
            }
        }
        let fresh = matches!(old, Known::Absent);
        let w = &mut self.writes[T::ID as usize];
        w.push(key, value);
        w.entries.last_mut().expect("just pushed").fresh = fresh;
        self.journal_write(T::ID, old)
    }

    /// Appends a row of a segmented table to its segment file.
    fn append<T: Table>(&self, key: &T::Key, value: &[u8]) -> Result<(), StoreError> {
        let segment = self.store.kv().segments().of(T::ID).expect("a segmented table has a segment");
        segment.push(u64::decode(&key.encode())?, value);
        Ok(())
    }

    /// Moves row `num` of segmented table `T` from its column family (pending writes included)
    /// to its segment file, in the batch being built: for a block now deeper than the undo
    /// window. Returns whether the row existed.
    pub fn seal<T: Table<Key = u64>>(&mut self, num: u64) -> Result<bool, StoreError> {
        let Some(value) = self.get_raw(T::ID, num.encode())? else { return Ok(false) };
        self.append::<T>(&num, &value)?;
        self.writes[T::ID as usize].push::<u64, Empty>(&num, None);
        if self.read_back.contains(T::ID) {
            self.overlay.remove(&(T::ID, num.encode()));
        }
        Ok(true)
    }

    /// Writes a key that cannot exist yet.
    pub fn insert<T: Table>(&mut self, key: &T::Key, value: &T::Value) -> Result<(), StoreError> {
        self.set::<T>(key, Some(value), Known::Absent)
    }

    /// Records the last write to `table` in the undo entries (when kept) and the overlay (for
    /// read-back tables). Reads of the old value see the state before this write.
    fn journal_write(&mut self, table: u8, old: Known) -> Result<(), StoreError> {
        let read_back = self.read_back.contains(table);
        if self.undo.is_none() && !read_back {
            return Ok(());
        }
        let w = &self.writes[table as usize];
        let entry = *w.entries.last().expect("called right after a write");
        let key = w.key(&entry).to_vec();
        let value = w.value(&entry).map(<[u8]>::to_vec);
        if self.undo.is_some() {
            let old = match old {
                Known::Absent => None,
                Known::Was(v) => v,
                Known::Read => self.get_raw(table, key.clone())?,
            };
            if let Some(undo) = self.undo.as_mut() {
                undo.push(UndoEntry { table, key: key.clone(), old });
            }
        }
        if read_back {
            self.overlay.insert((table, key), value);
        }
        Ok(())
    }

    /// Writes bookkeeping rows (meta, undo records) that are never journaled themselves.
    pub fn put_unjournaled<T: Table>(&mut self, key: &T::Key, value: Option<&T::Value>) {
        self.writes[T::ID as usize].push(key, value);
    }

    /// Commits everything pending in one atomic write.
    pub fn commit(&mut self, mode: WriteMode) -> Result<BatchSummary, StoreError> {
        let summary = self.take_batch().write(self.store, mode)?;
        self.settled();
        Ok(summary)
    }

    /// Takes everything pending as one batch to write, possibly on another thread, while more
    /// blocks are applied. Until [`Journal::settled`] is called, reads still see the batch.
    pub fn take_batch(&mut self) -> Batch {
        debug_assert!(self.settling.is_empty(), "the previous batch has not settled");
        self.settling = std::mem::take(&mut self.overlay);
        self.settling_prefixed = std::mem::take(&mut self.prefixed);
        let writes = std::mem::replace(&mut self.writes, new_writes());
        Batch { writes, summary: std::mem::take(&mut self.summary) }
    }

    /// The batch last taken is in the store.
    pub fn settled(&mut self) {
        self.settling.clear();
        self.settling_prefixed.clear();
    }
}

/// Where one write's key and value lie in its table's buffer.
#[derive(Debug, Clone, Copy)]
struct Entry {
    key: usize,
    /// Where the key ends and the value starts.
    value: usize,
    end: usize,
    delete: bool,
    /// Writes a key that cannot have existed before this write.
    fresh: bool,
}

/// One table's pending writes: keys and values packed in one buffer, in write order. One
/// allocation per table instead of two per write.
#[derive(Default)]
struct TableWrites {
    bytes: Vec<u8>,
    entries: Vec<Entry>,
}

fn new_writes() -> Vec<TableWrites> {
    (0..TABLES.len()).map(|_| TableWrites::default()).collect()
}

impl TableWrites {
    fn push<K: Codec, V: Codec>(&mut self, key: &K, value: Option<&V>) {
        let start = self.bytes.len();
        key.encode_to(&mut self.bytes);
        let key_end = self.bytes.len();
        if let Some(v) = value {
            v.encode_to(&mut self.bytes);
        }
        self.entries.push(Entry {
            key: start,
            value: key_end,
            end: self.bytes.len(),
            delete: value.is_none(),
            fresh: false,
        });
    }

    fn key(&self, e: &Entry) -> &[u8] {
        &self.bytes[e.key..e.value]
    }

    fn value(&self, e: &Entry) -> Option<&[u8]> {
        (!e.delete).then(|| &self.bytes[e.value..e.end])
    }
}

/// The writes of one or more blocks, to be committed in one atomic write.
pub struct Batch {
    writes: Vec<TableWrites>,
    summary: BatchSummary,
}

impl Batch {
    /// Writes the batch. Each table's writes go in sorted by key, keeping only the last write of
    /// each key: the same end state as writing them in order, but RocksDB's memtable inserts
    /// sorted keys far faster than random ones. Tables keyed by new numbers arrive sorted and are
    /// not sorted again. A key first written as new and last deleted is not written at all.
    pub fn write(mut self, store: &Store, mode: WriteMode) -> Result<BatchSummary, StoreError> {
        // The rows this batch sealed are on disk before the mark that records them.
        store.kv().segments().flush()?;
        self.sort();
        store.kv().write_iter(self.net_writes(), mode)?;
        Ok(self.summary)
    }

    fn sort(&mut self) {
        for w in &mut self.writes {
            let bytes = &w.bytes;
            let key = |e: &Entry| &bytes[e.key..e.value];
            if !w.entries.is_sorted_by(|a, b| key(a) < key(b)) {
                // Stable: of two writes to one key, the later stays later, and wins below.
                w.entries.sort_by(|a, b| key(a).cmp(key(b)));
            }
        }
    }

    /// The last write of each key, per table in key order (after [`Batch::sort`]): (table id,
    /// key, value or `None` to delete).
    fn net_writes(&self) -> impl Iterator<Item = (u8, &[u8], Option<&[u8]>)> {
        self.writes.iter().enumerate().flat_map(|(table, w)| {
            let entries = &w.entries;
            // Whether the key being written was absent before the batch: then a delete as its
            // last write (an output created and spent within the batch) writes nothing at all.
            let mut absent_before = false;
            entries.iter().enumerate().filter_map(move |(i, e)| {
                if i == 0 || w.key(&entries[i - 1]) != w.key(e) {
                    absent_before = e.fresh;
                }
                let superseded = entries.get(i + 1).is_some_and(|next| w.key(next) == w.key(e));
                let never_existed = absent_before && e.delete;
                (!superseded && !never_existed).then(|| (table as u8, w.key(e), w.value(e)))
            })
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UndoError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no undo data for block {height}: the index can roll back at most its undo depth; re-index to recover")]
    NoUndo { height: u32 },
    #[error("asked to undo block {asked} but the indexed tip is {tip:?}")]
    NotTip { asked: u32, tip: Option<u32> },
}

/// Takes the indexed tip block back out, restoring every key it wrote (in every stage) and the
/// meta row before it, in one atomic write. Returns the new tip height, if any.
pub fn undo_tip(store: &Store, height: u32) -> Result<Option<u32>, UndoError> {
    let tip = store.meta()?.and_then(|m| m.tip.map(|(h, _)| h));
    if tip != Some(height) {
        return Err(UndoError::NotTip { asked: height, tip });
    }
    // A sealed block has no undo data (sealing drops it): this is a second guard.
    if store.sealed()?.blocks > height {
        return Err(UndoError::NoUndo { height });
    }
    let undo = store.undo(height)?.ok_or(UndoError::NoUndo { height })?;
    let mut writes: Vec<RawWrite> = undo.entries.into_iter().rev().map(|e| (e.table, e.key, e.old)).collect();
    writes.push((Undo::ID, height.encode(), None));
    let meta_before = undo.meta_before;
    writes.push((MetaTable::ID, MetaKey.encode(), Some(meta_before.encode())));
    // Written in order (not sorted): a key written twice by the block is restored to its
    // oldest value, which comes last.
    store.kv().write(&writes, WriteMode::Tip)?;
    Ok(meta_before.tip.map(|(h, _)| h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_created_and_deleted_in_one_batch_is_not_written_and_others_keep_their_last_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_writable(dir.path(), 1 << 20).unwrap();
        let mut j = Journal::new(&store, ReadBack::of(&[Stages::ID]));
        let key = |txnum| UtxoKey { script: 1, txnum, vout: 0 };
        // Spent within the batch: never written.
        j.insert::<Utxos>(&key(5), &Sats(10)).unwrap();
        j.set::<Utxos>(&key(5), None, Known::Was(Some(Sats(10).encode()))).unwrap();
        // Created before the batch, spent in it: a delete.
        j.set::<Utxos>(&key(3), None, Known::Was(Some(Sats(7).encode()))).unwrap();
        // Created in the batch, still unspent: written.
        j.insert::<Utxos>(&key(6), &Sats(4)).unwrap();
        // Written twice: the last value.
        j.set::<Stages>(&StageId::Addresses, Some(&Checkpoint { height: 1, hash: [1; 32] }), Known::Read).unwrap();
        j.set::<Stages>(&StageId::Addresses, Some(&Checkpoint { height: 2, hash: [2; 32] }), Known::Read).unwrap();
        let mut batch = j.take_batch();
        batch.sort();
        let writes: Vec<_> = batch.net_writes().map(|(t, k, v)| (t, k.to_vec(), v.map(<[u8]>::to_vec))).collect();
        let stage = Checkpoint { height: 2, hash: [2; 32] }.encode();
        assert_eq!(
            writes,
            vec![
                (Stages::ID, StageId::Addresses.encode(), Some(stage)),
                (Utxos::ID, key(3).encode(), None),
                (Utxos::ID, key(6).encode(), Some(Sats(4).encode())),
            ]
        );
    }
}
