//! The index as the domain reads it: blocks, transactions, outputs and inputs, spends, scripts,
//! history, unspent outputs and undo records, by number, over the key-value layer
//! ([`Kv`]). What `query` and the engines hold: no raw table access goes past it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::storage::kv::Kv;
pub use crate::storage::kv::{Result, Row, StoreError};
use crate::storage::schema::*;

/// The domain reader (and, for the writer, the database it writes through the journal).
pub struct Store {
    kv: Kv,
    /// Set while [`Store::record`] is on.
    recording: AtomicBool,
    reads: Mutex<Reads>,
}

/// What a reader looked at while recording: what a case file must carry for its answer to be
/// computed again from it alone (see [`Store::record`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reads {
    /// Transactions whose outputs, or what spent them, were read.
    pub outputs: BTreeSet<TxNum>,
    /// Transactions whose inputs were read.
    pub inputs: BTreeSet<TxNum>,
    /// Scripts whose history was read.
    pub histories: BTreeSet<ScriptNum>,
    /// Scripts looked up by their bytes and found.
    pub scripts: BTreeSet<ScriptNum>,
    /// Scripts whose cluster was looked up.
    pub clusters: BTreeSet<ScriptNum>,
    /// Cluster roots whose members were listed.
    pub members: BTreeSet<ScriptNum>,
}

impl Store {
    /// Opens (creating if absent) the database the indexer writes. A directory holding anything
    /// but one of our databases is refused untouched.
    pub fn open_writable(path: &Path, cache_bytes: usize) -> Result<Store> {
        Ok(Store::over(Kv::open_writable(path, cache_bytes)?))
    }

    /// Opens the database read-only as a follower of the writer: works while the indexer runs,
    /// and sees what it had made durable when opened.
    pub fn open_follower(path: &Path, cache_bytes: usize) -> Result<Store> {
        Ok(Store::over(Kv::open_follower(path, cache_bytes)?))
    }

    /// Opens the database read-only as it stands, checking every table file on opening.
    pub fn open_read_only(path: &Path, cache_bytes: usize) -> Result<Store> {
        Ok(Store::over(Kv::open_read_only(path, cache_bytes)?))
    }

    fn over(kv: Kv) -> Store {
        Store { kv, recording: AtomicBool::new(false), reads: Mutex::new(Reads::default()) }
    }

    /// Starts noting which transactions, scripts and clusters are read (from any thread), until
    /// [`Store::take_reads`].
    pub fn record(&self) {
        *self.reads.lock().expect("no reader panics while holding it") = Reads::default();
        self.recording.store(true, Ordering::SeqCst);
    }

    /// Stops recording and returns what was read since [`Store::record`].
    pub fn take_reads(&self) -> Reads {
        self.recording.store(false, Ordering::SeqCst);
        std::mem::take(&mut *self.reads.lock().expect("no reader panics while holding it"))
    }

    /// Notes a read while recording.
    pub(crate) fn note(&self, f: impl FnOnce(&mut Reads)) {
        if self.recording.load(Ordering::Relaxed) {
            f(&mut self.reads.lock().expect("no reader panics while holding it"));
        }
    }

    /// A follower: brings in what the writer has made durable since it opened or last refreshed
    /// (see [`Kv::refresh`]).
    pub fn refresh(&mut self) -> Result<()> {
        self.kv.refresh()
    }

    pub fn path(&self) -> &Path {
        self.kv.path()
    }

    /// The key-value layer, for the storage side and the stages.
    pub(crate) fn kv(&self) -> &Kv {
        &self.kv
    }

    pub(crate) fn kv_mut(&mut self) -> &mut Kv {
        &mut self.kv
    }

    /// Every row of the table named `name`, as bytes, in key order (see [`Kv::rows`]): for
    /// comparing two databases.
    pub fn rows(&self, name: &str) -> Result<Vec<Row>> {
        self.kv.rows(name)
    }

    /// Refuses a database made for another chain than the node's.
    pub fn check_identity(&self, network: &str, genesis: &[u8; 32]) -> Result<()> {
        let Some(meta) = self.meta()? else { return Ok(()) };
        if meta.network != network {
            return Err(StoreError::Network {
                path: self.kv.path().to_owned(),
                found: meta.network,
                expected: network.into(),
            });
        }
        if &meta.genesis_hash != genesis {
            return Err(StoreError::Genesis {
                path: self.kv.path().to_owned(),
                found: hex_hash(&meta.genesis_hash),
                expected: hex_hash(genesis),
            });
        }
        Ok(())
    }

    pub fn meta(&self) -> Result<Option<Meta>> {
        self.kv.get::<MetaTable>(&MetaKey)
    }

    /// How far the segmented tables are in segment files.
    pub fn sealed(&self) -> Result<Sealed> {
        self.kv.sealed()
    }

    pub fn checkpoint(&self, stage: StageId) -> Result<Option<Checkpoint>> {
        self.kv.get::<Stages>(&stage)
    }

    pub fn header(&self, height: u32) -> Result<Option<HeaderRow>> {
        self.kv.get::<Headers>(&height)
    }

    pub fn height_of_block(&self, hash: &[u8; 32]) -> Result<Option<u32>> {
        self.kv.get::<BlockHeights>(&BlockHashKey(*hash))
    }

    /// Every indexed occurrence of a txid, earliest first (two only for BIP30 duplicates).
    pub fn txnums(&self, txid: &[u8; 32]) -> Result<Vec<TxNum>> {
        let mut nums = Vec::new();
        for num in self.kv.prefixed::<Txids>(&PrefixKey::of_txid(txid))? {
            if self.tx(num)?.is_some_and(|row| &row.txid == txid) {
                nums.push(num);
            }
        }
        Ok(nums)
    }

    /// The txs whose txid, as shown, starts with the bytes `shown` (at least one): at most
    /// `limit` of them, in `txids` key order, each with its txid (internal order).
    pub fn txs_shown_from(&self, shown: &[u8], limit: usize) -> Result<Vec<(TxNum, [u8; 32])>> {
        let mut start = [0u8; 8];
        let len = shown.len().min(8);
        start[..len].copy_from_slice(&shown[..len]);
        let mut found = Vec::new();
        let keys =
            self.kv.scan::<Txids>(&PrefixKey { prefix: start, num: 0 }, move |k| k.prefix[..len] == start[..len]);
        for row in keys {
            let (key, _) = row?;
            let Some(tx) = self.tx(key.num)? else { continue };
            let as_shown = tx.txid.iter().rev().copied();
            if as_shown.zip(shown).all(|(a, b)| a == *b) {
                found.push((key.num, tx.txid));
                if found.len() >= limit {
                    break;
                }
            }
        }
        Ok(found)
    }

    pub fn tx(&self, num: TxNum) -> Result<Option<TxRow>> {
        self.kv.get::<Txs>(&num)
    }

    /// The number of a script, if the chain has ever paid it.
    pub fn script_num(&self, script: &[u8]) -> Result<Option<ScriptNum>> {
        for num in self.kv.prefixed::<ScriptIds>(&PrefixKey::of_script(script))? {
            if self.script(num)?.as_deref() == Some(script) {
                self.note(|r| {
                    r.scripts.insert(num);
                });
                return Ok(Some(num));
            }
        }
        Ok(None)
    }

    pub fn script(&self, num: ScriptNum) -> Result<Option<Vec<u8>>> {
        Ok(self.kv.get::<Scripts>(&num)?.map(|s| s.0))
    }

    /// The bytes of an output's script.
    fn script_bytes(&self, script: OutScript) -> Result<Vec<u8>> {
        match script {
            OutScript::Num(n) => self.script(n)?.ok_or_else(|| {
                StoreError::Decode(DecodeError { what: "outputs", why: format!("script number {n} has no script row") })
            }),
            OutScript::Unspendable(bytes) => Ok(bytes),
        }
    }

    pub fn output(&self, num: TxNum, vout: u32) -> Result<Option<OutputRow>> {
        self.note_outputs(num);
        self.output_row(num, vout)
    }

    /// The output that an input of tx `spender` spends (`prev`), noted as a read of that tx's
    /// inputs: the evidence of an input read covers the one output it spent, where reading the
    /// output itself would note every output of its transaction.
    pub fn spent_output(&self, spender: TxNum, prev: IoRef) -> Result<Option<OutputRow>> {
        self.note(|r| {
            r.inputs.insert(spender);
        });
        self.output_row(prev.txnum, prev.index)
    }

    fn output_row(&self, num: TxNum, vout: u32) -> Result<Option<OutputRow>> {
        let Some(row) = self.kv.get::<Outputs>(&num)? else { return Ok(None) };
        match row.0.into_iter().nth(vout as usize) {
            Some(o) => Ok(Some(OutputRow { value: o.value, script: self.script_bytes(o.script)? })),
            None => Ok(None),
        }
    }

    /// Every output of a transaction, by index.
    pub fn outputs(&self, num: TxNum) -> Result<Vec<(u32, OutputRow)>> {
        self.note_outputs(num);
        let row = self.kv.get::<Outputs>(&num)?.unwrap_or_default();
        row.0
            .into_iter()
            .enumerate()
            .map(|(i, o)| Ok((i as u32, OutputRow { value: o.value, script: self.script_bytes(o.script)? })))
            .collect()
    }

    /// The values and script numbers of a transaction's outputs, without script bytes.
    pub fn output_entries(&self, num: TxNum) -> Result<Option<OutputsRow>> {
        self.note_outputs(num);
        self.kv.get::<Outputs>(&num)
    }

    /// Every input of a non-coinbase transaction, by index.
    pub fn inputs(&self, num: TxNum) -> Result<Vec<(u32, InputRow)>> {
        self.note(|r| {
            r.inputs.insert(num);
        });
        let row = self.kv.get::<Inputs>(&num)?.unwrap_or_default();
        Ok(row.resolve(num)?.into_iter().enumerate().map(|(i, r)| (i as u32, r)).collect())
    }

    /// What spent each spent output of a transaction, by output index.
    pub fn spends(&self, num: TxNum) -> Result<Vec<(u32, IoRef)>> {
        self.note_outputs(num);
        self.kv
            .scan::<Spends>(&OutKey { txnum: num, vout: 0 }, move |k| k.txnum == num)
            .map(|r| r.map(|(k, v)| (k.vout, v)))
            .collect()
    }

    /// A cursor for many [`Store::spends`] lookups through one RocksDB iterator, as traversals
    /// make them by the thousand.
    pub fn spends_cursor(&self) -> SpendsCursor<'_> {
        SpendsCursor { iter: self.kv.raw_iterator(Spends::ID), store: self }
    }

    pub fn spend(&self, num: TxNum, vout: u32) -> Result<Option<IoRef>> {
        self.note_outputs(num);
        self.kv.get::<Spends>(&OutKey { txnum: num, vout })
    }

    /// A script's history events from `start` on, in chain order.
    pub fn history_from(&self, start: HistoryKey) -> impl Iterator<Item = Result<(HistoryKey, u64)>> + '_ {
        let script = start.script;
        self.note(|r| {
            r.histories.insert(script);
        });
        self.kv.scan::<History>(&start, move |k| k.script == script).map(|r| r.map(|(k, v)| (k, v.0)))
    }

    /// A script's history events from `from_txnum` on, in chain order, at most `limit`.
    pub fn history(&self, script: ScriptNum, from_txnum: TxNum, limit: usize) -> Result<Vec<(HistoryKey, u64)>> {
        self.history_from(HistoryKey::first_at(script, from_txnum)).take(limit).collect()
    }

    /// A script's unspent outputs in chain order, at most `limit`: (txnum, vout, value).
    pub fn utxos(&self, script: ScriptNum, limit: usize) -> Result<Vec<(TxNum, u32, u64)>> {
        self.kv
            .scan::<Utxos>(&UtxoKey { script, txnum: 0, vout: 0 }, move |k| k.script == script)
            .take(limit)
            .map(|r| r.map(|(k, v)| (k.txnum, k.vout, v.0)))
            .collect()
    }

    /// A script's totals, from its history and unspent outputs; `None` if never paid.
    pub fn script_stats(&self, script: ScriptNum) -> Result<Option<ScriptStats>> {
        let mut stats = ScriptStats::default();
        let (mut first, mut last) = (None, None);
        for event in self.history_from(HistoryKey::first_at(script, 0)) {
            let (key, value) = event?;
            if last != Some(key.txnum) {
                stats.tx_count += 1;
            }
            first.get_or_insert(key.txnum);
            last = Some(key.txnum);
            match key.kind {
                EventKind::Funded => {
                    (stats.received, stats.funded_outputs) = (stats.received + value, stats.funded_outputs + 1)
                }
                EventKind::Spent => (stats.sent, stats.spent_outputs) = (stats.sent + value, stats.spent_outputs + 1),
            }
        }
        let (Some(first), Some(last)) = (first, last) else { return Ok(None) };
        for utxo in self.kv.scan::<Utxos>(&UtxoKey { script, txnum: 0, vout: 0 }, move |k| k.script == script) {
            stats.balance += utxo?.1 .0;
            stats.utxo_count += 1;
        }
        let height = |num| self.tx(num).map(|r| r.map(|r| r.height).unwrap_or(0));
        (stats.first_height, stats.last_height) = (height(first)?, height(last)?);
        Ok(Some(stats))
    }

    pub fn undo(&self, height: u32) -> Result<Option<BlockUndo>> {
        self.kv.get::<Undo>(&height)
    }

    fn note_outputs(&self, num: TxNum) {
        self.note(|r| {
            r.outputs.insert(num);
        });
    }
}

/// A reusable iterator over `spends`: seeking it is several times cheaper than opening a new
/// iterator per transaction.
pub struct SpendsCursor<'s> {
    iter: rocksdb::DBRawIteratorWithThreadMode<'s, rocksdb::DB>,
    store: &'s Store,
}

impl SpendsCursor<'_> {
    /// Calls `f` with what spent each spent output of `num` (output index, spending input), in
    /// output order.
    pub fn for_each(&mut self, num: TxNum, mut f: impl FnMut(u32, IoRef)) -> Result<()> {
        self.store.note_outputs(num);
        self.iter.seek(OutKey { txnum: num, vout: 0 }.encode());
        while let (Some(key), Some(value)) = (self.iter.key(), self.iter.value()) {
            let key = OutKey::decode(key)?;
            if key.txnum != num {
                break;
            }
            f(key.vout, IoRef::decode(value)?);
            self.iter.next();
        }
        self.iter.status()?;
        Ok(())
    }
}

/// An output with its script's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputRow {
    pub value: u64,
    pub script: Vec<u8>,
}

impl OutputRow {
    /// OP_RETURN outputs can never be spent.
    pub fn is_unspendable(&self) -> bool {
        is_unspendable(&self.script)
    }
}

/// A script's totals over the indexed chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScriptStats {
    /// Sum of its unspent outputs (as Core counts them: see BIP30 in `docs/schema.md`).
    pub balance: u64,
    pub received: u64,
    pub sent: u64,
    /// Distinct transactions that paid or spent it.
    pub tx_count: u32,
    pub funded_outputs: u32,
    pub spent_outputs: u32,
    pub utxo_count: u32,
    pub first_height: u32,
    pub last_height: u32,
}

pub fn hex_hash(bytes: &[u8; 32]) -> String {
    let mut b = *bytes;
    b.reverse();
    hex::encode(b)
}

/// Where a network's database lives unless told otherwise: `$XDG_DATA_HOME/chaintrail/<network>`
/// (or `~/.local/share/chaintrail/<network>`).
pub fn default_db_dir(network: &str) -> std::io::Result<PathBuf> {
    let base = match std::env::var_os("XDG_DATA_HOME") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(
            std::env::var_os("HOME")
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "HOME is not set; pass --db"))?,
        )
        .join(".local/share"),
    };
    Ok(base.join("chaintrail").join(network))
}
