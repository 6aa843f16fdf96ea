//! The on-disk format: column families, key layouts and row encodings. Nothing else builds a key.
//!
//! Keys are fixed-width and big-endian so that byte order is numeric order and prefix scans work.
//! Values use a hand layout (little-endian integers) except `meta` and `undo`, which use bincode.
//! `docs/schema.md` describes every column family in one table; keep the two in step.

use bitcoin::hashes::{sha256, Hash};
use serde::{Deserialize, Serialize};

/// Bump when any key or value layout changes; a database of another version refuses to open.
pub const SCHEMA_VERSION: u32 = 1;

/// A transaction's position in the whole chain: 0 is the genesis coinbase, counting up in block
/// and in-block order. Smaller numbers are earlier in chain order.
pub type TxNum = u32;

pub const CF_META: &str = "meta";
pub const CF_HEADERS: &str = "headers";
pub const CF_BLOCK_HEIGHTS: &str = "block_heights";
pub const CF_TXIDS: &str = "txids";
pub const CF_TXS: &str = "txs";
pub const CF_OUTPUTS: &str = "outputs";
pub const CF_SPENDS: &str = "spends";
pub const CF_INPUTS: &str = "inputs";
pub const CF_HISTORY: &str = "history";
pub const CF_UTXOS: &str = "utxos";
pub const CF_SCRIPTS: &str = "scripts";
pub const CF_UNDO: &str = "undo";

/// Every column family, in a fixed order; the index of a name here is its id in undo records.
pub const COLUMN_FAMILIES: [&str; 12] = [
    CF_META,
    CF_HEADERS,
    CF_BLOCK_HEIGHTS,
    CF_TXIDS,
    CF_TXS,
    CF_OUTPUTS,
    CF_SPENDS,
    CF_INPUTS,
    CF_HISTORY,
    CF_UTXOS,
    CF_SCRIPTS,
    CF_UNDO,
];

/// Id of a column family in undo records.
pub fn cf_id(name: &str) -> u8 {
    COLUMN_FAMILIES
        .iter()
        .position(|cf| *cf == name)
        .expect("column family names are the constants above") as u8
}

/// A row could not be decoded: the database is corrupt or of another format.
#[derive(Debug, thiserror::Error)]
#[error("corrupt {what} row: expected {expected} bytes, found {found}")]
pub struct DecodeError {
    pub what: &'static str,
    pub expected: usize,
    pub found: usize,
}

fn check_len(what: &'static str, bytes: &[u8], expected: usize) -> Result<(), DecodeError> {
    if bytes.len() == expected {
        Ok(())
    } else {
        Err(DecodeError { what, expected, found: bytes.len() })
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("caller checked the length"))
}

fn u32_le_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("caller checked the length"))
}

fn u64_le_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("caller checked the length"))
}

fn array32(b: &[u8], at: usize) -> [u8; 32] {
    b[at..at + 32].try_into().expect("caller checked the length")
}

/// The identity of an output script: SHA-256 of its bytes. Addresses, bare multisig and
/// non-standard scripts are all indexed by this id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScriptId(pub [u8; 32]);

impl ScriptId {
    pub fn of(script: &[u8]) -> Self {
        ScriptId(sha256::Hash::hash(script).to_byte_array())
    }
}

impl std::fmt::Debug for ScriptId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ScriptId({})", hex::encode(self.0))
    }
}

// ---------------------------------------------------------------------------------------------
// meta: b"meta" -> Meta (bincode)

pub const META_KEY: &[u8] = b"meta";

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
}

impl Meta {
    /// Height of the next block to index: one above the tip, or 0 for an empty database.
    pub fn next_height(&self) -> u32 {
        self.tip.map(|(h, _)| h + 1).unwrap_or(0)
    }

    pub fn encode(&self) -> Vec<u8> {
        bincode::serialize(self).expect("serializing a plain struct into memory cannot fail")
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, bincode::Error> {
        bincode::deserialize(bytes)
    }
}

// ---------------------------------------------------------------------------------------------
// headers: height u32 -> HeaderRow; block_heights: block hash -> height u32

pub fn height_key(height: u32) -> [u8; 4] {
    height.to_be_bytes()
}

pub fn decode_height(bytes: &[u8]) -> Result<u32, DecodeError> {
    check_len("height", bytes, 4)?;
    Ok(u32_at(bytes, 0))
}

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
}

impl HeaderRow {
    const LEN: usize = 32 + 80 + 4 + 4 + 4;

    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(Self::LEN);
        v.extend_from_slice(&self.hash);
        v.extend_from_slice(&self.header);
        v.extend_from_slice(&self.first_txnum.to_le_bytes());
        v.extend_from_slice(&self.tx_count.to_le_bytes());
        v.extend_from_slice(&self.size.to_le_bytes());
        v
    }

    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        check_len("headers", b, Self::LEN)?;
        Ok(HeaderRow {
            hash: array32(b, 0),
            header: b[32..112].try_into().expect("length checked"),
            first_txnum: u32_le_at(b, 112),
            tx_count: u32_le_at(b, 116),
            size: u32_le_at(b, 120),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// txids: txid -> [TxNum] (one per occurrence, ascending; two only for BIP30 duplicates)

pub fn encode_txnums(nums: &[TxNum]) -> Vec<u8> {
    nums.iter().flat_map(|n| n.to_le_bytes()).collect()
}

pub fn decode_txnums(b: &[u8]) -> Result<Vec<TxNum>, DecodeError> {
    if b.is_empty() || b.len() % 4 != 0 {
        return Err(DecodeError { what: "txids", expected: 4 * (b.len() / 4 + 1), found: b.len() });
    }
    Ok(b.chunks_exact(4).map(|c| u32_le_at(c, 0)).collect())
}

// ---------------------------------------------------------------------------------------------
// txs: txnum u32 -> TxRow

pub fn txnum_key(num: TxNum) -> [u8; 4] {
    num.to_be_bytes()
}

/// Where a transaction sits and its shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRow {
    pub txid: [u8; 32],
    pub height: u32,
    /// Position inside its block; 0 is the coinbase.
    pub position: u32,
    pub inputs: u32,
    pub outputs: u32,
}

impl TxRow {
    const LEN: usize = 32 + 4 * 4;

    pub fn is_coinbase(&self) -> bool {
        self.position == 0
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(Self::LEN);
        v.extend_from_slice(&self.txid);
        for n in [self.height, self.position, self.inputs, self.outputs] {
            v.extend_from_slice(&n.to_le_bytes());
        }
        v
    }

    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        check_len("txs", b, Self::LEN)?;
        Ok(TxRow {
            txid: array32(b, 0),
            height: u32_le_at(b, 32),
            position: u32_le_at(b, 36),
            inputs: u32_le_at(b, 40),
            outputs: u32_le_at(b, 44),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// outputs / spends: (txnum u32, vout u32) -> row; inputs: (txnum u32, vin u32) -> row

/// Key of an output (`outputs`, `spends`) or an input (`inputs`): the tx number, then the index.
pub fn io_key(num: TxNum, index: u32) -> [u8; 8] {
    let mut k = [0u8; 8];
    k[..4].copy_from_slice(&num.to_be_bytes());
    k[4..].copy_from_slice(&index.to_be_bytes());
    k
}

pub fn decode_io_key(b: &[u8]) -> Result<(TxNum, u32), DecodeError> {
    check_len("output/input key", b, 8)?;
    Ok((u32_at(b, 0), u32_at(b, 4)))
}

/// An output: its value and its script. Unspendable outputs (OP_RETURN) are stored too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputRow {
    pub value: u64,
    pub script: Vec<u8>,
}

impl OutputRow {
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(8 + self.script.len());
        v.extend_from_slice(&self.value.to_le_bytes());
        v.extend_from_slice(&self.script);
        v
    }

    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        if b.len() < 8 {
            return Err(DecodeError { what: "outputs", expected: 8, found: b.len() });
        }
        Ok(OutputRow { value: u64_le_at(b, 0), script: b[8..].to_vec() })
    }

    pub fn script_id(&self) -> ScriptId {
        ScriptId::of(&self.script)
    }

    /// OP_RETURN outputs (and any script starting with it) can never be spent.
    pub fn is_unspendable(&self) -> bool {
        self.script.first() == Some(&0x6a)
    }
}

/// The other end of a spend edge: a transaction and one of its inputs or outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IoRef {
    pub txnum: TxNum,
    pub index: u32,
}

impl IoRef {
    pub fn encode(&self) -> [u8; 8] {
        let mut v = [0u8; 8];
        v[..4].copy_from_slice(&self.txnum.to_le_bytes());
        v[4..].copy_from_slice(&self.index.to_le_bytes());
        v
    }

    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        check_len("spends", b, 8)?;
        Ok(IoRef { txnum: u32_le_at(b, 0), index: u32_le_at(b, 4) })
    }
}

/// An input: the output it spent, and that output's value, so backward traces need no second
/// lookup. Coinbase inputs have no row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputRow {
    pub prev: IoRef,
    pub value: u64,
}

impl InputRow {
    const LEN: usize = 16;

    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(Self::LEN);
        v.extend_from_slice(&self.prev.encode());
        v.extend_from_slice(&self.value.to_le_bytes());
        v
    }

    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        check_len("inputs", b, Self::LEN)?;
        Ok(InputRow { prev: IoRef::decode(&b[..8])?, value: u64_le_at(b, 8) })
    }
}

// ---------------------------------------------------------------------------------------------
// history: (script id, txnum u32, kind u8, index u32) -> value u64

/// Whether a history event paid the script (an output) or spent from it (an input).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventKind {
    Funded = 0,
    Spent = 1,
}

/// One event in a script's history; keys sort in chain order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryKey {
    pub script: ScriptId,
    pub txnum: TxNum,
    pub kind: EventKind,
    /// The output index for `Funded`, the input index for `Spent`.
    pub index: u32,
}

impl HistoryKey {
    pub const LEN: usize = 32 + 4 + 1 + 4;

    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut k = [0u8; Self::LEN];
        k[..32].copy_from_slice(&self.script.0);
        k[32..36].copy_from_slice(&self.txnum.to_be_bytes());
        k[36] = self.kind as u8;
        k[37..].copy_from_slice(&self.index.to_be_bytes());
        k
    }

    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        check_len("history key", b, Self::LEN)?;
        let kind = match b[36] {
            0 => EventKind::Funded,
            1 => EventKind::Spent,
            _ => return Err(DecodeError { what: "history kind", expected: 1, found: 0 }),
        };
        Ok(HistoryKey { script: ScriptId(array32(b, 0)), txnum: u32_at(b, 32), kind, index: u32_at(b, 37) })
    }
}

/// Prefix of every history or UTXO key of one script.
pub fn script_prefix(script: &ScriptId) -> [u8; 32] {
    script.0
}

/// The first history key at or after `txnum` for a script: seek here to page through history.
pub fn history_seek_key(script: &ScriptId, txnum: TxNum) -> [u8; 36] {
    let mut k = [0u8; 36];
    k[..32].copy_from_slice(&script.0);
    k[32..].copy_from_slice(&txnum.to_be_bytes());
    k
}

pub fn encode_value(value: u64) -> [u8; 8] {
    value.to_le_bytes()
}

pub fn decode_value(b: &[u8]) -> Result<u64, DecodeError> {
    check_len("value", b, 8)?;
    Ok(u64_le_at(b, 0))
}

// ---------------------------------------------------------------------------------------------
// utxos: (script id, txnum u32, vout u32) -> UtxoRow

pub fn utxo_key(script: &ScriptId, num: TxNum, vout: u32) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..32].copy_from_slice(&script.0);
    k[32..].copy_from_slice(&io_key(num, vout));
    k
}

pub fn decode_utxo_key(b: &[u8]) -> Result<(ScriptId, TxNum, u32), DecodeError> {
    check_len("utxo key", b, 40)?;
    let (num, vout) = decode_io_key(&b[32..])?;
    Ok((ScriptId(array32(b, 0)), num, vout))
}

/// An unspent output of a script: its value and the height of the block that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtxoRow {
    pub value: u64,
    pub height: u32,
}

impl UtxoRow {
    pub fn encode(&self) -> [u8; 12] {
        let mut v = [0u8; 12];
        v[..8].copy_from_slice(&self.value.to_le_bytes());
        v[8..].copy_from_slice(&self.height.to_le_bytes());
        v
    }

    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        check_len("utxos", b, 12)?;
        Ok(UtxoRow { value: u64_le_at(b, 0), height: u32_le_at(b, 8) })
    }
}

// ---------------------------------------------------------------------------------------------
// scripts: script id -> ScriptStats

/// Running totals of one script; kept in step with its history and UTXO rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScriptStats {
    /// Sum of its unspent outputs.
    pub balance: u64,
    pub received: u64,
    pub sent: u64,
    /// Distinct transactions that paid or spent it.
    pub tx_count: u32,
    pub funded_outputs: u32,
    pub spent_outputs: u32,
    pub first_height: u32,
    pub last_height: u32,
}

impl ScriptStats {
    const LEN: usize = 8 * 3 + 4 * 5;

    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(Self::LEN);
        for n in [self.balance, self.received, self.sent] {
            v.extend_from_slice(&n.to_le_bytes());
        }
        for n in [self.tx_count, self.funded_outputs, self.spent_outputs, self.first_height, self.last_height] {
            v.extend_from_slice(&n.to_le_bytes());
        }
        v
    }

    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        check_len("scripts", b, Self::LEN)?;
        Ok(ScriptStats {
            balance: u64_le_at(b, 0),
            received: u64_le_at(b, 8),
            sent: u64_le_at(b, 16),
            tx_count: u32_le_at(b, 24),
            funded_outputs: u32_le_at(b, 28),
            spent_outputs: u32_le_at(b, 32),
            first_height: u32_le_at(b, 36),
            last_height: u32_le_at(b, 40),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// undo: height u32 -> BlockUndo (bincode)

/// What one key held before a block was applied; `None` means the key did not exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndoEntry {
    pub cf: u8,
    pub key: Vec<u8>,
    pub old: Option<Vec<u8>>,
}

/// Everything needed to take one block back out: the prior value of every key it wrote, in
/// write order, and the meta row before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockUndo {
    pub entries: Vec<UndoEntry>,
    pub meta_before: Meta,
}

impl BlockUndo {
    pub fn encode(&self) -> Vec<u8> {
        bincode::serialize(self).expect("serializing a plain struct into memory cannot fail")
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, bincode::Error> {
        bincode::deserialize(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_big_endian_so_byte_order_is_numeric_order() {
        assert_eq!(height_key(0x0102_0304), [1, 2, 3, 4]);
        assert_eq!(io_key(1, 2), [0, 0, 0, 1, 0, 0, 0, 2]);
        assert!(io_key(1, 0xffff_ffff) < io_key(2, 0));
        assert!(txnum_key(255) < txnum_key(256));
    }

    #[test]
    fn history_key_bytes_are_pinned_and_round_trip() {
        let k = HistoryKey { script: ScriptId([7; 32]), txnum: 0x0a0b, kind: EventKind::Spent, index: 3 };
        let bytes = k.encode();
        let mut expected = vec![7u8; 32];
        expected.extend_from_slice(&[0, 0, 0x0a, 0x0b, 1, 0, 0, 0, 3]);
        assert_eq!(bytes.to_vec(), expected);
        assert_eq!(HistoryKey::decode(&bytes).unwrap(), k);
        assert!(history_seek_key(&k.script, 0x0a0b).as_slice() < &bytes[..]);
    }

    #[test]
    fn utxo_key_bytes_are_pinned_and_round_trip() {
        let k = utxo_key(&ScriptId([1; 32]), 5, 6);
        assert_eq!(&k[32..], &[0, 0, 0, 5, 0, 0, 0, 6]);
        assert_eq!(decode_utxo_key(&k).unwrap(), (ScriptId([1; 32]), 5, 6));
        let row = UtxoRow { value: 0x0102, height: 9 };
        assert_eq!(row.encode(), [2, 1, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0]);
        assert_eq!(UtxoRow::decode(&row.encode()).unwrap(), row);
    }

    #[test]
    fn header_row_bytes_are_pinned_and_round_trip() {
        let row = HeaderRow { hash: [3; 32], header: [4; 80], first_txnum: 1, tx_count: 2, size: 3 };
        let bytes = row.encode();
        assert_eq!(bytes.len(), 124);
        assert_eq!(&bytes[112..], &[1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]);
        assert_eq!(HeaderRow::decode(&bytes).unwrap(), row);
        assert!(HeaderRow::decode(&bytes[1..]).is_err());
    }

    #[test]
    fn tx_row_bytes_are_pinned_and_round_trip() {
        let row = TxRow { txid: [9; 32], height: 1, position: 0, inputs: 1, outputs: 2 };
        let bytes = row.encode();
        assert_eq!(&bytes[32..], &[1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(TxRow::decode(&bytes).unwrap(), row);
        assert!(row.is_coinbase());
    }

    #[test]
    fn output_input_and_spend_rows_are_pinned_and_round_trip() {
        let out = OutputRow { value: 1, script: vec![0x6a, 0x01] };
        assert_eq!(out.encode(), [1, 0, 0, 0, 0, 0, 0, 0, 0x6a, 0x01]);
        assert_eq!(OutputRow::decode(&out.encode()).unwrap(), out);
        assert!(out.is_unspendable());
        let input = InputRow { prev: IoRef { txnum: 2, index: 3 }, value: 4 };
        assert_eq!(input.encode(), [2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(InputRow::decode(&input.encode()).unwrap(), input);
        let spend = IoRef { txnum: 0x0100, index: 1 };
        assert_eq!(IoRef::decode(&spend.encode()).unwrap(), spend);
    }

    #[test]
    fn txnum_lists_and_stats_round_trip() {
        assert_eq!(encode_txnums(&[1, 2]), [1, 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(decode_txnums(&encode_txnums(&[1, 2])).unwrap(), vec![1, 2]);
        assert!(decode_txnums(&[1, 2, 3]).is_err());
        let s = ScriptStats { balance: 1, received: 2, sent: 3, tx_count: 4, funded_outputs: 5, spent_outputs: 6, first_height: 7, last_height: 8 };
        let b = s.encode();
        assert_eq!(&b[..8], &[1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&b[40..], &[8, 0, 0, 0]);
        assert_eq!(ScriptStats::decode(&b).unwrap(), s);
    }

    #[test]
    fn meta_and_undo_round_trip() {
        let meta = Meta { schema_version: 1, network: "regtest".into(), genesis_hash: [1; 32], tip: Some((5, [2; 32])), next_txnum: 9 };
        assert_eq!(Meta::decode(&meta.encode()).unwrap(), meta);
        let undo = BlockUndo { entries: vec![UndoEntry { cf: cf_id(CF_UTXOS), key: vec![1], old: Some(vec![2]) }], meta_before: meta };
        assert_eq!(BlockUndo::decode(&undo.encode()).unwrap(), undo);
        assert_eq!(cf_id(CF_META), 0);
        assert_eq!(cf_id(CF_UNDO), 11);
    }
}
