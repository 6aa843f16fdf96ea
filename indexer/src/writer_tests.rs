//! Tests of the writer, the journal's undo, the stages and BIP30 on crafted blocks.

use super::*;
use crate::stages::StageConfig;
use crate::storage::journal::{undo_tip, UndoError};
use crate::testing::*;
use bitcoin::{OutPoint, ScriptBuf};
use std::collections::HashMap;

fn num_of(store: &Store, script: &ScriptBuf) -> ScriptNum {
    store.script_num(script.as_bytes()).unwrap().expect("the script was paid")
}

fn stats(store: &Store, script: &ScriptBuf) -> crate::storage::store::ScriptStats {
    store.script_stats(num_of(store, script)).unwrap().expect("the script has history")
}

/// Genesis, then blocks 1..=3: coinbases, a spend of an earlier coinbase, an in-block chain,
/// address reuse and an OP_RETURN.
fn chain() -> Vec<Block> {
    let genesis = bitcoin::constants::genesis_block(bitcoin::Network::Regtest);
    let b1 = block(genesis.block_hash(), 1, vec![tx(vec![], vec![(script(1), 5_000), (script(2), 1_000)], Some(1))]);
    let cb1 = b1.txdata[0].compute_txid();
    let pay = tx(vec![OutPoint::new(cb1, 0)], vec![(script(3), 3_000), (script(1), 1_900)], None);
    let chained = tx(
        vec![OutPoint::new(pay.compute_txid(), 0)],
        vec![(script(4), 2_900), (ScriptBuf::new_op_return([7u8; 4]), 0)],
        None,
    );
    let b2 = block(b1.block_hash(), 2, vec![tx(vec![], vec![(script(5), 5_000)], Some(2)), pay.clone(), chained]);
    let consolidate =
        tx(vec![OutPoint::new(pay.compute_txid(), 1), OutPoint::new(cb1, 1)], vec![(script(6), 2_800)], None);
    let b3 = block(b2.block_hash(), 3, vec![tx(vec![], vec![(script(1), 5_000)], Some(3)), consolidate]);
    vec![genesis, b1, b2, b3]
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
    assert!(matches!(undo_tip(&long, 3), Err(UndoError::NotTip { asked: 3, tip: Some(1) })));
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
    let s1 = stats(&store, &script(1));
    // script 1: 5000 (b1 coinbase, spent) + 1900 (change, spent in b3) + 5000 (b3 coinbase).
    assert_eq!((s1.balance, s1.received, s1.sent), (5_000, 11_900, 6_900));
    assert_eq!((s1.tx_count, s1.funded_outputs, s1.spent_outputs, s1.first_height, s1.last_height), (4, 3, 2, 1, 3));
    let s6 = stats(&store, &script(6));
    assert_eq!(s6.balance, 2_800);
    // Block 2 holds txnums 2 (coinbase), 3 (pay), 4 (chained); block 3: 5, 6.
    assert_eq!(store.spend(3, 0).unwrap(), Some(IoRef { txnum: 4, index: 0 }));
    assert_eq!(
        store.inputs(6).unwrap().iter().map(|(i, r)| (*i, r.prev, r.value)).collect::<Vec<_>>(),
        vec![(0, IoRef { txnum: 3, index: 1 }, 1_900), (1, IoRef { txnum: 1, index: 1 }, 1_000)]
    );
    let op_return = store.output(4, 1).unwrap().unwrap();
    assert!(op_return.is_unspendable());
    assert_eq!(store.script_num(&op_return.script).unwrap(), None);
    let history = store.history(num_of(&store, &script(1)), 0, 100).unwrap();
    let events: Vec<_> = history.iter().map(|(k, v)| (k.txnum, k.kind, *v)).collect();
    assert_eq!(
        events,
        vec![
            (1, EventKind::Funded, 5_000),
            (3, EventKind::Funded, 1_900),
            (3, EventKind::Spent, 5_000),
            (5, EventKind::Funded, 5_000),
            (6, EventKind::Spent, 1_900)
        ]
    );
    let utxos = store.utxos(num_of(&store, &script(1)), 10).unwrap();
    assert_eq!(utxos, vec![(5, 0, 5_000)]);
}

#[test]
fn spent_outputs_given_by_the_feed_give_the_same_rows_as_reading_them() {
    let blocks = chain();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let read = Store::open_writable(a.path(), 1 << 20).unwrap();
    apply_all(&read, &blocks);
    let given = Store::open_writable(b.path(), 1 << 20).unwrap();
    let mut outputs: HashMap<bitcoin::OutPoint, TxOut> = HashMap::new();
    let mut pending = Writer::new(&given, fresh_meta(), StageConfig::default()).unwrap();
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
    // The first coin was overwritten, as in Core: one coin was ever spendable, and it is spent.
    let s9 = stats(&store, &script(9));
    assert_eq!((s9.balance, s9.utxo_count, s9.received, s9.sent), (0, 0, 100, 50));
    undo_tip(&store, 3).unwrap();
    // Before the spend: one unspent coin, the latest occurrence's.
    let s9 = stats(&store, &script(9));
    assert_eq!((s9.balance, s9.utxo_count), (50, 1));
    assert_eq!(store.utxos(num_of(&store, &script(9)), 10).unwrap(), vec![(2, 0, 50)]);
    undo_tip(&store, 2).unwrap();
    assert_eq!(store.txnums(dup.compute_txid().as_byte_array()).unwrap(), vec![1]);
    assert_eq!(store.utxos(num_of(&store, &script(9)), 10).unwrap(), vec![(1, 0, 50)]);
}

/// Mainnet's two BIP30 pairs: the coinbases of blocks 91812 and 91722 were duplicated at 91842
/// and 91880 while still unspent. Core counts each pair as one coin; so must balances and UTXOs,
/// also when the addresses stage is rebuilt from stored rows.
#[test]
fn the_overwritten_bip30_coinbases_are_not_counted_as_spendable_twice() {
    let genesis = bitcoin::constants::genesis_block(bitcoin::Network::Regtest);
    let first = tx(vec![], vec![(script(20), 50)], Some(20));
    let second = tx(vec![], vec![(script(21), 50)], Some(21));
    let b1 = block(genesis.block_hash(), 1, vec![first.clone()]);
    let b2 = block(b1.block_hash(), 2, vec![second.clone()]);
    let b3 = block(b2.block_hash(), 3, vec![first.clone()]);
    let b4 = block(b3.block_hash(), 4, vec![second.clone()]);
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_writable(dir.path(), 1 << 20).unwrap();
    apply_all(&store, &[genesis, b1, b2, b3, b4]);
    let check = |store: &Store| {
        for (s, latest) in [(script(20), 3), (script(21), 4)] {
            let st = stats(store, &s);
            assert_eq!((st.balance, st.utxo_count, st.received), (50, 1, 100), "{s:?}");
            assert_eq!(store.utxos(num_of(store, &s), 10).unwrap(), vec![(latest, 0, 50)]);
        }
    };
    check(&store);
    let before = dump(&store);
    stages::reset(&mut store, StageId::Addresses).unwrap();
    assert_eq!(store.utxos(num_of(&store, &script(20)), 10).unwrap(), vec![]);
    StageConfig::default().catch_up(&store, 1, &std::sync::atomic::AtomicBool::new(false)).unwrap();
    check(&store);
    assert_eq!(dump(&store), before);
}

#[test]
fn a_stage_rebuilt_from_stored_rows_equals_the_live_one_and_still_undoes() {
    let blocks = chain();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let live = Store::open_writable(a.path(), 1 << 20).unwrap();
    apply_all(&live, &blocks);
    let mut rebuilt = Store::open_writable(b.path(), 1 << 20).unwrap();
    apply_all(&rebuilt, &blocks);
    stages::reset(&mut rebuilt, StageId::Addresses).unwrap();
    assert_eq!(rebuilt.checkpoint(StageId::Addresses).unwrap(), None);
    assert_eq!(rebuilt.history(num_of(&rebuilt, &script(1)), 0, 10).unwrap(), vec![]);
    let applied = StageConfig::default().catch_up(&rebuilt, 2, &std::sync::atomic::AtomicBool::new(false)).unwrap();
    assert_eq!(applied, blocks.len() as u64);
    assert_eq!(dump(&rebuilt), dump(&live));
    // The rebuilt stage's writes are in the undo data: a reorg takes them out as before.
    for store in [&live, &rebuilt] {
        undo_tip(store, 3).unwrap();
        undo_tip(store, 2).unwrap();
    }
    assert_eq!(dump(&rebuilt), dump(&live));
    assert_eq!(rebuilt.checkpoint(StageId::Addresses).unwrap().map(|c| c.height), Some(1));
}

#[test]
fn a_block_that_does_not_extend_the_tip_is_refused_before_anything_is_written() {
    let blocks = chain();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_writable(dir.path(), 1 << 20).unwrap();
    apply_all(&store, &blocks[..2]);
    let mut pending = Writer::new(&store, store.meta().unwrap().unwrap(), StageConfig::default()).unwrap();
    assert!(matches!(pending.apply(&blocks[3], None, 2, true, 100), Err(ApplyError::NotOnTip { height: 2, .. })));
    assert!(pending.is_empty());
    let err = pending.apply(&blocks[2], None, 5, true, 100).unwrap_err();
    assert!(err.to_string().contains("does not extend the indexed tip 1"), "{err}");
}

/// Applies `blocks` one commit per block, as when following the tip, keeping undo data for the
/// last `depth` blocks: older ones move to the segment files.
fn apply_following(store: &Store, blocks: &[Block], depth: u32) {
    let mut pending =
        Writer::new(store, store.meta().unwrap().unwrap_or_else(fresh_meta), StageConfig::default()).unwrap();
    let start = pending.meta().next_height();
    for (i, b) in blocks.iter().enumerate() {
        pending.apply(b, None, start + i as u32, true, depth).unwrap();
        pending.commit(WriteMode::Tip).unwrap();
    }
}

/// Applies `blocks` as the initial sync does, without undo data, in one batch: straight to the
/// segment files.
fn apply_bulk(store: &Store, blocks: &[Block]) {
    let mut pending =
        Writer::new(store, store.meta().unwrap().unwrap_or_else(fresh_meta), StageConfig::default()).unwrap();
    let start = pending.meta().next_height();
    for (i, b) in blocks.iter().enumerate() {
        pending.apply(b, None, start + i as u32, false, 100).unwrap();
    }
    pending.commit(WriteMode::Bulk).unwrap();
}

#[test]
fn rows_read_the_same_from_the_segment_files_the_column_families_or_both() {
    let blocks = chain();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let [columns, following, bulk] = [0, 1, 2].map(|i| Store::open_writable(dirs[i].path(), 1 << 20).unwrap());
    apply_all(&columns, &blocks);
    apply_following(&following, &blocks, 2);
    apply_bulk(&bulk, &blocks);
    let sealed = |s: &Store| s.sealed().unwrap();
    assert_eq!(sealed(&columns), Sealed::default(), "every block keeps undo data");
    // Following with 2 blocks of undo data: blocks 0 and 1 (txnums 0 and 1, scripts 0 to 2) are sealed.
    assert_eq!(sealed(&following), Sealed { blocks: 2, txs: 2, scripts: 3 });
    assert_eq!(sealed(&bulk), Sealed { blocks: 4, txs: 7, scripts: 7 });
    assert_eq!(following.kv().segments().of(Txs::ID).unwrap().rows(), 2);
    assert_eq!(dump(&following), dump(&columns));
    assert_eq!(dump(&bulk), dump(&columns));
    for store in [&columns, &following, &bulk] {
        assert_eq!(store.tx(1).unwrap().map(|t| (t.height, t.position)), Some((1, 0)));
        assert_eq!(store.inputs(1).unwrap(), vec![], "a coinbase has no inputs");
        assert_eq!(store.inputs(6).unwrap().len(), 2);
        assert_eq!(store.output(1, 1).unwrap().map(|o| o.value), Some(1_000));
        assert_eq!(stats(store, &script(1)).balance, 5_000);
    }
}

#[test]
fn a_sealed_block_cannot_be_undone_and_rollback_keeps_the_seal() {
    let blocks = chain();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_writable(dir.path(), 1 << 20).unwrap();
    apply_following(&store, &blocks, 2);
    assert!(store.undo(1).unwrap().is_none(), "a sealed block's undo data is dropped");
    assert_eq!(undo_tip(&store, 3).unwrap(), Some(2));
    assert_eq!(undo_tip(&store, 2).unwrap(), Some(1));
    assert_eq!(store.sealed().unwrap().blocks, 2, "rolling back does not unseal");
    assert!(matches!(undo_tip(&store, 1), Err(UndoError::NoUndo { height: 1 })));
    // The rolled-back blocks apply again, and the index equals one that never rolled back.
    apply_following(&store, &blocks[2..], 2);
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = Store::open_writable(fresh_dir.path(), 1 << 20).unwrap();
    apply_following(&fresh, &blocks, 2);
    assert_eq!(dump(&store), dump(&fresh));
}

#[test]
fn an_append_no_batch_recorded_is_cut_off_when_the_writer_reopens() {
    let blocks = chain();
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open_writable(dir.path(), 1 << 20).unwrap();
        apply_bulk(&store, &blocks[..2]);
        // A crash between the segment write and the batch recording it.
        store.kv().segments().of(Txs::ID).unwrap().push(2, b"unrecorded");
        store.kv().segments().flush().unwrap();
    }
    let store = Store::open_writable(dir.path(), 1 << 20).unwrap();
    assert_eq!(store.kv().segments().of(Txs::ID).unwrap().rows(), 2);
    assert_eq!(store.tx(2).unwrap(), None);
    apply_bulk(&store, &blocks[2..]);
    let whole_dir = tempfile::tempdir().unwrap();
    let whole = Store::open_writable(whole_dir.path(), 1 << 20).unwrap();
    apply_bulk(&whole, &blocks);
    assert_eq!(dump(&store), dump(&whole));
    assert_eq!(store.tx(2).unwrap().map(|t| t.position), Some(0));
}
