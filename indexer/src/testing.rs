//! Crafted blocks for unit tests: scripts, transactions and blocks without a node, and the
//! helpers that apply them and compare databases.

use bitcoin::block::{Header, Version};
use bitcoin::hashes::Hash;
use bitcoin::{
    absolute, transaction, Amount, Block, BlockHash, CompactTarget, OutPoint, ScriptBuf, Sequence, Transaction, TxIn,
    TxMerkleNode, TxOut, Witness,
};

use crate::stages::StageConfig;
use crate::storage::kv::WriteMode;
use crate::storage::schema::*;
use crate::storage::store::{Row, Store};
use crate::writer::Writer;

pub fn script(tag: u8) -> ScriptBuf {
    ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array([tag; 20]))
}

pub fn tx(inputs: Vec<OutPoint>, outputs: Vec<(ScriptBuf, u64)>, coinbase_tag: Option<u8>) -> Transaction {
    let input = match coinbase_tag {
        Some(tag) => vec![TxIn { script_sig: ScriptBuf::from_bytes(vec![1, tag]), ..TxIn::default() }],
        None => inputs
            .into_iter()
            .map(|previous_output| TxIn {
                previous_output,
                sequence: Sequence::MAX,
                witness: Witness::new(),
                ..TxIn::default()
            })
            .collect(),
    };
    let output =
        outputs.into_iter().map(|(script_pubkey, v)| TxOut { value: Amount::from_sat(v), script_pubkey }).collect();
    Transaction { version: transaction::Version::TWO, lock_time: absolute::LockTime::ZERO, input, output }
}

pub fn block(prev: BlockHash, nonce: u32, txdata: Vec<Transaction>) -> Block {
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

pub fn fresh_meta() -> Meta {
    Meta::empty("regtest", [0; 32])
}

pub fn apply_all(store: &Store, blocks: &[Block]) {
    apply_with(store, blocks, StageConfig::default());
}

/// Applies `blocks` on top of the store's tip with `stages`, keeping undo data, in one batch.
pub fn apply_with(store: &Store, blocks: &[Block], stages: StageConfig) {
    let mut pending = Writer::new(store, store.meta().unwrap().unwrap_or_else(fresh_meta), stages).unwrap();
    let start = pending.meta().tip.map(|t| t.0 + 1).unwrap_or(0);
    for (i, b) in blocks.iter().enumerate() {
        pending.apply(b, None, start + i as u32, true, 100).unwrap();
    }
    pending.commit(WriteMode::Tip).unwrap();
}

/// Every row but the undo data and the sealed mark (where rows are kept, not what they hold).
pub fn dump(store: &Store) -> Vec<Row> {
    TABLES
        .iter()
        .filter(|t| ![Undo::NAME, SealedMark::NAME].contains(*t))
        .flat_map(|t| store.rows(t).unwrap())
        .collect()
}
