//! The tag store: a RocksDB database of its own (never inside the index) holding tags by output
//! script and by txid, the imported packs, and which tags each pack brought. The only module
//! that names its column families or lays out its keys and values (see `docs/tags.md`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use bitcoin::hashes::{sha256, Hash};
use indexer::network::Network;
use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, Direction, IteratorMode, Options, WriteBatch, DB};
use serde::{Deserialize, Serialize};

use super::{Pack, Subject, Tag};

/// Version of the layout below; a store of another version is refused.
pub const VERSION: u32 = 1;

/// `meta`: key `meta`; value the layout version (u32, big-endian) then the network's core name.
const META: &str = "meta";
/// `script_tags`: key script length (u8), script, [`tag_hash`]; value a bincode [`Tag`].
const SCRIPT_TAGS: &str = "script_tags";
/// `tx_tags`: key txid (32 bytes, internal order), [`tag_hash`]; value a bincode [`Tag`].
const TX_TAGS: &str = "tx_tags";
/// `packs`: key the title's bytes; value a bincode [`PackRecord`].
const PACKS: &str = "packs";
/// `pack_tags`: key title length (u16, big-endian), title, table (0 script, 1 tx), tag key;
/// value empty. Lists the tags a pack brought, so removing it deletes exactly those.
const PACK_TAGS: &str = "pack_tags";
const TABLES: [&str; 5] = [META, SCRIPT_TAGS, TX_TAGS, PACKS, PACK_TAGS];
const META_KEY: &[u8] = b"meta";

#[derive(Debug, thiserror::Error)]
pub enum TagStoreError {
    #[error("tag store error: {0}")]
    Rocks(#[from] rocksdb::Error),
    #[error("tag store at {0} is in use by another import (one writer at a time: wait for it to finish)")]
    Locked(PathBuf),
    #[error("cannot create the tag store directory {path}: {reason}")]
    Create { path: PathBuf, reason: String },
    #[error("{0} is not a chaintrail tag store (its column families are not ours): pass another --tags")]
    Foreign(PathBuf),
    #[error("tag store at {path} has layout version {found}, this build reads version {expected}: import the packs into a new directory (--tags)")]
    Version { path: PathBuf, found: u32, expected: u32 },
    #[error("tag store at {path} holds tags of '{found}', but the network asked for is '{expected}' (each network has its own store: --tags, or `tags` in the config file)")]
    Network { path: PathBuf, found: String, expected: String },
    #[error("no pack titled '{title}' in the tag store at {path} (packs: {known})")]
    UnknownPack { title: String, path: PathBuf, known: String },
    #[error("the tag store at {0} is open read-only")]
    ReadOnly(PathBuf),
    #[error("corrupt tag store: {0}")]
    Corrupt(String),
}

pub type Result<T, E = TagStoreError> = std::result::Result<T, E>;

/// A page of [`TagStore::list`]: tags with what they are about, and the cursor of the last one
/// when more follow.
pub type Page = (Vec<(Subject, Tag)>, Option<Cursor>);

/// What the store keeps about an imported pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackRecord {
    /// The file it was last imported from.
    pub file: String,
    pub creator: Option<String>,
    /// Tags of the store that this pack brought.
    pub tags: u64,
    /// When it was last imported, in seconds since 1970.
    pub imported_at: u64,
}

/// What importing a pack did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    /// New tags written.
    pub imported: u64,
    /// Tags of another currency or network.
    pub skipped: u64,
    /// Tags the store (or the pack, earlier) already had: same address or txid, label and source.
    pub duplicates: u64,
}

/// The store's default directory for `network`: `<data dir>/chaintrail/tags/<network>`, beside
/// the index's default `<data dir>/chaintrail/<network>`.
pub fn default_tags_dir(network: Network) -> std::io::Result<PathBuf> {
    Ok(indexer::storage::store::default_db_dir("tags")?.join(network.core_name()))
}

pub struct TagStore {
    db: DB,
    path: PathBuf,
    network: Network,
    writable: bool,
}

impl TagStore {
    /// Opens the store read-only: works while an import runs, and sees what was written when
    /// opened. `None` when there is no store yet (no tags).
    pub fn open_read(dir: &Path, network: Network) -> Result<Option<TagStore>> {
        if !dir.join("CURRENT").exists() {
            return Ok(None);
        }
        check_ours(dir)?;
        let db = DB::open_cf_for_read_only(&Options::default(), dir, TABLES, false)?;
        let store = TagStore { db, path: dir.to_owned(), network, writable: false };
        Ok(store.check_meta()?.then_some(store))
    }

    /// Opens the store for importing and removing, creating it if needed. Only one writer at a
    /// time: a second one gets [`TagStoreError::Locked`].
    pub fn open_write(dir: &Path, network: Network) -> Result<TagStore> {
        if dir.join("CURRENT").exists() {
            check_ours(dir)?;
        } else if std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(false) {
            return Err(TagStoreError::Foreign(dir.to_owned()));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| TagStoreError::Create { path: dir.to_owned(), reason: e.to_string() })?;
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_keep_log_file_num(4);
        let descriptors = TABLES.iter().map(|t| ColumnFamilyDescriptor::new(*t, Options::default()));
        let db = DB::open_cf_descriptors(&opts, dir, descriptors).map_err(|e| {
            if e.as_ref().contains("LOCK") {
                TagStoreError::Locked(dir.to_owned())
            } else {
                TagStoreError::Rocks(e)
            }
        })?;
        let store = TagStore { db, path: dir.to_owned(), network, writable: true };
        if !store.check_meta()? {
            store.db.put_cf(store.cf(META), META_KEY, encode_meta(VERSION, network))?;
        }
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn network(&self) -> Network {
        self.network
    }

    /// Checks the meta row against this build and the network; `false` when there is none.
    fn check_meta(&self) -> Result<bool> {
        let Some(bytes) = self.db.get_cf(self.cf(META), META_KEY)? else { return Ok(false) };
        let (version, found) = decode_meta(&bytes)
            .ok_or_else(|| TagStoreError::Corrupt(format!("{}: bad meta row", self.path.display())))?;
        if version != VERSION {
            return Err(TagStoreError::Version { path: self.path.clone(), found: version, expected: VERSION });
        }
        if found != self.network.core_name() {
            return Err(TagStoreError::Network {
                path: self.path.clone(),
                found,
                expected: self.network.core_name().into(),
            });
        }
        Ok(true)
    }

    fn cf(&self, name: &str) -> &ColumnFamily {
        self.db.cf_handle(name).expect("every table is opened with the store")
    }

    /// The tags of an output script.
    pub fn of_script(&self, script: &[u8]) -> Result<Vec<Tag>> {
        match script_prefix(script) {
            Some(prefix) => self.tags_under(SCRIPT_TAGS, &prefix),
            None => Ok(Vec::new()),
        }
    }

    /// The tags of a transaction, by txid in internal byte order.
    pub fn of_tx(&self, txid: &[u8; 32]) -> Result<Vec<Tag>> {
        self.tags_under(TX_TAGS, txid)
    }

    /// The tags under `prefix`, best first: the highest confidence level, then the label (the
    /// keys order them by a hash, which means nothing to a reader).
    fn tags_under(&self, table: &str, prefix: &[u8]) -> Result<Vec<Tag>> {
        let mut tags = Vec::new();
        for row in self.db.iterator_cf(self.cf(table), IteratorMode::From(prefix, Direction::Forward)) {
            let (key, value) = row?;
            if !key.starts_with(prefix) {
                break;
            }
            tags.push(decode_tag(&value)?);
        }
        tags.sort_by(|a, b| b.confidence_level.cmp(&a.confidence_level).then_with(|| a.label.cmp(&b.label)));
        Ok(tags)
    }

    /// Every tagged script with a tag that `keep` accepts, in key order, each once.
    pub fn scripts(&self, keep: impl Fn(&Tag) -> bool) -> Result<Vec<Vec<u8>>> {
        let mut scripts: Vec<Vec<u8>> = Vec::new();
        for row in self.db.iterator_cf(self.cf(SCRIPT_TAGS), IteratorMode::Start) {
            let (key, value) = row?;
            let script = script_of_key(&key).ok_or_else(|| bad_key(SCRIPT_TAGS))?;
            if scripts.last().is_some_and(|s| s.as_slice() == script) || !keep(&decode_tag(&value)?) {
                continue;
            }
            scripts.push(script.to_vec());
        }
        Ok(scripts)
    }

    /// Up to `limit` tags that `keep` accepts, scripts first then txs, in key order, after
    /// `after`; with the cursor of the last one when more follow.
    pub fn list(&self, after: Option<&Cursor>, limit: usize, keep: impl Fn(&Tag) -> bool) -> Result<Page> {
        let mut found = Vec::new();
        let mut last: Option<Cursor> = None;
        for table in [SCRIPT_TAGS, TX_TAGS] {
            let start: &[u8] = match after {
                Some(c) if c.table == table_id(table) => &c.key,
                Some(c) if c.table > table_id(table) => continue,
                _ => &[],
            };
            for row in self.db.iterator_cf(self.cf(table), IteratorMode::From(start, Direction::Forward)) {
                let (key, value) = row?;
                if !start.is_empty() && *key == *start {
                    continue;
                }
                let tag = decode_tag(&value)?;
                if !keep(&tag) {
                    continue;
                }
                if found.len() == limit {
                    return Ok((found, last));
                }
                found.push((subject_of_key(table, &key)?, tag));
                last = Some(Cursor { table: table_id(table), key: key.to_vec() });
            }
        }
        Ok((found, None))
    }

    /// The packs imported, by title.
    pub fn packs(&self) -> Result<Vec<(String, PackRecord)>> {
        let mut packs = Vec::new();
        for row in self.db.iterator_cf(self.cf(PACKS), IteratorMode::Start) {
            let (key, value) = row?;
            let title = String::from_utf8(key.to_vec()).map_err(|_| bad_key(PACKS))?;
            packs.push((title, decode_record(&value)?));
        }
        Ok(packs)
    }

    /// The record of one pack.
    pub fn pack(&self, title: &str) -> Result<Option<PackRecord>> {
        self.db.get_cf(self.cf(PACKS), title.as_bytes())?.map(|v| decode_record(&v)).transpose()
    }

    /// Imports a pack in one atomic batch: tags the store already has are counted as duplicates.
    pub fn import(&self, pack: &Pack) -> Result<ImportCounts> {
        self.require_writable()?;
        let mut counts = ImportCounts { skipped: pack.skipped, ..ImportCounts::default() };
        let mut batch = WriteBatch::default();
        let mut seen: HashSet<Vec<u8>> = HashSet::with_capacity(pack.entries.len());
        let by_pack = pack_prefix(&pack.title);
        for entry in &pack.entries {
            let (table, key) = tag_key(&entry.subject, &entry.tag)
                .ok_or_else(|| TagStoreError::Corrupt(format!("line {}: script longer than 255 bytes", entry.line)))?;
            let cf = self.cf(table);
            if seen.contains(&key) || self.db.get_pinned_cf(cf, &key)?.is_some() {
                counts.duplicates += 1;
                continue;
            }
            batch.put_cf(cf, &key, encode(&entry.tag));
            batch.put_cf(self.cf(PACK_TAGS), pack_tag_key(&by_pack, table, &key), []);
            seen.insert(key);
            counts.imported += 1;
        }
        let before = self.pack(&pack.title)?.map_or(0, |r| r.tags);
        let record = PackRecord {
            file: pack.file.clone(),
            creator: pack.creator.clone(),
            tags: before + counts.imported,
            imported_at: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        };
        batch.put_cf(self.cf(PACKS), pack.title.as_bytes(), encode(&record));
        self.commit(batch)?;
        Ok(counts)
    }

    /// Removes a pack and exactly the tags it brought, in one atomic batch; returns how many.
    pub fn remove_pack(&self, title: &str) -> Result<u64> {
        self.require_writable()?;
        if self.pack(title)?.is_none() {
            let titles: Vec<String> = self.packs()?.into_iter().map(|(t, _)| format!("'{t}'")).collect();
            let known = match titles.len() {
                0 => "none".to_string(),
                n if n > 10 => format!("{} and {} more", titles[..10].join(", "), n - 10),
                _ => titles.join(", "),
            };
            return Err(TagStoreError::UnknownPack { title: title.into(), path: self.path.clone(), known });
        }
        let prefix = pack_prefix(title);
        let mut batch = WriteBatch::default();
        let mut removed = 0;
        let pack_tags = self.cf(PACK_TAGS);
        for row in self.db.iterator_cf(pack_tags, IteratorMode::From(&prefix, Direction::Forward)) {
            let (key, _) = row?;
            if !key.starts_with(&prefix) {
                break;
            }
            let (table, tag_key) = split_pack_tag_key(&key[prefix.len()..]).ok_or_else(|| bad_key(PACK_TAGS))?;
            batch.delete_cf(self.cf(table), tag_key);
            batch.delete_cf(pack_tags, &key);
            removed += 1;
        }
        batch.delete_cf(self.cf(PACKS), title.as_bytes());
        self.commit(batch)?;
        Ok(removed)
    }

    /// Writes a batch (through the write-ahead log, so all of it or none survives a crash), then
    /// flushes it to table files so that readers, which open the store read-only, need not
    /// replay the log.
    fn commit(&self, batch: WriteBatch) -> Result<()> {
        self.db.write(batch)?;
        for table in TABLES {
            self.db.flush_cf(self.cf(table))?;
        }
        Ok(())
    }

    fn require_writable(&self) -> Result<()> {
        if self.writable {
            Ok(())
        } else {
            Err(TagStoreError::ReadOnly(self.path.clone()))
        }
    }
}

/// Checks that an existing database has our tables.
fn check_ours(dir: &Path) -> Result<()> {
    let found = DB::list_cf(&Options::default(), dir).map_err(|_| TagStoreError::Foreign(dir.to_owned()))?;
    if TABLES.iter().all(|t| found.iter().any(|f| f == t)) {
        Ok(())
    } else {
        Err(TagStoreError::Foreign(dir.to_owned()))
    }
}

/// Where [`TagStore::list`] stops: a table and the last key listed. Written as `s<hex>` (a
/// script's tag) or `t<hex>` (a tx's tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    table: u8,
    key: Vec<u8>,
}

impl Cursor {
    pub fn parse(text: &str) -> Option<Cursor> {
        let table = match text.get(..1)? {
            "s" => 0,
            "t" => 1,
            _ => return None,
        };
        let key = hex::decode(text.get(1..)?).ok().filter(|k| !k.is_empty())?;
        Some(Cursor { table, key })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.table == 0 { 's' } else { 't' };
        write!(f, "{kind}{}", hex::encode(&self.key))
    }
}

// Keys and values. Keys are laid out by hand (big-endian lengths) so that prefix scans work.

/// Names a tag among those of its address or tx: 8 bytes of SHA-256 over the label's length
/// (u32, big-endian), the label and the source. Re-importing the same tag gives the same key.
pub(super) fn tag_hash(label: &str, source: &str) -> [u8; 8] {
    let mut data = Vec::with_capacity(4 + label.len() + source.len());
    data.extend_from_slice(&(label.len() as u32).to_be_bytes());
    data.extend_from_slice(label.as_bytes());
    data.extend_from_slice(source.as_bytes());
    let hash = sha256::Hash::hash(&data).to_byte_array();
    let mut out = [0; 8];
    out.copy_from_slice(&hash[..8]);
    out
}

fn script_prefix(script: &[u8]) -> Option<Vec<u8>> {
    let len = u8::try_from(script.len()).ok()?;
    let mut key = Vec::with_capacity(1 + script.len() + 8);
    key.push(len);
    key.extend_from_slice(script);
    Some(key)
}

/// The table and key of a tag; `None` for a script longer than 255 bytes (no address has one).
pub(super) fn tag_key(subject: &Subject, tag: &Tag) -> Option<(&'static str, Vec<u8>)> {
    let hash = tag_hash(&tag.label, &tag.source);
    match subject {
        Subject::Script(script) => {
            let mut key = script_prefix(script)?;
            key.extend_from_slice(&hash);
            Some((SCRIPT_TAGS, key))
        }
        Subject::Tx(txid) => Some((TX_TAGS, [&txid[..], &hash[..]].concat())),
    }
}

fn table_id(table: &str) -> u8 {
    u8::from(table == TX_TAGS)
}

fn script_of_key(key: &[u8]) -> Option<&[u8]> {
    let len = usize::from(*key.first()?);
    (key.len() == 1 + len + 8).then(|| &key[1..1 + len])
}

fn subject_of_key(table: &str, key: &[u8]) -> Result<Subject> {
    if table == SCRIPT_TAGS {
        return script_of_key(key).map(|s| Subject::Script(s.to_vec())).ok_or_else(|| bad_key(table));
    }
    let txid: [u8; 32] = key.get(..32).and_then(|t| t.try_into().ok()).ok_or_else(|| bad_key(table))?;
    Ok(Subject::Tx(txid))
}

pub(super) fn pack_prefix(title: &str) -> Vec<u8> {
    let len = u16::try_from(title.len()).unwrap_or(u16::MAX);
    [&len.to_be_bytes()[..], title.as_bytes()].concat()
}

pub(super) fn pack_tag_key(prefix: &[u8], table: &str, key: &[u8]) -> Vec<u8> {
    [prefix, &[table_id(table)], key].concat()
}

fn split_pack_tag_key(rest: &[u8]) -> Option<(&'static str, &[u8])> {
    match rest.split_first()? {
        (0, key) => Some((SCRIPT_TAGS, key)),
        (1, key) => Some((TX_TAGS, key)),
        _ => None,
    }
}

pub(super) fn encode_meta(version: u32, network: Network) -> Vec<u8> {
    [&version.to_be_bytes()[..], network.core_name().as_bytes()].concat()
}

fn decode_meta(bytes: &[u8]) -> Option<(u32, String)> {
    let version = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?);
    Some((version, String::from_utf8(bytes[4..].to_vec()).ok()?))
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    bincode::serialize(value).expect("tags and pack records hold only strings, numbers and booleans")
}

pub(super) fn decode_tag(bytes: &[u8]) -> Result<Tag> {
    bincode::deserialize(bytes).map_err(|e| TagStoreError::Corrupt(format!("bad tag value: {e}")))
}

fn decode_record(bytes: &[u8]) -> Result<PackRecord> {
    bincode::deserialize(bytes).map_err(|e| TagStoreError::Corrupt(format!("bad pack record: {e}")))
}

fn bad_key(table: &str) -> TagStoreError {
    TagStoreError::Corrupt(format!("malformed key in table {table}"))
}
