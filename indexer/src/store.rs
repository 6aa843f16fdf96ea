//! The RocksDB database: opening it (read-write or as a read-only follower), checking its
//! identity, committing batches, and typed reads used by both the indexer and `query`.

use std::path::{Path, PathBuf};

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, Direction, IteratorMode, Options,
    WriteOptions, DB,
};

use crate::schema::{self, *};

pub use rocksdb::WriteBatch;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Rocks(#[from] rocksdb::Error),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("corrupt {0} row: {1}")]
    Bincode(&'static str, bincode::Error),
    #[error("database at {0} is in use by another indexer (only one may write to it; `query` can read it meanwhile)")]
    Locked(PathBuf),
    #[error("cannot create a scratch directory for a read-only follower: {0}")]
    Scratch(std::io::Error),
    #[error("no database at {0} (run the indexer first, or pass --db)")]
    Missing(PathBuf),
    #[error("database at {0} holds no indexed block yet (the indexer is starting, or its first bulk batch is not flushed yet)")]
    Empty(PathBuf),
    #[error("{0} is not a chaintrail database (its column families are not ours)")]
    Foreign(PathBuf),
    #[error("database at {path} has schema version {found}, this build reads version {expected}; re-index into a new directory")]
    SchemaVersion { path: PathBuf, found: u32, expected: u32 },
    #[error("database at {path} was built for network '{found}', but the node is on '{expected}'")]
    Network { path: PathBuf, found: String, expected: String },
    #[error("database at {path} was built for a chain with genesis {found}, but the node's genesis is {expected}")]
    Genesis { path: PathBuf, found: String, expected: String },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A raw key and value.
pub type Row = (Box<[u8]>, Box<[u8]>);

/// Tuning chosen for how the database is being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Initial sync: no write-ahead log (crash safety comes from atomic flushes of all column
    /// families together), large memtables.
    Bulk,
    /// Following the tip: every batch goes through the write-ahead log.
    Tip,
}

pub struct Store {
    db: DB,
    path: PathBuf,
    /// Scratch directory of a secondary (read-only follower) instance, removed on drop.
    _secondary: Option<tempfile::TempDir>,
}

fn cf_options(name: &str, cache: &Cache) -> Options {
    let mut opts = Options::default();
    let mut block = BlockBasedOptions::default();
    block.set_block_cache(cache);
    block.set_block_size(16 * 1024);
    // Point lookups dominate these; scans dominate history/utxos/undo.
    if matches!(name, CF_TXIDS | CF_OUTPUTS | CF_SPENDS | CF_SCRIPTS | CF_BLOCK_HEIGHTS | CF_TXS | CF_INPUTS) {
        block.set_bloom_filter(10.0, false);
    }
    opts.set_block_based_table_factory(&block);
    opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
    opts.set_write_buffer_size(64 << 20);
    opts
}

fn db_options() -> Options {
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    // Without the WAL (bulk mode), this keeps all column families flushed to one point in time.
    opts.set_atomic_flush(true);
    opts.set_max_background_jobs(2);
    opts.set_max_open_files(-1);
    opts.set_keep_log_file_num(4);
    opts
}

fn descriptors(cache: &Cache) -> Vec<ColumnFamilyDescriptor> {
    COLUMN_FAMILIES.iter().map(|name| ColumnFamilyDescriptor::new(*name, cf_options(name, cache))).collect()
}

/// True when `path` holds a RocksDB database whose column families are exactly ours.
fn check_ours(path: &Path) -> Result<()> {
    let found = DB::list_cf(&Options::default(), path).map_err(|_| StoreError::Foreign(path.to_owned()))?;
    let ours = COLUMN_FAMILIES.iter().all(|cf| found.iter().any(|f| f == cf));
    if ours {
        Ok(())
    } else {
        Err(StoreError::Foreign(path.to_owned()))
    }
}

fn is_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).map(|mut d| d.next().is_none()).unwrap_or(true)
}

impl Store {
    /// Opens (creating if absent) the database the indexer writes. A directory holding anything
    /// but one of our databases is refused untouched.
    pub fn open_writable(path: &Path, cache_bytes: usize) -> Result<Store> {
        if path.exists() && !is_empty_dir(path) {
            check_ours(path)?;
        }
        let cache = Cache::new_lru_cache(cache_bytes);
        let db = DB::open_cf_descriptors(&db_options(), path, descriptors(&cache)).map_err(|e| {
            if e.as_ref().contains("LOCK") {
                StoreError::Locked(path.to_owned())
            } else {
                StoreError::Rocks(e)
            }
        })?;
        let store = Store { db, path: path.to_owned(), _secondary: None };
        store.check_schema()?;
        Ok(store)
    }

    /// Opens the database read-only as a follower of the writer: works while the indexer runs,
    /// and sees what it had made durable when opened.
    pub fn open_follower(path: &Path, cache_bytes: usize) -> Result<Store> {
        if !path.exists() {
            return Err(StoreError::Missing(path.to_owned()));
        }
        check_ours(path)?;
        let scratch = tempfile::Builder::new().prefix("chaintrail-follower").tempdir().map_err(StoreError::Scratch)?;
        let cache = Cache::new_lru_cache(cache_bytes);
        let mut opts = db_options();
        opts.create_if_missing(false);
        // A follower opens per query: loading table files on one thread is far quicker than
        // starting a pool of openers for every column family.
        opts.set_max_file_opening_threads(1);
        let db = DB::open_cf_descriptors_as_secondary(&opts, path, scratch.path(), descriptors(&cache))?;
        let store = Store { db, path: path.to_owned(), _secondary: Some(scratch) };
        if store.meta()?.is_none() {
            return Err(StoreError::Empty(path.to_owned()));
        }
        store.check_schema()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check_schema(&self) -> Result<()> {
        if let Some(meta) = self.meta()? {
            if meta.schema_version != SCHEMA_VERSION {
                return Err(StoreError::SchemaVersion {
                    path: self.path.clone(),
                    found: meta.schema_version,
                    expected: SCHEMA_VERSION,
                });
            }
        }
        Ok(())
    }

    /// Refuses a database made for another chain than the node's.
    pub fn check_identity(&self, network: &str, genesis: &[u8; 32]) -> Result<()> {
        let Some(meta) = self.meta()? else { return Ok(()) };
        if meta.network != network {
            return Err(StoreError::Network { path: self.path.clone(), found: meta.network, expected: network.into() });
        }
        if &meta.genesis_hash != genesis {
            return Err(StoreError::Genesis {
                path: self.path.clone(),
                found: hex_hash(&meta.genesis_hash),
                expected: hex_hash(genesis),
            });
        }
        Ok(())
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db.cf_handle(name).expect("every column family is opened with the database")
    }

    pub fn get(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get_cf(self.cf(cf), key)?)
    }

    /// Rows of `cf` whose keys start with `prefix`, from `start` (which must itself start with
    /// `prefix`) onwards, in key order.
    pub fn scan<'a>(
        &'a self,
        cf: &str,
        prefix: &'a [u8],
        start: &[u8],
    ) -> impl Iterator<Item = Result<Row>> + 'a {
        self.db
            .iterator_cf(self.cf(cf), IteratorMode::From(start, Direction::Forward))
            .map(|r| r.map_err(StoreError::from))
            .take_while(move |r| r.as_ref().map(|(k, _)| k.starts_with(prefix)).unwrap_or(true))
    }

    /// Commits a batch. In [`WriteMode::Bulk`] the write-ahead log is skipped.
    pub fn write(&self, batch: WriteBatch, mode: WriteMode) -> Result<()> {
        let mut opts = WriteOptions::default();
        opts.disable_wal(mode == WriteMode::Bulk);
        self.db.write_opt(batch, &opts)?;
        Ok(())
    }

    /// Adds a put (`Some`) or delete (`None`) to a batch.
    pub fn batch_set(&self, batch: &mut WriteBatch, cf: &str, key: &[u8], value: Option<&[u8]>) {
        match value {
            Some(v) => batch.put_cf(self.cf(cf), key, v),
            None => batch.delete_cf(self.cf(cf), key),
        }
    }

    /// Flushes every memtable to disk (all column families at one point in time).
    pub fn flush(&self) -> Result<()> {
        let cfs: Vec<_> = COLUMN_FAMILIES.iter().map(|n| self.cf(n)).collect();
        self.db.flush_cfs_opt(&cfs, &rocksdb::FlushOptions::default())?;
        Ok(())
    }

    /// Applies column-family tuning for a write mode.
    pub fn set_mode(&self, mode: WriteMode) -> Result<()> {
        let buffer = match mode {
            WriteMode::Bulk => (256u64 << 20).to_string(),
            WriteMode::Tip => (64u64 << 20).to_string(),
        };
        for name in COLUMN_FAMILIES {
            self.db.set_options_cf(self.cf(name), &[("write_buffer_size", buffer.as_str())])?;
        }
        Ok(())
    }

    /// Compacts every column family; run once after a bulk load.
    pub fn compact(&self) {
        for name in COLUMN_FAMILIES {
            self.db.compact_range_cf(self.cf(name), None::<&[u8]>, None::<&[u8]>);
        }
    }

    /// Total size of the database's files on disk, in bytes.
    pub fn disk_bytes(&self) -> u64 {
        dir_size(&self.path)
    }

    // -----------------------------------------------------------------------------------------
    // Typed reads

    pub fn meta(&self) -> Result<Option<Meta>> {
        match self.get(CF_META, META_KEY)? {
            Some(b) => Meta::decode(&b).map(Some).map_err(|e| StoreError::Bincode("meta", e)),
            None => Ok(None),
        }
    }

    pub fn header(&self, height: u32) -> Result<Option<HeaderRow>> {
        Ok(self.get(CF_HEADERS, &height_key(height))?.map(|b| HeaderRow::decode(&b)).transpose()?)
    }

    pub fn height_of_block(&self, hash: &[u8; 32]) -> Result<Option<u32>> {
        Ok(self.get(CF_BLOCK_HEIGHTS, hash)?.map(|b| decode_height(&b)).transpose()?)
    }

    /// Every indexed occurrence of a txid, earliest first (two only for BIP30 duplicates).
    pub fn txnums(&self, txid: &[u8; 32]) -> Result<Vec<TxNum>> {
        Ok(self.get(CF_TXIDS, txid)?.map(|b| decode_txnums(&b)).transpose()?.unwrap_or_default())
    }

    pub fn tx(&self, num: TxNum) -> Result<Option<TxRow>> {
        Ok(self.get(CF_TXS, &txnum_key(num))?.map(|b| TxRow::decode(&b)).transpose()?)
    }

    pub fn output(&self, num: TxNum, vout: u32) -> Result<Option<OutputRow>> {
        Ok(self.get(CF_OUTPUTS, &io_key(num, vout))?.map(|b| OutputRow::decode(&b)).transpose()?)
    }

    /// Every output of a transaction, by index.
    pub fn outputs(&self, num: TxNum) -> Result<Vec<(u32, OutputRow)>> {
        self.io_rows(CF_OUTPUTS, num, OutputRow::decode)
    }

    /// Every non-coinbase input of a transaction, by index.
    pub fn inputs(&self, num: TxNum) -> Result<Vec<(u32, InputRow)>> {
        self.io_rows(CF_INPUTS, num, InputRow::decode)
    }

    /// What spent each spent output of a transaction, by output index.
    pub fn spends(&self, num: TxNum) -> Result<Vec<(u32, IoRef)>> {
        self.io_rows(CF_SPENDS, num, IoRef::decode)
    }

    pub fn spend(&self, num: TxNum, vout: u32) -> Result<Option<IoRef>> {
        Ok(self.get(CF_SPENDS, &io_key(num, vout))?.map(|b| IoRef::decode(&b)).transpose()?)
    }

    fn io_rows<T>(&self, cf: &str, num: TxNum, decode: impl Fn(&[u8]) -> Result<T, DecodeError>) -> Result<Vec<(u32, T)>> {
        let prefix = txnum_key(num);
        self.scan(cf, &prefix, &io_key(num, 0))
            .map(|r| {
                let (k, v) = r?;
                Ok((decode_io_key(&k)?.1, decode(&v)?))
            })
            .collect()
    }

    pub fn script_stats(&self, script: &ScriptId) -> Result<Option<ScriptStats>> {
        Ok(self.get(CF_SCRIPTS, &script.0)?.map(|b| ScriptStats::decode(&b)).transpose()?)
    }

    /// A script's history events from `from_txnum` on, in chain order, at most `limit`.
    pub fn history(&self, script: &ScriptId, from_txnum: TxNum, limit: usize) -> Result<Vec<(HistoryKey, u64)>> {
        let prefix = schema::script_prefix(script);
        self.scan(CF_HISTORY, &prefix, &history_seek_key(script, from_txnum))
            .take(limit)
            .map(|r| {
                let (k, v) = r?;
                Ok((HistoryKey::decode(&k)?, decode_value(&v)?))
            })
            .collect()
    }

    /// A script's unspent outputs in chain order, at most `limit`: (txnum, vout, row).
    pub fn utxos(&self, script: &ScriptId, limit: usize) -> Result<Vec<(TxNum, u32, UtxoRow)>> {
        let prefix = schema::script_prefix(script);
        self.scan(CF_UTXOS, &prefix, &prefix)
            .take(limit)
            .map(|r| {
                let (k, v) = r?;
                let (_, num, vout) = decode_utxo_key(&k)?;
                Ok((num, vout, UtxoRow::decode(&v)?))
            })
            .collect()
    }

    pub fn undo(&self, height: u32) -> Result<Option<BlockUndo>> {
        match self.get(CF_UNDO, &height_key(height))? {
            Some(b) => BlockUndo::decode(&b).map(Some).map_err(|e| StoreError::Bincode("undo", e)),
            None => Ok(None),
        }
    }
}

pub fn hex_hash(bytes: &[u8; 32]) -> String {
    let mut b = *bytes;
    b.reverse();
    hex::encode(b)
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| entries.flatten().filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

/// Where a network's database lives unless told otherwise: `$XDG_DATA_HOME/chaintrail/<network>`
/// (or `~/.local/share/chaintrail/<network>`).
pub fn default_db_dir(network: &str) -> std::io::Result<PathBuf> {
    let base = match std::env::var_os("XDG_DATA_HOME") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "HOME is not set; pass --db")
        })?)
        .join(".local/share"),
    };
    Ok(base.join("chaintrail").join(network))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta_of(network: &str) -> Meta {
        Meta { schema_version: SCHEMA_VERSION, network: network.into(), genesis_hash: [1; 32], tip: None, next_txnum: 0 }
    }

    fn put_meta(store: &Store, meta: &Meta) {
        let mut batch = WriteBatch::default();
        store.batch_set(&mut batch, CF_META, META_KEY, Some(&meta.encode()));
        store.write(batch, WriteMode::Tip).unwrap();
    }

    #[test]
    fn a_follower_tells_a_foreign_an_empty_and_a_missing_database_apart() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none");
        assert!(matches!(Store::open_follower(&missing, 1 << 20), Err(StoreError::Missing(_))));
        let foreign = dir.path().join("foreign");
        std::fs::create_dir(&foreign).unwrap();
        std::fs::write(foreign.join("CURRENT"), "not rocksdb").unwrap();
        assert!(matches!(Store::open_follower(&foreign, 1 << 20), Err(StoreError::Foreign(_))));
        assert!(matches!(Store::open_writable(&foreign, 1 << 20), Err(StoreError::Foreign(_))));
        assert_eq!(std::fs::read_to_string(foreign.join("CURRENT")).unwrap(), "not rocksdb");
        let empty = dir.path().join("empty");
        let writer = Store::open_writable(&empty, 1 << 20).unwrap();
        assert!(matches!(Store::open_follower(&empty, 1 << 20), Err(StoreError::Empty(_))));
        drop(writer);
    }

    #[test]
    fn a_second_writer_is_refused_and_a_follower_still_reads() {
        let dir = tempfile::tempdir().unwrap();
        let first = Store::open_writable(dir.path(), 1 << 20).unwrap();
        let meta = meta_of("regtest");
        put_meta(&first, &meta);
        let err = Store::open_writable(dir.path(), 1 << 20).err().expect("refused");
        assert!(matches!(err, StoreError::Locked(_)), "{err}");
        assert!(err.to_string().contains("in use by another indexer"));
        assert_eq!(Store::open_follower(dir.path(), 1 << 20).unwrap().meta().unwrap(), Some(meta));
    }

    #[test]
    fn identity_checks_name_what_differs() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_writable(dir.path(), 1 << 20).unwrap();
        put_meta(&store, &meta_of("signet"));
        let err = store.check_identity("main", &[1; 32]).unwrap_err().to_string();
        assert!(err.contains("built for network 'signet', but the node is on 'main'"), "{err}");
        let err = store.check_identity("signet", &[2; 32]).unwrap_err().to_string();
        assert!(err.contains("genesis"), "{err}");
        store.check_identity("signet", &[1; 32]).unwrap();
    }
}
