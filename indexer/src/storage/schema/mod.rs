//! The on-disk format: every table's name, key type and value type, and their byte layouts.
//! Nothing else builds a key or decodes a row.
//!
//! Keys are fixed-width and big-endian, so byte order is numeric order and prefix scans work.
//! Transactions and scripts are named by dense numbers (40 bits on disk) everywhere but in the
//! tables that map their hashes to numbers. Values are compact: varints, and one row per
//! transaction for its outputs and its inputs. `docs/schema.md` describes every table; keep the
//! two in step.

use bitcoin::hashes::{sha256, Hash};
use serde::{Deserialize, Serialize};

/// Bump when any key or value layout changes; a database of another version refuses to open.
pub const SCHEMA_VERSION: u32 = 4;

/// A transaction's position in the whole chain: 0 is the genesis coinbase, counting up in block
/// and in-block order. 40 bits on disk: room for a trillion transactions.
pub type TxNum = u64;

/// A distinct output script's number, in order of first appearance. 40 bits on disk.
pub type ScriptNum = u64;

/// Largest number a 40-bit field holds.
pub const MAX_NUM: u64 = (1 << 40) - 1;

/// A row could not be decoded: the database is corrupt or of another format.
#[derive(Debug, thiserror::Error)]
#[error("corrupt {what} row: {why}")]
pub struct DecodeError {
    pub what: &'static str,
    pub why: String,
}

fn corrupt(what: &'static str, why: impl Into<String>) -> DecodeError {
    DecodeError { what, why: why.into() }
}

/// A key or value with a byte layout.
pub trait Codec: Sized {
    fn encode_to(&self, out: &mut Vec<u8>);
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError>;

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_to(&mut out);
        out
    }
}

/// Where a table's rows live, and how the writer uses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// A RocksDB column family that the writer also reads.
    Column,
    /// A RocksDB column family that the writer only writes (queries read it): the writer's
    /// memtable for it is an unsorted vector, sorted once at flush, instead of a skip list
    /// searched on every insert.
    WriteOnly,
    /// Keyed by a dense number, and never changed once written: rows of blocks deeper than the
    /// undo window live in an append-only segment file (`crate::storage::segment`), the rows of the
    /// blocks above it in the column family.
    Segmented,
}

/// How a table's column family is read, which picks its filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// By whole key, mostly for keys that are absent: a Bloom filter on whole keys.
    Point,
    /// By the 8-byte hash prefix of a [`PrefixKey`]: a prefix Bloom filter (on the memtable
    /// too: most lookups are of hashes never seen).
    Prefix,
    /// In key order, or a handful of rows: no filter.
    Ordered,
}

/// How a table's column family compresses its blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Lz4,
    /// Hashes and hash prefixes, which do not compress.
    Raw,
}

/// What a key type is, for the checks on table declarations in [`tables!`].
pub trait KeyKind {
    /// A dense number (transaction or script number).
    const NUMBER: bool = false;
    /// A hash prefix and a number ([`PrefixKey`]).
    const PREFIX: bool = false;
}

impl KeyKind for u64 {
    const NUMBER: bool = true;
}

impl KeyKind for PrefixKey {
    const PREFIX: bool = true;
}

impl KeyKind for u32 {}
impl KeyKind for MetaKey {}
impl KeyKind for SealedKey {}
impl KeyKind for StageId {}
impl KeyKind for BlockHashKey {}
impl KeyKind for OutKey {}
impl KeyKind for HistoryKey {}
impl KeyKind for UtxoKey {}
impl KeyKind for ScriptPair {}
impl KeyKind for SizeKey {}
impl KeyKind for KeyHash {}

/// A table's metadata, declared beside it in [`tables!`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableMeta {
    pub name: &'static str,
    pub storage: Storage,
    pub access: Access,
    pub compression: Compression,
}

/// A table: one column family, its key and value types.
pub trait Table {
    /// The column family's name.
    const NAME: &'static str;
    /// Its id in undo records: its index in [`TABLES`].
    const ID: u8;
    const STORAGE: Storage;
    type Key: Codec;
    type Value: Codec;
}

macro_rules! tables {
    ($($(#[$doc:meta])* $id:literal $name:ident = $cf:literal, $storage:ident, $access:ident, $compression:ident: $key:ty => $value:ty;)*) => {
        $(
            $(#[$doc])*
            pub struct $name;
            impl Table for $name {
                const NAME: &'static str = $cf;
                const ID: u8 = $id;
                const STORAGE: Storage = Storage::$storage;
                type Key = $key;
                type Value = $value;
            }
        )*
        /// Every table's column family, by id.
        pub const TABLES: &[&str] = &[$($cf),*];

        /// Every table's metadata, by id.
        pub const TABLE_META: &[TableMeta] = &[$(TableMeta {
            name: $cf,
            storage: Storage::$storage,
            access: Access::$access,
            compression: Compression::$compression,
        }),*];

        // Ids are the tables' positions: numbered by hand, checked here. Segmented tables are
        // keyed by a dense number, and only tables keyed by hash prefix are read by prefix.
        $(
            const _: () = assert!(
                !matches!(Storage::$storage, Storage::Segmented) || <$key as KeyKind>::NUMBER,
                "a segmented table is keyed by a number"
            );
            const _: () = assert!(
                matches!(Access::$access, Access::Prefix) == <$key as KeyKind>::PREFIX,
                "a table is read by prefix exactly when it is keyed by hash prefix"
            );
        )*
        const _: () = {
            let mut i = 0;
            $(
                assert!($id == i, "table ids must count up from 0 in order");
                i += 1;
            )*
            let _ = i;
        };

        /// Decodes one stored row of the table with id `table`, key and value, to check that it
        /// reads back as that table's types.
        pub fn check_row(table: u8, key: &[u8], value: &[u8]) -> Result<(), DecodeError> {
            match table {
                $($id => {
                    <$key as Codec>::decode(key)?;
                    <$value as Codec>::decode(value)?;
                })*
                _ => return Err(corrupt("table id", format!("no table has id {table}"))),
            }
            Ok(())
        }
    };
}

tables! {
    /// Identity and progress of the database: one row.
    0 MetaTable = "meta", Column, Ordered, Lz4: MetaKey => Meta;
    /// How far each derived stage has indexed.
    1 Stages = "stages", Column, Ordered, Lz4: StageId => Checkpoint;
    /// Indexed blocks by height.
    2 Headers = "headers", Column, Ordered, Lz4: u32 => HeaderRow;
    /// Block hash → height.
    3 BlockHeights = "block_heights", Column, Point, Raw: BlockHashKey => u32;
    /// Transaction number → txid and place.
    4 Txs = "txs", Segmented, Point, Lz4: TxNum => TxRow;
    /// Txid prefix → transaction numbers (the one table keyed by txid).
    5 Txids = "txids", Column, Prefix, Raw: PrefixKey => Empty;
    /// Every output of a transaction, in one row.
    6 Outputs = "outputs", Segmented, Point, Lz4: TxNum => OutputsRow;
    /// Every input of a non-coinbase transaction: the output it spent and its value, in one row.
    7 Inputs = "inputs", Segmented, Point, Lz4: TxNum => InputsRow;
    /// Spent output → the input that spent it.
    8 Spends = "spends", WriteOnly, Point, Lz4: OutKey => InRef;
    /// Script number → script bytes (every spendable script, once).
    9 Scripts = "scripts", Segmented, Point, Lz4: ScriptNum => ScriptBytes;
    /// Script hash prefix → script numbers (the one table keyed by script).
    10 ScriptIds = "script_ids", Column, Prefix, Raw: PrefixKey => Empty;
    /// A script's history: every output paying it and input spending from it, in chain order.
    11 History = "history", WriteOnly, Ordered, Lz4: HistoryKey => Sats;
    /// A script's unspent outputs.
    12 Utxos = "utxos", WriteOnly, Ordered, Lz4: UtxoKey => Sats;
    /// What each recent block changed, to take it back out on a reorg.
    13 Undo = "undo", Column, Ordered, Lz4: u32 => BlockUndo;
    /// Clusters: a script's parent in its cluster's tree (roots have no row).
    14 ClusterParents = "cluster_parents", Column, Point, Lz4: ScriptNum => ScriptNum;
    /// Clusters: the reverse of `cluster_parents`, to list a cluster's members.
    15 ClusterChildren = "cluster_children", WriteOnly, Ordered, Lz4: ScriptPair => Empty;
    /// Clusters of two or more scripts, by root: size and earliest script.
    16 Clusters = "clusters", Column, Point, Lz4: ScriptNum => ClusterRow;
    /// Clusters by size, largest first.
    17 ClusterSizes = "cluster_sizes", WriteOnly, Ordered, Lz4: SizeKey => Empty;
    /// The merges that joined scripts into clusters, both ways: why two scripts share an owner.
    18 ClusterLinks = "cluster_links", WriteOnly, Ordered, Lz4: ScriptPair => LinkRow;
    /// P2PK scripts by the hash160 of their key, to join them with the key's other scripts.
    19 P2pkKeys = "p2pk_keys", Column, Point, Lz4: KeyHash => ScriptNum;
    /// The clusters stage's own state: heuristics and how many scripts it has seen.
    20 ClusterStates = "cluster_state", Column, Ordered, Lz4: StageId => ClusterState;
    /// How far the segmented tables are in segment files: one row.
    21 SealedMark = "sealed", Column, Ordered, Lz4: SealedKey => Sealed;
}

mod clusters;
pub use clusters::*;

#[cfg(test)]
pub(crate) mod proptests;

// ---------------------------------------------------------------------------------------------
// Field codecs

fn check_len(what: &'static str, bytes: &[u8], expected: usize) -> Result<(), DecodeError> {
    if bytes.len() == expected {
        Ok(())
    } else {
        Err(corrupt(what, format!("expected {expected} bytes, found {}", bytes.len())))
    }
}

pub(crate) fn put_num(out: &mut Vec<u8>, n: u64) {
    debug_assert!(n <= MAX_NUM, "numbers are 40 bits on disk");
    out.extend_from_slice(&n.to_be_bytes()[3..]);
}

pub(crate) fn num_at(b: &[u8], at: usize) -> u64 {
    let mut buf = [0u8; 8];
    buf[3..].copy_from_slice(&b[at..at + 5]);
    u64::from_be_bytes(buf)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("caller checked the length"))
}

fn array<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    b[at..at + N].try_into().expect("caller checked the length")
}

/// LEB128, as in protobuf: 7 bits a byte, low first.
pub fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads one varint from the front of `b`, advancing it.
pub fn take_varint(what: &'static str, b: &mut &[u8]) -> Result<u64, DecodeError> {
    let mut n = 0u64;
    for (i, byte) in b.iter().enumerate().take(10) {
        n |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *b = &b[i + 1..];
            return Ok(n);
        }
    }
    Err(corrupt(what, "truncated varint"))
}

impl Codec for u32 {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
    fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        check_len("height", b, 4)?;
        Ok(u32_at(b, 0))
    }
}

/// Transaction and script numbers: 40-bit big-endian.
impl Codec for u64 {
    fn encode_to(&self, out: &mut Vec<u8>) {
        put_num(out, *self);
    }
    fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        check_len("number", b, 5)?;
        Ok(num_at(b, 0))
    }
}

/// A value-less row: the key says it all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Empty;

impl Codec for Empty {
    fn encode_to(&self, _: &mut Vec<u8>) {}
    fn decode(_: &[u8]) -> Result<Self, DecodeError> {
        Ok(Empty)
    }
}

/// An amount in satoshis, as a varint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Sats(pub u64);

impl Codec for Sats {
    fn encode_to(&self, out: &mut Vec<u8>) {
        put_varint(out, self.0);
    }
    fn decode(mut b: &[u8]) -> Result<Self, DecodeError> {
        let v = take_varint("amount", &mut b)?;
        if !b.is_empty() {
            return Err(corrupt("amount", "trailing bytes"));
        }
        Ok(Sats(v))
    }
}

// ---------------------------------------------------------------------------------------------
// meta, stages

/// The key of the single `meta` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetaKey;

impl Codec for MetaKey {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"meta");
    }
    fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        if b == b"meta" {
            Ok(MetaKey)
        } else {
            Err(corrupt("meta key", "not \"meta\""))
        }
    }
}

/// Identity and progress of a database. Written with every block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub schema_version: u32,
    /// Bitcoin Core's chain name: main, test, testnet4, signet or regtest.
    pub network: String,
    pub genesis_hash: [u8; 32],
    /// Height and hash of the last indexed block; `None` before the genesis block is indexed.
    pub tip: Option<(u32, [u8; 32])>,
    /// The number the next indexed transaction gets.
    pub next_txnum: TxNum,
    /// The number the next new script gets.
    pub next_scriptnum: ScriptNum,
}

impl Meta {
    /// A database that has indexed nothing yet.
    pub fn empty(network: &str, genesis_hash: [u8; 32]) -> Meta {
        Meta {
            schema_version: SCHEMA_VERSION,
            network: network.into(),
            genesis_hash,
            tip: None,
            next_txnum: 0,
            next_scriptnum: 0,
        }
    }

    /// Height of the next block to index: one above the tip, or 0 for an empty database.
    pub fn next_height(&self) -> u32 {
        self.tip.map(|(h, _)| h + 1).unwrap_or(0)
    }
}

impl Codec for Meta {
    fn encode_to(&self, out: &mut Vec<u8>) {
        bincode::serialize_into(out, self).expect("serializing a plain struct into memory cannot fail");
    }
    fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        bincode::deserialize(b).map_err(|e| corrupt("meta", e.to_string()))
    }
}

/// The key of the single `sealed` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedKey;

impl Codec for SealedKey {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"sealed");
    }
    fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        if b == b"sealed" {
            Ok(SealedKey)
        } else {
            Err(corrupt("sealed key", "not \"sealed\""))
        }
    }
}

/// How far the segmented tables are sealed into segment files: the rows of blocks below
/// `blocks`, i.e. transactions below `txs` and scripts below `scripts`. Later rows are in the
/// column families. Where rows are kept, not what they hold: kept out of `meta` (and so out of
/// the undo data), and it only grows: a reorg never reaches a sealed block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sealed {
    pub blocks: u32,
    pub txs: TxNum,
    pub scripts: ScriptNum,
}

impl Sealed {
    /// Rows of segmented table `table` in its segment file.
    pub fn rows(&self, table: u8) -> u64 {
        if table == Scripts::ID {
            self.scripts
        } else {
            self.txs
        }
    }
}

/// Blocks `u32`, then txs and scripts (40 bits each).
impl Codec for Sealed {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.blocks.to_be_bytes());
        put_num(out, self.txs);
        put_num(out, self.scripts);
    }
    fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        check_len("sealed", b, 14)?;
        Ok(Sealed { blocks: u32_at(b, 0), txs: num_at(b, 4), scripts: num_at(b, 9) })
    }
}

/// The stages derived from the transaction graph, each with its own checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum StageId {
    /// Per-script history and unspent outputs (`history`, `utxos`).
    Addresses = 1,
    /// Who controls which scripts (the `cluster_*` tables and `p2pk_keys`).
    Clusters = 2,
}

impl StageId {
    pub const ALL: [StageId; 2] = [StageId::Addresses, StageId::Clusters];

    pub fn name(self) -> &'static str {
        match self {
            StageId::Addresses => "addresses",
            StageId::Clusters => "clusters",
        }
    }
}

impl Codec for StageId {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(*self as u8);
    }
    fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        match b {
            [1] => Ok(StageId::Addresses),
            [2] => Ok(StageId::Clusters),
            _ => Err(corrupt("stage id", format!("unknown stage {b:?}"))),
        }
    }
}

/// The last block a stage has indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    pub height: u32,
    pub hash: [u8; 32],
}

impl Codec for Checkpoint {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.hash);
    }
    fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        check_len("stages", b, 36)?;
        Ok(Checkpoint { height: u32_at(b, 0), hash: array(b, 4) })
    }
}

// ---------------------------------------------------------------------------------------------
// headers, block_heights

/// One indexed block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderRow {
    pub hash: [u8; 32],
    /// The 80-byte consensus-encoded header.
    pub header: [u8; 80],
    pub first_txnum: TxNum,
    pub tx_count: u32,
    /// Serialized block size in bytes.
    pub size: u32,
    /// The number the block's first new script got (or would have got, if it paid none).
    pub first_scriptnum: ScriptNum,
}

impl Codec for HeaderRow {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.hash);
        out.extend_from_slice(&self.header);
        put_num(out, self.first_txnum);
        out.extend_from_slice(&self.tx_count.to_be_bytes());
        out.extend_from_slice(&self.size.to_be_bytes());
        put_num(out, self.first_scriptnum);
    }
    fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        check_len("headers", b, 32 + 80 + 5 + 8 + 5)?;
        Ok(HeaderRow {
            hash: array(b, 0),
            header: array(b, 32),
            first_txnum: num_at(b, 112),
            tx_count: u32_at(b, 117),
            size: u32_at(b, 121),
            first_scriptnum: num_at(b, 125),
        })
    }
}

/// A block hash as a key (internal byte order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHashKey(pub [u8; 32]);

impl Codec for BlockHashKey {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
    fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        check_len("block hash", b, 32)?;
        Ok(BlockHashKey(array(b, 0)))
    }
}

// ---------------------------------------------------------------------------------------------
// txs, txids

/// Where a transaction sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRow {
    pub txid: [u8; 32],
    pub height: u32,
    /// Position inside its block; 0 is the coinbase.
    pub position: u32,
}

impl TxRow {
    pub fn is_coinbase(&self) -> bool {
        self.position == 0
    }
}

impl Codec for TxRow {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.txid);
        out.extend_from_slice(&self.height.to_be_bytes());
        put_varint(out, u64::from(self.position));
    }
    fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        if b.len() < 37 {
            return Err(corrupt("txs", format!("{} bytes", b.len())));
        }
        let mut rest = &b[36..];
        let position = take_varint("txs", &mut rest)?;
        Ok(TxRow { txid: array(b, 0), height: u32_at(b, 32), position: position as u32 })
    }
}

/// A hash prefix, then a number: the key of the two tables that map hashes to numbers. In
/// `txids` the prefix is the txid's first 8 bytes as it is shown (the last 8 of its internal
/// order, reversed), so that a txid prefix someone types is a key prefix, and the number a
/// txnum; in
/// `script_ids` the prefix is the first 8 bytes of the script's SHA-256 and the number a script
/// number. A prefix can be shared by several hashes: readers check the full txid in `txs` or the
/// script's bytes in `scripts` when it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PrefixKey {
    pub prefix: [u8; 8],
    pub num: u64,
}

impl PrefixKey {
    /// The `txids` prefix of a txid (internal byte order): its first 8 bytes as shown.
    pub fn of_txid(txid: &[u8; 32]) -> [u8; 8] {
        let mut prefix = [0; 8];
        for (to, from) in prefix.iter_mut().zip(txid.iter().rev()) {
            *to = *from;
        }
        prefix
    }

    /// The `script_ids` prefix of a script.
    pub fn of_script(script: &[u8]) -> [u8; 8] {
        array(&sha256::Hash::hash(script).to_byte_array(), 0)
    }
}

impl Codec for PrefixKey {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.prefix);
        put_num(out, self.num);
    }
    fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        check_len("hash prefix key", b, 13)?;
        Ok(PrefixKey { prefix: array(b, 0), num: num_at(b, 8) })
    }
}

// ---------------------------------------------------------------------------------------------
// outputs, inputs, spends

/// An output's script: a number for spendable scripts, the bytes themselves for unspendable
/// ones (OP_RETURN), which nothing ever looks up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutScript {
    Num(ScriptNum),
    Unspendable(Vec<u8>),
}

/// OP_RETURN outputs (any script starting with it) can never be spent.
pub fn is_unspendable(script: &[u8]) -> bool {
    script.first() == Some(&0x6a)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputEntry {
    pub value: u64,
    pub script: OutScript,
}

/// Every output of a transaction, by index: per output, a varint value, then a varint tag
/// (script number × 2, or byte length × 2 + 1 followed by the bytes of an unspendable script).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutputsRow(pub Vec<OutputEntry>);

impl Codec for OutputsRow {
    fn encode_to(&self, out: &mut Vec<u8>) {
        for o in &self.0 {
            put_varint(out, o.value);
            match &o.script {
                OutScript::Num(n) => put_varint(out, n << 1),
                OutScript::Unspendable(bytes) => {
                    put_varint(out, ((bytes.len() as u64) << 1) | 1);
                    out.extend_from_slice(bytes);
                }
            }
        }
    }
    fn decode(mut b: &[u8]) -> Result<Self, DecodeError> {
        let mut outs = Vec::new();
        while !b.is_empty() {
            let value = take_varint("outputs", &mut b)?;
            let tag = take_varint("outputs", &mut b)?;
            let script = if tag & 1 == 0 {
                OutScript::Num(tag >> 1)
            } else {
                let len = (tag >> 1) as usize;
                if b.len() < len {
                    return Err(corrupt("outputs", "script runs past the row"));
                }
                let (bytes, rest) = b.split_at(len);
                b = rest;
                OutScript::Unspendable(bytes.to_vec())
            };
            outs.push(OutputEntry { value, script });
        }
        Ok(OutputsRow(outs))
    }
}

/// An output by transaction number and index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OutKey {
    pub txnum: TxNum,
    pub vout: u32,
}

impl Codec for OutKey {
    fn encode_to(&self, out: &mut Vec<u8>) {
        put_num(out, self.txnum);
        out.extend_from_slice(&self.vout.to_be_bytes());
    }
    fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        check_len("output key", b, 9)?;
        Ok(OutKey { txnum: num_at(b, 0), vout: u32_at(b, 5) })
    }
}

/// The other end of a spend edge: a transaction and one of its inputs or outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IoRef {
    pub txnum: TxNum,
    pub index: u32,
}

/// The input that spent an output: two varints.
pub type InRef = IoRef;

impl Codec for IoRef {
    fn encode_to(&self, out: &mut Vec<u8>) {
        put_varint(out, self.txnum);
        put_varint(out, u64::from(self.index));
    }
    fn decode(mut b: &[u8]) -> Result<Self, DecodeError> {
        let txnum = take_varint("spends", &mut b)?;
        let index = take_varint("spends", &mut b)?;
        if !b.is_empty() {
            return Err(corrupt("spends", "trailing bytes"));
        }
        Ok(IoRef { txnum, index: index as u32 })
    }
}

/// An input: the output it spent, and that output's value, so backward traces need no second
/// lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputRow {
    pub prev: IoRef,
    pub value: u64,
}

/// One input as stored: the spent output relative to the spending transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputEntry {
    /// The spending txnum minus the spent one (at least 1).
    pub back: u64,
    pub vout: u32,
    pub value: u64,
}

/// Every input of a transaction, by index: per input, varints of `back`, `vout` and `value`.
/// Small numbers, since most inputs spend recent transactions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InputsRow(pub Vec<InputEntry>);

impl InputsRow {
    /// The row of transaction `txnum`, whose inputs all spend earlier transactions.
    pub fn of(txnum: TxNum, inputs: &[InputRow]) -> InputsRow {
        InputsRow(
            inputs
                .iter()
                .map(|i| InputEntry { back: txnum - i.prev.txnum, vout: i.prev.index, value: i.value })
                .collect(),
        )
    }

    /// The inputs of transaction `txnum`, with absolute numbers.
    pub fn resolve(&self, txnum: TxNum) -> Result<Vec<InputRow>, DecodeError> {
        self.0
            .iter()
            .map(|e| match txnum.checked_sub(e.back) {
                Some(prev) if e.back > 0 => Ok(InputRow { prev: IoRef { txnum: prev, index: e.vout }, value: e.value }),
                _ => Err(corrupt("inputs", format!("transaction {txnum} spends a later one"))),
            })
            .collect()
    }
}

impl Codec for InputsRow {
    fn encode_to(&self, out: &mut Vec<u8>) {
        for e in &self.0 {
            put_varint(out, e.back);
            put_varint(out, u64::from(e.vout));
            put_varint(out, e.value);
        }
    }
    fn decode(mut b: &[u8]) -> Result<Self, DecodeError> {
        let mut entries = Vec::new();
        while !b.is_empty() {
            let back = take_varint("inputs", &mut b)?;
            let vout = take_varint("inputs", &mut b)?;
            let value = take_varint("inputs", &mut b)?;
            entries.push(InputEntry { back, vout: vout as u32, value });
        }
        Ok(InputsRow(entries))
    }
}

// ---------------------------------------------------------------------------------------------
// scripts, script_ids

/// A script's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptBytes(pub Vec<u8>);

impl Codec for ScriptBytes {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
    fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        Ok(ScriptBytes(b.to_vec()))
    }
}

// ---------------------------------------------------------------------------------------------
// history, utxos

/// Whether a history event paid the script (an output) or spent from it (an input).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    Funded = 0,
    Spent = 1,
}

/// One event in a script's history; keys sort in chain order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HistoryKey {
    pub script: ScriptNum,
    pub txnum: TxNum,
    pub kind: EventKind,
    /// The output index for `Funded`, the input index for `Spent`.
    pub index: u32,
}

impl HistoryKey {
    /// The first event of `script` at or after `txnum`.
    pub fn first_at(script: ScriptNum, txnum: TxNum) -> HistoryKey {
        HistoryKey { script, txnum, kind: EventKind::Funded, index: 0 }
    }
}

impl Codec for HistoryKey {
    fn encode_to(&self, out: &mut Vec<u8>) {
        put_num(out, self.script);
        put_num(out, self.txnum);
        out.push(self.kind as u8);
        out.extend_from_slice(&self.index.to_be_bytes());
    }
    fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        check_len("history key", b, 15)?;
        let kind = match b[10] {
            0 => EventKind::Funded,
            1 => EventKind::Spent,
            k => return Err(corrupt("history key", format!("event kind {k}"))),
        };
        Ok(HistoryKey { script: num_at(b, 0), txnum: num_at(b, 5), kind, index: u32_at(b, 11) })
    }
}

/// An unspent output of a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UtxoKey {
    pub script: ScriptNum,
    pub txnum: TxNum,
    pub vout: u32,
}

impl Codec for UtxoKey {
    fn encode_to(&self, out: &mut Vec<u8>) {
        put_num(out, self.script);
        put_num(out, self.txnum);
        out.extend_from_slice(&self.vout.to_be_bytes());
    }
    fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        check_len("utxo key", b, 14)?;
        Ok(UtxoKey { script: num_at(b, 0), txnum: num_at(b, 5), vout: u32_at(b, 10) })
    }
}

// ---------------------------------------------------------------------------------------------
// undo

/// What one key held before a block was applied; `None` means the key did not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndoEntry {
    pub table: u8,
    pub key: Vec<u8>,
    pub old: Option<Vec<u8>>,
}

/// Everything needed to take one block back out: the prior value of every key it wrote, in
/// write order, and the meta row before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockUndo {
    pub entries: Vec<UndoEntry>,
    pub meta_before: Meta,
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn take_bytes<'a>(b: &mut &'a [u8]) -> Result<&'a [u8], DecodeError> {
    let len = take_varint("undo", b)? as usize;
    if b.len() < len {
        return Err(corrupt("undo", "entry runs past the row"));
    }
    let (bytes, rest) = b.split_at(len);
    *b = rest;
    Ok(bytes)
}

/// The meta row before the block (length-prefixed), then per entry: table `u8`, key
/// (length-prefixed), and `0` for "absent" or `1` and the old value (length-prefixed).
impl Codec for BlockUndo {
    fn encode_to(&self, out: &mut Vec<u8>) {
        put_bytes(out, &self.meta_before.encode());
        for e in &self.entries {
            out.push(e.table);
            put_bytes(out, &e.key);
            match &e.old {
                None => out.push(0),
                Some(v) => {
                    out.push(1);
                    put_bytes(out, v);
                }
            }
        }
    }
    fn decode(mut b: &[u8]) -> Result<Self, DecodeError> {
        let meta_before = Meta::decode(take_bytes(&mut b)?)?;
        let mut entries = Vec::new();
        while let Some((&table, rest)) = b.split_first() {
            b = rest;
            let key = take_bytes(&mut b)?.to_vec();
            let (&flag, rest) = b.split_first().ok_or_else(|| corrupt("undo", "entry without its old value"))?;
            b = rest;
            let old = match flag {
                0 => None,
                1 => Some(take_bytes(&mut b)?.to_vec()),
                f => return Err(corrupt("undo", format!("old-value flag {f}"))),
            };
            entries.push(UndoEntry { table, key, old });
        }
        Ok(BlockUndo { entries, meta_before })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn round_trip<T: Codec + PartialEq + std::fmt::Debug>(value: T, bytes: &[u8]) {
        assert_eq!(value.encode(), bytes, "{value:?}");
        assert_eq!(T::decode(bytes).unwrap(), value);
    }

    #[test]
    fn numbers_are_40_bit_big_endian_so_byte_order_is_numeric_order() {
        round_trip(0x01_0203_0405u64, &[1, 2, 3, 4, 5]);
        round_trip(7u32, &[0, 0, 0, 7]);
        assert!(255u64.encode() < 256u64.encode());
        assert!(OutKey { txnum: 1, vout: u32::MAX }.encode() < OutKey { txnum: 2, vout: 0 }.encode());
        assert!(u64::decode(&[1, 2, 3]).is_err());
    }

    #[test]
    fn varints_round_trip_and_refuse_truncation() {
        for n in [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut v = Vec::new();
            put_varint(&mut v, n);
            let mut b = v.as_slice();
            assert_eq!(take_varint("t", &mut b).unwrap(), n);
            assert!(b.is_empty());
        }
        round_trip(Sats(300), &[0xac, 0x02]);
        assert!(Sats::decode(&[0x80]).is_err());
    }

    #[test]
    fn key_bytes_are_pinned_and_round_trip() {
        round_trip(PrefixKey { prefix: [9; 8], num: 3 }, &[9, 9, 9, 9, 9, 9, 9, 9, 0, 0, 0, 0, 3]);
        assert_eq!(PrefixKey::of_txid(&[7; 32]), [7; 8]);
        let mut txid = [0u8; 32];
        txid[31] = 0xab;
        txid[24] = 0x01;
        assert_eq!(PrefixKey::of_txid(&txid), [0xab, 0, 0, 0, 0, 0, 0, 0x01]);
        assert_eq!(PrefixKey::of_script(&[]), [0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14]);
        round_trip(OutKey { txnum: 0x0a0b, vout: 3 }, &[0, 0, 0, 0x0a, 0x0b, 0, 0, 0, 3]);
        round_trip(
            HistoryKey { script: 2, txnum: 0x0a0b, kind: EventKind::Spent, index: 3 },
            &[0, 0, 0, 0, 2, 0, 0, 0, 0x0a, 0x0b, 1, 0, 0, 0, 3],
        );
        round_trip(UtxoKey { script: 2, txnum: 5, vout: 6 }, &[0, 0, 0, 0, 2, 0, 0, 0, 0, 5, 0, 0, 0, 6]);
        assert!(
            HistoryKey::first_at(2, 5).encode()
                <= HistoryKey { script: 2, txnum: 5, kind: EventKind::Funded, index: 0 }.encode()
        );
        round_trip(StageId::Addresses, &[1]);
        round_trip(StageId::Clusters, &[2]);
        round_trip(MetaKey, b"meta");
        round_trip(SealedKey, b"sealed");
        round_trip(Sealed { blocks: 1, txs: 2, scripts: 3 }, &[0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 3]);
    }

    #[test]
    fn row_bytes_are_pinned_and_round_trip() {
        let outputs = OutputsRow(vec![
            OutputEntry { value: 5, script: OutScript::Num(3) },
            OutputEntry { value: 0, script: OutScript::Unspendable(vec![0x6a, 0x01]) },
        ]);
        round_trip(outputs, &[5, 6, 0, 5, 0x6a, 0x01]);
        round_trip(IoRef { txnum: 300, index: 1 }, &[0xac, 0x02, 1]);
        let inputs = vec![InputRow { prev: IoRef { txnum: 7, index: 1 }, value: 9 }];
        let row = InputsRow::of(10, &inputs);
        round_trip(row.clone(), &[3, 1, 9]);
        assert_eq!(row.resolve(10).unwrap(), inputs);
        assert!(row.resolve(2).is_err());
        let tx = TxRow { txid: [1; 32], height: 2, position: 3 };
        let b = tx.encode();
        assert_eq!(&b[32..], &[0, 0, 0, 2, 3]);
        assert_eq!(TxRow::decode(&b).unwrap(), tx);
        let header =
            HeaderRow { hash: [3; 32], header: [4; 80], first_txnum: 1, tx_count: 2, size: 3, first_scriptnum: 4 };
        let b = header.encode();
        assert_eq!(&b[112..], &[0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 4]);
        assert_eq!(HeaderRow::decode(&b).unwrap(), header);
        round_trip(Checkpoint { height: 1, hash: [2; 32] }, &[[0, 0, 0, 1].as_slice(), &[2; 32]].concat());
    }

    #[test]
    fn meta_and_undo_round_trip() {
        let meta =
            Meta { tip: Some((5, [2; 32])), next_txnum: 9, next_scriptnum: 4, ..Meta::empty("regtest", [1; 32]) };
        assert_eq!(Meta::decode(&meta.encode()).unwrap(), meta);
        let entries = vec![
            UndoEntry { table: Utxos::ID, key: vec![1], old: Some(vec![2]) },
            UndoEntry { table: 4, key: vec![3, 4], old: None },
        ];
        let undo = BlockUndo { entries, meta_before: meta.clone() };
        let bytes = undo.encode();
        let meta_len = meta.encode().len();
        assert_eq!(&bytes[meta_len + 1..], &[Utxos::ID, 1, 1, 1, 1, 2, 4, 2, 3, 4, 0]);
        assert_eq!(BlockUndo::decode(&bytes).unwrap(), undo);
        assert!(BlockUndo::decode(&bytes[..bytes.len() - 1]).is_err());
        assert_eq!(TABLES[MetaTable::ID as usize], "meta");
        assert_eq!(TABLES[Undo::ID as usize], "undo");
        assert_eq!(TABLES.len(), 22);
    }

    #[test]
    fn check_row_decodes_with_the_tables_own_types() {
        let meta = Meta::empty("regtest", [7; 32]);
        assert!(check_row(MetaTable::ID, &MetaKey.encode(), &meta.encode()).is_ok());
        assert!(check_row(MetaTable::ID, b"other", &meta.encode()).is_err(), "a key of another layout");
        assert!(check_row(MetaTable::ID, &MetaKey.encode(), &meta.encode()[1..]).is_err(), "a value cut short");
        assert!(check_row(Headers::ID, &7u32.encode(), &meta.encode()).is_err(), "another table's value");
        let err = check_row(TABLES.len() as u8, b"", b"").unwrap_err();
        assert!(err.to_string().contains("no table has id 22"), "{err}");
    }
}
