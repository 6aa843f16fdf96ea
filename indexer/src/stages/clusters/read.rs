//! Reading clusters back from the store: a script's cluster, its members, the largest clusters,
//! the chain of merges that joined two scripts, and a key's sibling scripts.

use std::collections::{HashMap, VecDeque};

use crate::storage::schema::*;
use crate::storage::store::{Store, StoreError};

use super::keys::KeyScript;

/// A cluster as a reader sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cluster {
    /// Its root in the forest: internal, changes when it merges into a bigger one.
    pub root: ScriptNum,
    pub size: u64,
    /// Its earliest script: the stable id.
    pub first: ScriptNum,
}

/// One merge on the way from one script to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    pub from: ScriptNum,
    pub to: ScriptNum,
    pub txnum: TxNum,
    pub reason: LinkReason,
}

/// The stage's state: `None` when clusters were never built.
pub fn state(store: &Store) -> Result<Option<ClusterState>, StoreError> {
    store.kv().get::<ClusterStates>(&StageId::Clusters)
}

/// The cluster `script` belongs to (a cluster of one when it was never merged).
pub fn cluster_of(store: &Store, script: ScriptNum) -> Result<Cluster, StoreError> {
    store.note(|r| {
        r.clusters.insert(script);
    });
    let mut root = script;
    while let Some(parent) = store.kv().get::<ClusterParents>(&root)? {
        root = parent;
    }
    let row = store.kv().get::<Clusters>(&root)?.unwrap_or(ClusterRow::single(root));
    Ok(Cluster { root, size: row.size, first: row.first })
}

/// Every script of the cluster rooted at `root`, in ascending order.
pub fn members(store: &Store, root: ScriptNum) -> Result<Vec<ScriptNum>, StoreError> {
    store.note(|r| {
        r.members.insert(root);
    });
    let mut all = vec![root];
    let mut next = 0;
    while let Some(&parent) = all.get(next) {
        next += 1;
        for row in store.kv().scan::<ClusterChildren>(&ScriptPair(parent, 0), move |k| k.0 == parent) {
            all.push(row?.0 .1);
        }
    }
    all.sort_unstable();
    Ok(all)
}

/// The `n` largest clusters, largest first (ties: lower root first).
pub fn largest(store: &Store, n: usize) -> Result<Vec<Cluster>, StoreError> {
    let mut out = Vec::with_capacity(n);
    for row in store.kv().scan::<ClusterSizes>(&SizeKey { size: u64::MAX, root: 0 }, |_| true).take(n) {
        let (key, _) = row?;
        let first = store.kv().get::<Clusters>(&key.root)?.map(|r| r.first).unwrap_or(key.root);
        out.push(Cluster { root: key.root, size: key.size, first });
    }
    Ok(out)
}

/// The merges joining `a` to `b`, in order from `a`: each link is two scripts a transaction
/// joined. `None` when they are in different clusters. Merges form a tree over each cluster, so
/// the chain is the one path between them.
pub fn why(store: &Store, a: ScriptNum, b: ScriptNum) -> Result<Option<Vec<Link>>, StoreError> {
    if a == b {
        return Ok(Some(Vec::new()));
    }
    if cluster_of(store, a)?.root != cluster_of(store, b)?.root {
        return Ok(None);
    }
    let mut came_from: HashMap<ScriptNum, Link> = HashMap::new();
    let mut queue = VecDeque::from([a]);
    while let Some(at) = queue.pop_front() {
        for row in store.kv().scan::<ClusterLinks>(&ScriptPair(at, 0), move |k| k.0 == at) {
            let (ScriptPair(from, to), link) = row?;
            if to == a || came_from.contains_key(&to) {
                continue;
            }
            came_from.insert(to, Link { from, to, txnum: link.txnum, reason: link.reason });
            if to == b {
                let mut path = Vec::new();
                let mut at = b;
                while at != a {
                    let link = came_from[&at];
                    path.push(link);
                    at = link.from;
                }
                path.reverse();
                return Ok(Some(path));
            }
            queue.push_back(to);
        }
    }
    Err(StoreError::Decode(DecodeError {
        what: "cluster_links",
        why: format!("scripts {a} and {b} share a cluster but no chain of links joins them"),
    }))
}

/// The other indexed scripts of the key behind `script` (P2PK, P2PKH, P2WPKH), in ascending
/// order; empty for scripts of no single key.
pub fn key_siblings(store: &Store, script: &[u8]) -> Result<Vec<ScriptNum>, StoreError> {
    let Some(key) = KeyScript::of(script) else { return Ok(Vec::new()) };
    let mut found = Vec::new();
    for sibling in key.hashed_siblings() {
        found.extend(store.script_num(&sibling)?);
    }
    if let KeyScript::Hashed { hash, .. } = key {
        found.extend(store.kv().get::<P2pkKeys>(&hash)?);
    }
    found.sort_unstable();
    Ok(found)
}
