//! The key-value layer: the RocksDB database and the segment files behind the typed tables of
//! `schema`. Opening them (read-write, as a read-only follower, or read-only to check), typed
//! reads and scans of any table, and committing batches. The only module that names a column
//! family; the domain reads on top are [`crate::storage::store::Store`]'s.

use std::path::{Path, PathBuf};

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DBCompressionType, Direction, IteratorMode, Options, WriteBatch,
    WriteBufferManager, WriteOptions, DB,
};

use crate::storage::schema::*;
use crate::storage::segment::{SegmentError, Segments};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Not a `source`: the message already carries RocksDB's, on one line.
    #[error("{}", rocks_message(.0))]
    Rocks(rocksdb::Error),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Segment(#[from] SegmentError),
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
    #[error("database at {path} has schema version {found}, this build reads version {expected}; re-index into a new directory (run the indexer with another --db)")]
    SchemaVersion { path: PathBuf, found: u32, expected: u32 },
    #[error("database at {path} predates the tables {tables}: run the indexer on it once to add them (it builds them from the indexed rows, without re-indexing)")]
    MissingTables { path: PathBuf, tables: String },
    #[error("database at {path} was built for network '{found}', but the node is on '{expected}'")]
    Network { path: PathBuf, found: String, expected: String },
    #[error("database at {path} was built for a chain with genesis {found}, but the node's genesis is {expected}")]
    Genesis { path: PathBuf, found: String, expected: String },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl From<rocksdb::Error> for StoreError {
    fn from(e: rocksdb::Error) -> Self {
        StoreError::Rocks(e)
    }
}

/// RocksDB's message on one line (some span two).
fn one_line(e: &rocksdb::Error) -> String {
    e.as_ref().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// RocksDB's error, with what to do about the two a lab will meet: a corrupt file and a full disk.
fn rocks_message(e: &rocksdb::Error) -> String {
    match e.kind() {
        rocksdb::ErrorKind::Corruption => {
            format!("the database is corrupt ({}); restore it from a backup or re-index into a new directory", one_line(e))
        }
        rocksdb::ErrorKind::IOError if e.as_ref().contains("No space left") => format!(
            "the disk holding the database is full ({}); free space and start the indexer again: it resumes from its last durable block",
            one_line(e)
        ),
        _ => format!("database error: {}", one_line(e)),
    }
}

/// A raw key and value, as [`Store::rows`] lists them for comparing databases.
pub type Row = (Box<[u8]>, Box<[u8]>);

/// One write as bytes: table id, key, and the new value (`None` deletes).
pub type RawWrite = (u8, Vec<u8>, Option<Vec<u8>>);

/// Tuning chosen for how the database is being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Initial sync: no write-ahead log (crash safety comes from atomic flushes of all column
    /// families together), large memtables.
    Bulk,
    /// Following the tip: every batch goes through the write-ahead log.
    Tip,
}

/// The database and its segment files.
pub struct Kv {
    db: DB,
    /// The rows of the segmented tables below the meta row's `sealed` mark.
    segments: Segments,
    path: PathBuf,
    /// Scratch directory of a secondary (read-only follower) instance, removed on drop.
    _secondary: Option<tempfile::TempDir>,
}

/// Per-table tuning, from the metadata each table declares in `schema` (its [`Access`] picks
/// the filters, its [`Compression`] the block compression).
fn cf_options(name: &str, cache: &Cache, role: Role) -> Options {
    let meta = TABLE_META[table_id(name) as usize];
    let mut opts = Options::default();
    if role == Role::Writer && meta.storage == Storage::WriteOnly {
        // Appending to a vector costs nothing per insert; it is sorted once, at flush. Nothing
        // in the writer reads these tables back, and readers use their own skip lists.
        opts.set_memtable_factory(rocksdb::MemtableFactory::Vector);
    }
    let mut block = BlockBasedOptions::default();
    block.set_block_cache(cache);
    block.set_block_size(16 * 1024);
    match meta.access {
        Access::Point => block.set_bloom_filter(10.0, false),
        Access::Prefix => {
            block.set_bloom_filter(10.0, false);
            block.set_whole_key_filtering(false);
            opts.set_prefix_extractor(rocksdb::SliceTransform::create_fixed_prefix(8));
            opts.set_memtable_prefix_bloom_ratio(0.05);
        }
        Access::Ordered => {}
    }
    opts.set_block_based_table_factory(&block);
    opts.set_compression_type(match meta.compression {
        Compression::Lz4 => DBCompressionType::Lz4,
        Compression::Raw => DBCompressionType::None,
    });
    opts.set_write_buffer_size(64 << 20);
    opts
}

/// The most memory all memtables together may take.
const MEMTABLES_MAX: usize = 256 << 20;

/// Database-wide options. The memtables (up to half of `cache_bytes` and [`MEMTABLES_MAX`]) are
/// charged to the block cache, so data blocks and memtables together stay within `cache_bytes`
/// however many tables are written and however large the chain grows. Index and filter blocks
/// stay outside it, held by the table readers (about 1% of the table files' bytes: 40 MB at 5M
/// transactions); keeping them in the cache too bounded them but cost a third of the sync's
/// speed at 5M in a 512 MiB cache (BENCHMARKS.md).
fn db_options(cache: &Cache, cache_bytes: usize) -> Options {
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    // Without the WAL (bulk mode), this keeps all column families flushed to one point in time.
    opts.set_atomic_flush(true);
    opts.set_max_background_jobs(2);
    let memtables = (cache_bytes / 2).min(MEMTABLES_MAX);
    opts.set_write_buffer_manager(&WriteBufferManager::new_write_buffer_manager_with_cache(
        memtables,
        false,
        cache.clone(),
    ));
    opts.set_max_open_files(-1);
    opts.set_keep_log_file_num(4);
    opts
}

/// Who opens the database: its one writer, or a reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Writer,
    Reader,
}

fn descriptors(cache: &Cache, role: Role) -> Vec<ColumnFamilyDescriptor> {
    TABLES.iter().map(|name| ColumnFamilyDescriptor::new(*name, cf_options(name, cache, role))).collect()
}

/// Column families every schema version has had.
const EVERY_VERSION: [&str; 4] = ["meta", "headers", "txids", "undo"];

/// Checks that `path` holds one of our databases of this schema version, and returns the tables
/// it lacks: tables added to this version later, which the writer creates and fills (a stage
/// catching up). An older or newer version is told apart from a foreign database by its meta row.
fn check_ours(path: &Path) -> Result<Vec<&'static str>> {
    let found = DB::list_cf(&Options::default(), path).map_err(|_| StoreError::Foreign(path.to_owned()))?;
    let missing: Vec<&'static str> = TABLES.iter().copied().filter(|cf| !found.iter().any(|f| f == cf)).collect();
    if missing.is_empty() {
        return Ok(missing);
    }
    if !EVERY_VERSION.iter().all(|cf| found.iter().any(|f| f == cf)) {
        return Err(StoreError::Foreign(path.to_owned()));
    }
    let scratch = tempfile::Builder::new().prefix("chaintrail-version").tempdir().map_err(StoreError::Scratch)?;
    let db = DB::open_cf_as_secondary(&Options::default(), path, scratch.path(), ["meta"])?;
    let cf = db.cf_handle("meta").expect("opened with the database");
    // Every version's meta row starts with its schema version, a little-endian u32.
    let found =
        db.get_cf(cf, b"meta")?.and_then(|b| b.get(..4).map(|v| u32::from_le_bytes(v.try_into().expect("4 bytes"))));
    match found {
        Some(SCHEMA_VERSION) => Ok(missing),
        Some(found) => Err(StoreError::SchemaVersion { path: path.to_owned(), found, expected: SCHEMA_VERSION }),
        None => Err(StoreError::Foreign(path.to_owned())),
    }
}

/// For a reader, which cannot add tables: checks that `path` holds one of our databases of this
/// schema version with every table.
fn check_complete(path: &Path) -> Result<()> {
    if !path.exists() {
        return Err(StoreError::Missing(path.to_owned()));
    }
    let missing = check_ours(path)?;
    if !missing.is_empty() {
        return Err(StoreError::MissingTables { path: path.to_owned(), tables: missing.join(", ") });
    }
    Ok(())
}

fn is_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).map(|mut d| d.next().is_none()).unwrap_or(true)
}

impl Kv {
    /// Opens (creating if absent) the database the indexer writes. A directory holding anything
    /// but one of our databases is refused untouched.
    pub fn open_writable(path: &Path, cache_bytes: usize) -> Result<Kv> {
        if path.exists() && !is_empty_dir(path) {
            check_ours(path)?;
        }
        let cache = Cache::new_lru_cache(cache_bytes);
        let mut opts = db_options(&cache, cache_bytes);
        // The vector memtables take one writer at a time (ours writes from one thread).
        opts.set_allow_concurrent_memtable_write(false);
        let db = DB::open_cf_descriptors(&opts, path, descriptors(&cache, Role::Writer)).map_err(|e| {
            if e.as_ref().contains("LOCK") {
                StoreError::Locked(path.to_owned())
            } else {
                StoreError::Rocks(e)
            }
        })?;
        Kv::with_segments(db, path, None, Role::Writer)
    }

    /// Opens the database read-only as a follower of the writer: works while the indexer runs,
    /// and sees what it had made durable when opened.
    pub fn open_follower(path: &Path, cache_bytes: usize) -> Result<Kv> {
        check_complete(path)?;
        let scratch = tempfile::Builder::new().prefix("chaintrail-follower").tempdir().map_err(StoreError::Scratch)?;
        let cache = Cache::new_lru_cache(cache_bytes);
        let mut opts = db_options(&cache, cache_bytes);
        opts.create_if_missing(false);
        // A follower opens per query: loading table files on one thread is far quicker than
        // starting a pool of openers for every column family.
        opts.set_max_file_opening_threads(1);
        let db = DB::open_cf_descriptors_as_secondary(&opts, path, scratch.path(), descriptors(&cache, Role::Reader))?;
        let store = Kv::with_segments(db, path, Some(scratch), Role::Reader)?;
        if store.get::<MetaTable>(&MetaKey)?.is_none() {
            // A follower falls back to the last state whose files are all sound: a database
            // whose newest table files are damaged looks empty to it. Only a full open tells.
            Kv::open_read_only(path, cache_bytes)?;
            return Err(StoreError::Empty(path.to_owned()));
        }
        Ok(store)
    }

    /// Opens the database read-only as it stands, checking every table file the way the
    /// writer does on opening (a damaged or truncated file is an error), without the write lock.
    /// Sees what was durable when opened; for checking, not for following.
    pub fn open_read_only(path: &Path, cache_bytes: usize) -> Result<Kv> {
        check_complete(path)?;
        let cache = Cache::new_lru_cache(cache_bytes);
        let mut opts = db_options(&cache, cache_bytes);
        opts.create_if_missing(false);
        let db = DB::open_cf_descriptors_read_only(&opts, path, descriptors(&cache, Role::Reader), false)?;
        Kv::with_segments(db, path, None, Role::Reader)
    }

    /// The store over an opened database: checks its schema version before anything is added
    /// to the directory, then opens the segment files and makes the rows its sealed mark
    /// records readable (the writer also cuts off what no batch recorded).
    fn with_segments(db: DB, path: &Path, secondary: Option<tempfile::TempDir>, role: Role) -> Result<Kv> {
        check_schema(&db, path)?;
        let writer = role == Role::Writer;
        let segments = Segments::open(path, writer)?;
        let store = Kv { db, segments, path: path.to_owned(), _secondary: secondary };
        store.segments.set_sealed(&store.sealed()?, writer)?;
        Ok(store)
    }

    /// A follower: brings in what the writer has made durable since the follower opened or last
    /// refreshed. The writer commits a block's rows and the new tip in one batch, so a follower
    /// sees all of a block or none of it. Reads must not run meanwhile (`&mut self`): a reader
    /// would see some column families before the refresh and others after it.
    pub fn refresh(&mut self) -> Result<()> {
        self.db.try_catch_up_with_primary()?;
        self.segments.set_sealed(&self.sealed()?, false)?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The segment files of the segmented tables, for the writer's appends.
    pub fn segments(&self) -> &Segments {
        &self.segments
    }

    fn cf(&self, table: u8) -> &rocksdb::ColumnFamily {
        self.db.cf_handle(TABLES[table as usize]).expect("every column family is opened with the database")
    }

    /// The value of `key` in table `table`, as bytes: from its segment file when it is sealed.
    pub fn get_raw(&self, table: u8, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(segment) = self.segments.of(table) {
            if let Some(row) = segment.get(u64::decode(key)?)? {
                return Ok(Some(row));
            }
        }
        Ok(self.db.get_cf(self.cf(table), key)?)
    }

    /// The value of `key` in `T`.
    pub fn get<T: Table>(&self, key: &T::Key) -> Result<Option<T::Value>> {
        match self.get_raw(T::ID, &key.encode())? {
            Some(bytes) => Ok(Some(T::Value::decode(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Rows of `T` from `start` on, in key order, while `keep` holds for their keys.
    pub fn scan<'a, T: Table>(
        &'a self,
        start: &T::Key,
        keep: impl Fn(&T::Key) -> bool + 'a,
    ) -> impl Iterator<Item = Result<(T::Key, T::Value)>> + 'a {
        let mut opts = rocksdb::ReadOptions::default();
        // Prefix-indexed tables would otherwise stop at the end of the start key's prefix.
        opts.set_total_order_seek(true);
        self.db
            .iterator_cf_opt(self.cf(T::ID), opts, IteratorMode::From(&start.encode(), Direction::Forward))
            .map(|r| {
                let (k, v) = r?;
                Ok((T::Key::decode(&k)?, T::Value::decode(&v)?))
            })
            .take_while(move |r| r.as_ref().map(|(k, _)| keep(k)).unwrap_or(true))
    }

    /// The numbers filed under `prefix` in a hash-prefix table (`txids`, `script_ids`), in
    /// ascending order: the candidates a full-hash check picks from.
    pub fn prefixed<T: Table<Key = PrefixKey>>(&self, prefix: &[u8; 8]) -> Result<Vec<u64>> {
        let mut nums = Vec::new();
        for row in self.db.prefix_iterator_cf(self.cf(T::ID), prefix) {
            let (k, _) = row?;
            if !k.starts_with(prefix) {
                break;
            }
            nums.push(PrefixKey::decode(&k)?.num);
        }
        Ok(nums)
    }

    /// Every row of the table named `name`, as bytes, in key order, the rows in its segment file
    /// first: for comparing two databases, wherever each keeps a row.
    pub fn rows(&self, name: &str) -> Result<Vec<Row>> {
        let id = table_id(name);
        let mut rows = Vec::new();
        if let Some(segment) = self.segments.of(id) {
            segment.for_each(|n, row| {
                rows.push((n.encode().into(), row.into()));
                Ok(())
            })?;
        }
        for row in self.db.iterator_cf(self.cf(id), IteratorMode::Start) {
            rows.push(row?);
        }
        Ok(rows)
    }

    /// Reads every row of table `name`, verifying block checksums (bypassing the cache) and its
    /// segment files' checksums, and decodes each: its row count and bytes of keys and values,
    /// or the first corrupt row.
    pub fn check_table(&self, name: &str) -> Result<(u64, u64)> {
        let id = table_id(name);
        let (mut rows, mut bytes) = (0u64, 0u64);
        if let Some(segment) = self.segments.of(id) {
            segment.verify()?;
            segment.for_each(|n, row| {
                crate::storage::schema::check_row(id, &n.encode(), row)
                    .map_err(|e| segment.damaged("dat", format!("{e} (row {n})")))?;
                rows += 1;
                bytes += row.len() as u64;
                Ok(())
            })?;
        }
        let mut opts = rocksdb::ReadOptions::default();
        opts.set_verify_checksums(true);
        opts.fill_cache(false);
        let mut iter = self.db.raw_iterator_cf_opt(self.cf(id), opts);
        iter.seek_to_first();
        while let (Some(key), Some(value)) = (iter.key(), iter.value()) {
            crate::storage::schema::check_row(id, key, value).map_err(|e| DecodeError {
                what: e.what,
                why: format!("{} (table {name}, key {})", e.why, hex::encode(key)),
            })?;
            rows += 1;
            bytes += (key.len() + value.len()) as u64;
            iter.next();
        }
        iter.status()?;
        Ok((rows, bytes))
    }

    /// Commits writes in one atomic batch, in order. In [`WriteMode::Bulk`] the write-ahead log
    /// is skipped.
    pub fn write(&self, writes: &[RawWrite], mode: WriteMode) -> Result<()> {
        self.write_iter(writes.iter().map(|(t, k, v)| (*t, k.as_slice(), v.as_deref())), mode)
    }

    /// [`Kv::write`] from borrowed bytes: (table id, key, value or `None` to delete).
    pub fn write_iter<'a>(
        &self,
        writes: impl Iterator<Item = (u8, &'a [u8], Option<&'a [u8]>)>,
        mode: WriteMode,
    ) -> Result<()> {
        let mut batch = WriteBatch::default();
        for (table, key, value) in writes {
            match value {
                Some(v) => batch.put_cf(self.cf(table), key, v),
                None => batch.delete_cf(self.cf(table), key),
            }
        }
        let mut opts = WriteOptions::default();
        opts.disable_wal(mode == WriteMode::Bulk);
        self.db.write_opt(batch, &opts)?;
        Ok(())
    }

    /// Empties a table (dropping and recreating its column family: instant at any size).
    pub fn clear(&mut self, table: u8) -> Result<()> {
        let name = TABLES[table as usize];
        self.db.drop_cf(name)?;
        let cache = Cache::new_lru_cache(8 << 20);
        self.db.create_cf(name, &cf_options(name, &cache, Role::Writer))?;
        Ok(())
    }

    /// Flushes every memtable to disk (all column families at one point in time).
    pub fn flush(&self) -> Result<()> {
        let cfs: Vec<_> = (0..TABLES.len() as u8).map(|t| self.cf(t)).collect();
        self.db.flush_cfs_opt(&cfs, &rocksdb::FlushOptions::default())?;
        Ok(())
    }

    /// Applies column-family tuning for a write mode.
    pub fn set_mode(&self, mode: WriteMode) -> Result<()> {
        let buffer = match mode {
            WriteMode::Bulk => (256u64 << 20).to_string(),
            WriteMode::Tip => (64u64 << 20).to_string(),
        };
        for t in 0..TABLES.len() as u8 {
            self.db.set_options_cf(self.cf(t), &[("write_buffer_size", buffer.as_str())])?;
        }
        Ok(())
    }

    /// Compacts every column family; run once after a bulk load.
    pub fn compact(&self) {
        for t in 0..TABLES.len() as u8 {
            self.db.compact_range_cf(self.cf(t), None::<&[u8]>, None::<&[u8]>);
        }
    }

    /// Per table: bytes of table files (what flushes and compactions have written) and segment
    /// files, and the estimated number of rows, largest first.
    pub fn table_sizes(&self) -> Result<Vec<(&'static str, u64, u64)>> {
        let mut sizes = Vec::with_capacity(TABLES.len());
        for (id, name) in TABLES.iter().enumerate() {
            let cf = self.cf(id as u8);
            let mut bytes = self.db.property_int_value_cf(cf, "rocksdb.total-sst-files-size")?.unwrap_or(0);
            let mut rows = self.db.property_int_value_cf(cf, "rocksdb.estimate-num-keys")?.unwrap_or(0);
            if let Some(segment) = self.segments.of(id as u8) {
                bytes += segment.disk_bytes();
                rows += segment.rows();
            }
            sizes.push((*name, bytes, rows));
        }
        sizes.sort_by_key(|s| std::cmp::Reverse(s.1));
        Ok(sizes)
    }

    /// Memory RocksDB holds now, in bytes: memtables (active and being flushed), table readers
    /// (index and filter blocks), and the block cache (shared by every table).
    pub fn memory(&self) -> Result<(u64, u64, u64)> {
        let (mut memtables, mut readers) = (0, 0);
        for id in 0..TABLES.len() {
            let cf = self.cf(id as u8);
            memtables += self.db.property_int_value_cf(cf, "rocksdb.cur-size-all-mem-tables")?.unwrap_or(0);
            readers += self.db.property_int_value_cf(cf, "rocksdb.estimate-table-readers-mem")?.unwrap_or(0);
        }
        let cache = self.db.property_int_value_cf(self.cf(0), "rocksdb.block-cache-usage")?.unwrap_or(0);
        Ok((memtables, readers, cache))
    }

    /// Total size of the database's files on disk, in bytes.
    pub fn disk_bytes(&self) -> u64 {
        dir_size(&self.path)
    }

    /// How far the segmented tables are in segment files.
    pub fn sealed(&self) -> Result<Sealed> {
        Ok(self.get::<SealedMark>(&SealedKey)?.unwrap_or_default())
    }

    /// A raw iterator over one table's column family, for cursors that seek it many times.
    pub(crate) fn raw_iterator(&self, table: u8) -> rocksdb::DBRawIteratorWithThreadMode<'_, DB> {
        self.db.raw_iterator_cf(self.cf(table))
    }
}

/// Bytes of the files under `path`, subdirectories (the segments) included.
fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let meta = e.metadata().ok()?;
                    Some(if meta.is_dir() { dir_size(&e.path()) } else { meta.len() })
                })
                .sum()
        })
        .unwrap_or(0)
}

fn table_id(name: &str) -> u8 {
    TABLES.iter().position(|t| *t == name).unwrap_or_else(|| panic!("no table {name}")) as u8
}

/// Refuses a database of another schema version. Reads the version before decoding the rest:
/// another version's row may not decode.
fn check_schema(db: &DB, path: &Path) -> Result<()> {
    let cf = db.cf_handle(MetaTable::NAME).expect("every column family is opened with the database");
    let raw = db.get_cf(cf, MetaKey.encode())?;
    if let Some(found) =
        raw.as_deref().and_then(|b| b.get(..4)).map(|v| u32::from_le_bytes(v.try_into().expect("4 bytes")))
    {
        if found != SCHEMA_VERSION {
            return Err(StoreError::SchemaVersion { path: path.to_owned(), found, expected: SCHEMA_VERSION });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::store::Store;

    fn meta_of(network: &str) -> Meta {
        Meta::empty(network, [1; 32])
    }

    fn put_meta(store: &Store, meta: &Meta) {
        store.kv().write(&[(MetaTable::ID, MetaKey.encode(), Some(meta.encode()))], WriteMode::Tip).unwrap();
    }

    #[test]
    fn tables_added_to_this_version_are_created_by_the_writer_and_named_to_a_follower() {
        let dir = tempfile::tempdir().unwrap();
        let older: Vec<&str> =
            TABLES.iter().copied().filter(|t| !t.starts_with("cluster") && *t != "p2pk_keys").collect();
        {
            let mut opts = Options::default();
            opts.create_if_missing(true);
            opts.create_missing_column_families(true);
            let db = DB::open_cf(&opts, dir.path(), &older).unwrap();
            db.put_cf(db.cf_handle("meta").unwrap(), b"meta", meta_of("regtest").encode()).unwrap();
        }
        let err = Store::open_follower(dir.path(), 1 << 20).err().expect("refused");
        assert!(matches!(err, StoreError::MissingTables { .. }), "{err}");
        assert!(err.to_string().contains("cluster_parents") && err.to_string().contains("run the indexer"), "{err}");
        let writer = Store::open_writable(dir.path(), 1 << 20).unwrap();
        assert_eq!(writer.meta().unwrap(), Some(meta_of("regtest")));
        drop(writer);
        assert_eq!(
            DB::list_cf(&Options::default(), dir.path()).unwrap().len(),
            TABLES.len() + 1,
            "the default family too"
        );
        assert!(Store::open_follower(dir.path(), 1 << 20).is_ok());
    }

    #[test]
    fn a_version_1_database_is_refused_with_a_re_index_message_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let v1 = [
            "meta",
            "headers",
            "block_heights",
            "txids",
            "txs",
            "outputs",
            "spends",
            "inputs",
            "history",
            "utxos",
            "scripts",
            "undo",
        ];
        {
            let mut opts = Options::default();
            opts.create_if_missing(true);
            opts.create_missing_column_families(true);
            let db = DB::open_cf(&opts, dir.path(), v1).unwrap();
            let mut meta = 1u32.to_le_bytes().to_vec();
            meta.extend_from_slice(b"rest of a version 1 meta row");
            db.put_cf(db.cf_handle("meta").unwrap(), b"meta", meta).unwrap();
        }
        for err in [
            Store::open_writable(dir.path(), 1 << 20).err().unwrap(),
            Store::open_follower(dir.path(), 1 << 20).err().unwrap(),
        ] {
            assert!(matches!(err, StoreError::SchemaVersion { found: 1, expected: SCHEMA_VERSION, .. }), "{err}");
            assert!(err.to_string().contains("re-index into a new directory"), "{err}");
        }
        let found = DB::list_cf(&Options::default(), dir.path()).unwrap();
        assert_eq!(found.len(), v1.len() + 1, "column families were added: {found:?}");
    }

    #[test]
    fn a_version_2_database_is_refused_before_segment_files_are_added() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut opts = Options::default();
            opts.create_if_missing(true);
            opts.create_missing_column_families(true);
            let db = DB::open_cf(&opts, dir.path(), TABLES).unwrap();
            let mut meta = 2u32.to_le_bytes().to_vec();
            meta.extend_from_slice(b"rest of a version 2 meta row");
            db.put_cf(db.cf_handle("meta").unwrap(), b"meta", meta).unwrap();
        }
        for err in [
            Store::open_writable(dir.path(), 1 << 20).err().unwrap(),
            Store::open_follower(dir.path(), 1 << 20).err().unwrap(),
            Store::open_read_only(dir.path(), 1 << 20).err().unwrap(),
        ] {
            assert!(matches!(err, StoreError::SchemaVersion { found: 2, expected: SCHEMA_VERSION, .. }), "{err}");
            let msg = err.to_string();
            assert!(
                msg.contains("schema version 2, this build reads version 4; re-index into a new directory"),
                "{msg}"
            );
        }
        assert!(!dir.path().join(crate::storage::segment::DIR).exists(), "nothing was added");
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

    #[test]
    fn a_follower_sees_the_writers_new_tip_only_after_catching_up() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Store::open_writable(dir.path(), 1 << 20).unwrap();
        let mut meta = meta_of("regtest");
        put_meta(&writer, &meta);
        let mut follower = Store::open_follower(dir.path(), 1 << 20).unwrap();
        assert_eq!(follower.meta().unwrap().unwrap().tip, None);
        meta.tip = Some((7, [7; 32]));
        put_meta(&writer, &meta);
        assert_eq!(follower.meta().unwrap().unwrap().tip, None, "no catch-up yet");
        follower.refresh().unwrap();
        assert_eq!(follower.meta().unwrap().unwrap().tip, Some((7, [7; 32])));
    }
}
