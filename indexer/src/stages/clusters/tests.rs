//! The clusters stage on crafted blocks: merges, CoinJoins kept apart, one key's scripts, stable
//! ids, exact undo, and a stage caught up from stored rows equal to one built block by block.

use std::sync::atomic::AtomicBool;

use bitcoin::hashes::Hash;
use bitcoin::{Block, OutPoint, ScriptBuf, Transaction};

use super::read::{self, Link};
use super::*;
use crate::stages::{self, StageConfig};
use crate::storage::journal::undo_tip;
use crate::storage::store::Store;
use crate::testing::*;

fn num(store: &Store, s: &ScriptBuf) -> ScriptNum {
    store.script_num(s.as_bytes()).unwrap().expect("the script was paid")
}

fn cluster(store: &Store, s: &ScriptBuf) -> read::Cluster {
    read::cluster_of(store, num(store, s)).unwrap()
}

fn cluster_rows(store: &Store) -> Vec<crate::storage::store::Row> {
    stages_tables().iter().flat_map(|t| store.rows(t).unwrap()).collect()
}

fn stages_tables() -> [&'static str; 7] {
    [
        ClusterParents::NAME,
        ClusterChildren::NAME,
        Clusters::NAME,
        ClusterSizes::NAME,
        ClusterLinks::NAME,
        P2pkKeys::NAME,
        ClusterStates::NAME,
    ]
}

/// A coinbase paying each of `scripts` 50,000 sat, in a block on top of `prev`.
fn funding(prev: &Block, nonce: u32, scripts: &[ScriptBuf]) -> Block {
    let outs = scripts.iter().map(|s| (s.clone(), 50_000)).collect();
    block(prev.block_hash(), nonce, vec![tx(vec![], outs, Some(nonce as u8))])
}

fn spend_all(from: &Transaction, vouts: &[u32], outs: Vec<(ScriptBuf, u64)>) -> Transaction {
    tx(vouts.iter().map(|v| OutPoint::new(from.compute_txid(), *v)).collect(), outs, None)
}

fn genesis() -> Block {
    bitcoin::constants::genesis_block(bitcoin::Network::Regtest)
}

#[test]
fn scripts_spent_together_share_a_cluster_and_the_merge_is_explained() {
    let g = genesis();
    let s: Vec<ScriptBuf> = (1..=4).map(script).collect();
    let b1 = funding(&g, 1, &s);
    let cb = &b1.txdata[0];
    let consolidate = spend_all(cb, &[0, 1, 2], vec![(script(9), 140_000)]);
    let b2 = block(b1.block_hash(), 2, vec![tx(vec![], vec![(script(8), 1)], Some(2)), consolidate.clone()]);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_writable(dir.path(), 1 << 20).unwrap();
    apply_all(&store, &[g, b1, b2]);

    let c = cluster(&store, &s[1]);
    assert_eq!((c.size, c.first), (3, num(&store, &s[0])));
    assert_eq!(cluster(&store, &s[2]).root, c.root);
    assert_eq!(cluster(&store, &s[3]).size, 1, "not spent with the others");
    assert_eq!(cluster(&store, &script(9)).size, 1, "change heuristics are off by default");
    let members = read::members(&store, c.root).unwrap();
    assert_eq!(members, vec![num(&store, &s[0]), num(&store, &s[1]), num(&store, &s[2])]);
    assert_eq!(read::largest(&store, 5).unwrap(), vec![c]);

    let txnum = store.txnums(&consolidate.compute_txid().to_byte_array()).unwrap()[0];
    let (a, b) = (num(&store, &s[1]), num(&store, &s[2]));
    let path = read::why(&store, a, b).unwrap().expect("same cluster");
    let joined = |from, to| Link { from, to, txnum, reason: LinkReason::SpentTogether };
    assert_eq!(path, vec![joined(a, num(&store, &s[0])), joined(num(&store, &s[0]), b)]);
    assert_eq!(read::why(&store, a, num(&store, &s[3])).unwrap(), None);
}

#[test]
fn a_coinjoins_inputs_are_never_merged() {
    let g = genesis();
    let s: Vec<ScriptBuf> = (1..=5).map(script).collect();
    let b1 = funding(&g, 1, &s);
    // JoinMarket's shape: three equal outputs and two makers' change.
    let mut outs: Vec<(ScriptBuf, u64)> = (11..=13).map(|t| (script(t), 40_000)).collect();
    outs.extend([(script(14), 9_000), (script(15), 8_000)]);
    let mix = spend_all(&b1.txdata[0], &[0, 1, 2, 3, 4], outs);
    let b2 = block(b1.block_hash(), 2, vec![tx(vec![], vec![(script(8), 1)], Some(2)), mix]);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_writable(dir.path(), 1 << 20).unwrap();
    apply_all(&store, &[g, b1, b2]);
    for s in &s {
        assert_eq!(cluster(&store, s).size, 1);
    }
    assert!(read::largest(&store, 5).unwrap().is_empty());
}

fn p2pk(tag: u8) -> ScriptBuf {
    let key = bitcoin::PublicKey::from_slice(&[[0x02].as_slice(), &[tag; 32]].concat()).expect("a point");
    ScriptBuf::new_p2pk(&key)
}

#[test]
fn a_keys_scripts_share_a_cluster_whichever_came_first() {
    let g = genesis();
    let key = |tag| bitcoin::PublicKey::from_slice(&[[0x02].as_slice(), &[tag; 32]].concat()).expect("a point");
    let (k1, k2) = (key(1), key(2));
    let b1 = funding(&g, 1, &[p2pk(1), ScriptBuf::new_p2wpkh(&k2.wpubkey_hash().unwrap())]);
    let b2 = funding(&b1, 2, &[ScriptBuf::new_p2pkh(&k1.pubkey_hash()), p2pk(2)]);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_writable(dir.path(), 1 << 20).unwrap();
    apply_all(&store, &[g, b1, b2]);
    for (first, later) in [
        (p2pk(1), ScriptBuf::new_p2pkh(&k1.pubkey_hash())),
        (ScriptBuf::new_p2wpkh(&k2.wpubkey_hash().unwrap()), p2pk(2)),
    ] {
        let c = cluster(&store, &later);
        assert_eq!((c.size, c.first), (2, num(&store, &first)));
        let path = read::why(&store, num(&store, &first), num(&store, &later)).unwrap().unwrap();
        assert_eq!(path.len(), 1);
        assert_eq!(path[0].reason, LinkReason::SameKey);
        let siblings = read::key_siblings(&store, later.as_bytes()).unwrap();
        assert_eq!(siblings, vec![num(&store, &first)]);
    }
}

#[test]
fn the_id_is_the_earliest_script_and_survives_a_merge_into_a_bigger_cluster() {
    let g = genesis();
    let s: Vec<ScriptBuf> = (1..=5).map(script).collect();
    let paid = [s.as_slice(), &[s[2].clone()]].concat();
    let b1 = funding(&g, 1, &paid);
    let cb = b1.txdata[0].clone();
    // {s3, s4, s5} first (bigger), then s1 + s3: the bigger root stays, the id becomes s1.
    let big = spend_all(&cb, &[2, 3, 4], vec![(script(20), 140_000)]);
    let b2 = block(b1.block_hash(), 2, vec![tx(vec![], vec![(script(8), 1)], Some(2)), big.clone()]);
    let both = spend_all(&cb, &[0, 5], vec![(script(21), 1)]);
    let b3 = block(b2.block_hash(), 3, vec![tx(vec![], vec![(script(8), 1)], Some(3)), both]);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_writable(dir.path(), 1 << 20).unwrap();
    apply_all(&store, &[g, b1, b2.clone()]);
    let before = cluster(&store, &s[3]);
    assert_eq!(before.first, num(&store, &s[2]));
    apply_all(&store, &[b3]);
    let after = cluster(&store, &s[3]);
    assert_eq!((after.size, after.first, after.root), (4, num(&store, &s[0]), before.root));
    assert_eq!(read::members(&store, after.root).unwrap().len(), 4);
    assert_eq!(read::largest(&store, 9).unwrap(), vec![after], "the smaller clusters' size rows are gone");
    // s1 joined s20 directly; s4 reaches s1 through the merges in both transactions.
    let path = read::why(&store, num(&store, &s[3]), num(&store, &s[0])).unwrap().unwrap();
    assert!(path.len() >= 2 && path.iter().all(|l| l.reason == LinkReason::SpentTogether), "{path:?}");

    // A reorg taking block 3 out splits the cluster again and forgets the merge.
    assert_eq!(undo_tip(&store, 3).unwrap(), Some(2));
    assert_eq!(cluster(&store, &s[3]), before);
    assert_eq!(cluster(&store, &s[0]).size, 1);
    assert_eq!(read::why(&store, num(&store, &s[3]), num(&store, &s[0])).unwrap(), None);
    let fresh = tempfile::tempdir().unwrap();
    let short = Store::open_writable(fresh.path(), 1 << 20).unwrap();
    apply_all(&short, &[genesis(), funding(&genesis(), 1, &paid), b2]);
    assert_eq!(cluster_rows(&store), cluster_rows(&short));
}

#[test]
fn change_merges_only_when_asked_and_a_stage_caught_up_from_rows_equals_one_built_live() {
    let g = genesis();
    let s: Vec<ScriptBuf> = (1..=2).map(script).collect();
    let b1 = funding(&g, 1, &s);
    // A round payment to a script seen before, and change to a fresh one.
    let pay = spend_all(&b1.txdata[0], &[0], vec![(s[1].clone(), 30_000), (script(30), 19_123)]);
    let b2 = block(b1.block_hash(), 2, vec![tx(vec![], vec![(script(8), 1)], Some(2)), pay]);
    let blocks = [g, b1, b2];
    let with_change = StageConfig { clusters: Some(ClusterRules { change: true }) };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_writable(dir.path(), 1 << 20).unwrap();
    apply_with(&store, &blocks, with_change);
    let c = cluster(&store, &script(30));
    assert_eq!((c.size, c.first), (2, num(&store, &s[0])));
    let link = read::why(&store, num(&store, &s[0]), num(&store, &script(30))).unwrap().unwrap();
    assert_eq!(link[0].reason, LinkReason::Change);
    assert!(read::state(&store).unwrap().unwrap().change);

    // Built without clusters, then caught up from the stored rows: the same rows.
    let other = tempfile::tempdir().unwrap();
    let mut later = Store::open_writable(other.path(), 1 << 20).unwrap();
    apply_with(&later, &blocks, StageConfig { clusters: None });
    assert_eq!(later.checkpoint(StageId::Clusters).unwrap(), None);
    with_change.catch_up(&later, 1, &AtomicBool::new(false)).unwrap();
    assert_eq!(cluster_rows(&later), cluster_rows(&store));
    assert_eq!(later.checkpoint(StageId::Clusters).unwrap().map(|c| c.height), Some(2));
    // And rebuilt from scratch without change heuristics: the change output stands alone.
    stages::reset(&mut later, StageId::Clusters).unwrap();
    StageConfig::default().catch_up(&later, 1, &AtomicBool::new(false)).unwrap();
    assert_eq!(cluster(&later, &script(30)).size, 1);
    assert!(!read::state(&later).unwrap().unwrap().change);
}

#[test]
fn the_in_memory_forest_gives_the_rows_the_store_alone_gives_whatever_its_budget() {
    let g = genesis();
    let s: Vec<ScriptBuf> = (1..=6).map(script).collect();
    let b1 = funding(&g, 1, &s);
    let cb = &b1.txdata[0];
    // Merges within a block, then across blocks into clusters the forest met earlier or never.
    let b2 = block(
        b1.block_hash(),
        2,
        vec![funding(&b1, 2, &[script(7)]).txdata[0].clone(), spend_all(cb, &[0, 1], vec![(script(10), 90_000)])],
    );
    let b3 = block(
        b2.block_hash(),
        3,
        vec![
            funding(&b2, 3, &[script(8)]).txdata[0].clone(),
            spend_all(cb, &[2, 3], vec![(s[2].clone(), 90_000)]),
            spend_all(&b2.txdata[1], &[0], vec![(s[0].clone(), 80_000)]),
        ],
    );
    let joined = tx(
        vec![
            OutPoint::new(b3.txdata[2].compute_txid(), 0),
            OutPoint::new(b3.txdata[1].compute_txid(), 0),
            OutPoint::new(b2.txdata[0].compute_txid(), 0),
            OutPoint::new(cb.compute_txid(), 4),
        ],
        vec![(script(13), 100_000)],
        None,
    );
    let b4 = block(b3.block_hash(), 4, vec![funding(&b3, 4, &[script(9)]).txdata[0].clone(), joined]);
    let blocks = [g, b1, b2, b3, b4];

    let whole = tempfile::tempdir().unwrap();
    let whole = Store::open_writable(whole.path(), 1 << 20).unwrap();
    apply_all(&whole, &blocks);
    assert_eq!(cluster(&whole, &s[0]).size, 6, "s1 to s5 and script 7 end in one cluster");

    // One writer per block (as when following the tip): every merge reads older scripts back.
    let per_block = tempfile::tempdir().unwrap();
    let per_block = Store::open_writable(per_block.path(), 1 << 20).unwrap();
    for b in &blocks {
        apply_all(&per_block, std::slice::from_ref(b));
    }
    assert_eq!(cluster_rows(&per_block), cluster_rows(&whole));

    // A forest that starts over at every block.
    let tiny = tempfile::tempdir().unwrap();
    let tiny = Store::open_writable(tiny.path(), 1 << 20).unwrap();
    apply_with(&tiny, &blocks, StageConfig { clusters: None });
    let mut stage = ClustersStage { rules: ClusterRules::default(), forest: Forest::new(1) };
    stage.catch_up(&tiny, 1 << 20, &AtomicBool::new(false)).unwrap();
    assert_eq!(cluster_rows(&tiny), cluster_rows(&whole));
}
