//! The clusters stage: who controls which scripts. Scripts spent together in one transaction
//! share an owner (the multi-input heuristic), unless the transaction is a CoinJoin; a key's
//! P2PK, P2PKH and P2WPKH scripts share one from the start; with `change` on, so does a
//! transaction's change output with its inputs.
//!
//! Clusters are a union-find forest kept in the store: `cluster_parents` points a script at its
//! parent, roots hold the cluster's size and earliest script in `clusters`, and union by size
//! keeps every path within log2(size) steps. Every merge also records the pair of scripts and the
//! transaction that joined them (`cluster_links`), so any two members can be shown to be
//! connected. All writes go through the journal: a reorg undoes them exactly. While a writer runs,
//! the stage keeps the part of the forest it has touched in memory ([`Forest`]), so a merge reads
//! the store only for scripts it has not met yet.

pub mod keys;
pub mod read;

use crate::heuristics::{change, coinjoin, Coin, OutCoin, ScriptType, TxShape};
use crate::stages::graph::{BlockRows, TxRows};
use crate::stages::{Stage, StageTables};
use crate::storage::journal::{Journal, Known};
use crate::storage::schema::*;
use crate::storage::store::StoreError;

use keys::KeyScript;
use rustc_hash::FxHashMap as HashMap;

/// How clusters are built; stored with them, so a database is never a mix of two settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClusterRules {
    /// Also merge each transaction's change output (as [`change::detect`] picks it) with its
    /// inputs. Off by default: change heuristics are what collapse clusters into giants.
    pub change: bool,
}

/// A change pick must be at least this confident to merge: two agreeing heuristics, one of them
/// fresh address, or three (docs/heuristics.md gives the measurements behind it).
pub const CHANGE_MIN_CONFIDENCE: f64 = 0.85;

impl ClusterRules {
    fn fresh_state(self) -> ClusterState {
        ClusterState { version: ClusterState::HEURISTICS_VERSION, change: self.change, next_script: 0 }
    }

    /// Whether clusters built with `state` were built with these parameters.
    pub fn built(self, state: &ClusterState) -> bool {
        state.version == ClusterState::HEURISTICS_VERSION && state.change == self.change
    }
}

pub const TABLES: StageTables = StageTables {
    writes: &[
        ClusterParents::ID,
        ClusterChildren::ID,
        Clusters::ID,
        ClusterSizes::ID,
        ClusterLinks::ID,
        P2pkKeys::ID,
        ClusterStates::ID,
    ],
    reads: &[ClusterParents::ID, Clusters::ID, P2pkKeys::ID, ClusterStates::ID, Scripts::ID],
};

/// The clusters stage, built with one set of rules.
pub struct ClustersStage {
    rules: ClusterRules,
    forest: Forest,
}

impl ClustersStage {
    pub fn new(rules: ClusterRules) -> Self {
        ClustersStage { rules, forest: Forest::new(FOREST_ENTRIES) }
    }
}

/// How many scripts' parents and roots' rows the in-memory forest holds before it starts over
/// (20 to 40 bytes each with the maps' spare room, so under 64 MiB).
const FOREST_ENTRIES: usize = 1 << 20;

/// A script the forest knows to have no parent (a root, or in no cluster).
const NO_PARENT: ScriptNum = ScriptNum::MAX;

/// The union-find rows this stage has read or written since it was built, in front of the
/// journal. Scripts the stage had not yet seen when the forest (re)started have no rows in the
/// store: for them the forest alone is exact and a miss needs
/// no read. Older scripts are read through the journal once, then kept. When it outgrows its
/// budget the forest starts over, treating every script seen so far as older. Built with each
/// writer (and so after every reorg), and only ever written through [`Forest::set_parent`] and
/// [`Forest::set_row`] beside the journal, it never disagrees with the store.
struct Forest {
    /// Scripts from this number on are new to the stage since the forest (re)started; `None`
    /// before the first block.
    new_from: Option<ScriptNum>,
    /// A script's parent, or [`NO_PARENT`].
    parents: HashMap<ScriptNum, ScriptNum>,
    rows: HashMap<ScriptNum, Option<ClusterRow>>,
    budget: usize,
}

impl Forest {
    fn new(budget: usize) -> Self {
        Forest { new_from: None, parents: HashMap::default(), rows: HashMap::default(), budget }
    }

    /// Called before each block with the first script number the stage has not seen.
    fn begin_block(&mut self, next_script: ScriptNum) {
        if self.new_from.is_none() || self.parents.len() + self.rows.len() > self.budget {
            // New maps rather than cleared ones: their memory goes back.
            self.parents = HashMap::default();
            self.rows = HashMap::default();
            self.new_from = Some(next_script);
        }
    }

    fn is_new(&self, script: ScriptNum) -> bool {
        self.new_from.is_some_and(|n| script >= n)
    }

    fn parent(&mut self, j: &Journal<'_>, script: ScriptNum) -> Result<Option<ScriptNum>, StoreError> {
        if let Some(&p) = self.parents.get(&script) {
            return Ok((p != NO_PARENT).then_some(p));
        }
        if self.is_new(script) {
            return Ok(None);
        }
        let p = j.get::<ClusterParents>(&script)?;
        self.parents.insert(script, p.unwrap_or(NO_PARENT));
        Ok(p)
    }

    fn row(&mut self, j: &Journal<'_>, root: ScriptNum) -> Result<Option<ClusterRow>, StoreError> {
        if let Some(r) = self.rows.get(&root) {
            return Ok(*r);
        }
        if self.is_new(root) {
            return Ok(None);
        }
        let r = j.get::<Clusters>(&root)?;
        self.rows.insert(root, r);
        Ok(r)
    }

    fn set_parent(&mut self, j: &mut Journal<'_>, child: ScriptNum, root: ScriptNum) -> Result<(), StoreError> {
        self.parents.insert(child, root);
        j.set::<ClusterParents>(&child, Some(&root), Known::Was(None))
    }

    fn set_row(
        &mut self,
        j: &mut Journal<'_>,
        root: ScriptNum,
        row: Option<ClusterRow>,
        old: Option<ClusterRow>,
    ) -> Result<(), StoreError> {
        self.rows.insert(root, row);
        j.set::<Clusters>(&root, row.as_ref(), Known::Was(old.map(|r| r.encode())))
    }

    /// A script's cluster root and the root's row (a cluster of one when it is in none).
    fn find(&mut self, j: &Journal<'_>, mut script: ScriptNum) -> Result<(ScriptNum, Option<ClusterRow>), StoreError> {
        while let Some(parent) = self.parent(j, script)? {
            script = parent;
        }
        Ok((script, self.row(j, script)?))
    }
}

impl Stage for ClustersStage {
    fn id(&self) -> StageId {
        StageId::Clusters
    }

    fn apply(&mut self, j: &mut Journal<'_>, rows: &BlockRows) -> Result<(), StoreError> {
        let stored = j.get::<ClusterStates>(&StageId::Clusters)?;
        let mut state = stored.unwrap_or_else(|| self.rules.fresh_state());
        self.forest.begin_block(state.next_script);
        for tx in &rows.txs {
            let seen = state.next_script;
            for out in &tx.outputs {
                if let OutScript::Num(script) = out.script {
                    if script >= state.next_script {
                        state.next_script = script + 1;
                        join_key_siblings(j, &mut self.forest, script, tx.num)?;
                    }
                }
            }
            if !tx.inputs.is_empty() {
                merge_tx(j, &mut self.forest, tx, seen, self.rules)?;
            }
        }
        j.set::<ClusterStates>(&StageId::Clusters, Some(&state), Known::Was(stored.map(|s| s.encode())))
    }
}

/// Merges a transaction's input scripts (and its change, when asked), unless it is a CoinJoin.
/// `seen` is the first script number this transaction may have introduced.
fn merge_tx(
    j: &mut Journal<'_>,
    forest: &mut Forest,
    tx: &TxRows,
    seen: ScriptNum,
    params: ClusterRules,
) -> Result<(), StoreError> {
    let mut scripts: Vec<ScriptNum> = tx.inputs.iter().map(|i| i.script).collect();
    scripts.sort_unstable();
    scripts.dedup();
    if scripts.len() < 2 && !params.change {
        // One script spent: nothing to merge, and a CoinJoin needs several.
        return Ok(());
    }
    let shape = shape(j, tx, seen, params.change)?;
    if coinjoin::detect(&shape).is_some() {
        return Ok(());
    }
    let first = tx.inputs[0].script;
    for &other in scripts.iter().filter(|s| **s != first) {
        union(j, forest, first, other, LinkRow { txnum: tx.num, reason: LinkReason::SpentTogether })?;
    }
    if params.change {
        if let Some(pick) = change::detect(&shape).filter(|c| c.confidence >= CHANGE_MIN_CONFIDENCE) {
            if let Some(script) = shape.outputs[pick.vout as usize].coin.script {
                union(j, forest, first, script, LinkRow { txnum: tx.num, reason: LinkReason::Change })?;
            }
        }
    }
    Ok(())
}

/// What the heuristics see of `tx`. Script kinds are looked up only for the change heuristics.
fn shape(j: &Journal<'_>, tx: &TxRows, seen: ScriptNum, kinds: bool) -> Result<TxShape, StoreError> {
    let kind = |script: ScriptNum| -> Result<ScriptType, StoreError> {
        Ok(match kinds {
            true => j.get::<Scripts>(&script)?.map(|s| ScriptType::of(&s.0)).unwrap_or(ScriptType::Other),
            false => ScriptType::Other,
        })
    };
    let mut inputs = Vec::with_capacity(tx.inputs.len());
    for input in &tx.inputs {
        inputs.push(Coin { value: input.value, script: Some(input.script), kind: kind(input.script)? });
    }
    let mut outputs = Vec::with_capacity(tx.outputs.len());
    for out in &tx.outputs {
        outputs.push(match &out.script {
            OutScript::Num(script) => OutCoin {
                coin: Coin { value: out.value, script: Some(*script), kind: kind(*script)? },
                fresh: *script >= seen,
            },
            OutScript::Unspendable(_) => {
                OutCoin { coin: Coin { value: out.value, script: None, kind: ScriptType::OpReturn }, fresh: false }
            }
        });
    }
    Ok(TxShape { inputs, outputs })
}

/// A script seen for the first time joins the earlier scripts of the same key.
fn join_key_siblings(
    j: &mut Journal<'_>,
    forest: &mut Forest,
    script: ScriptNum,
    txnum: TxNum,
) -> Result<(), StoreError> {
    let Some(bytes) = j.get::<Scripts>(&script)? else { return Ok(()) };
    let Some(key) = KeyScript::of(&bytes.0) else { return Ok(()) };
    let link = LinkRow { txnum, reason: LinkReason::SameKey };
    for sibling in key.hashed_siblings() {
        if let Some(earlier) = script_before(j, &sibling, script)? {
            union(j, forest, earlier, script, link)?;
        }
    }
    match key {
        KeyScript::P2pk { hash, .. } => j.set::<P2pkKeys>(&hash, Some(&script), Known::Was(None))?,
        KeyScript::Hashed { hash, .. } => {
            if let Some(p2pk) = j.get::<P2pkKeys>(&hash)?.filter(|p| *p < script) {
                union(j, forest, p2pk, script, link)?;
            }
        }
    }
    Ok(())
}

/// The number of `bytes` if that script was numbered before `before`. (When a stage catches up,
/// the store already holds later scripts: they are found when their own turn comes.)
fn script_before(j: &Journal<'_>, bytes: &[u8], before: ScriptNum) -> Result<Option<ScriptNum>, StoreError> {
    for num in j.prefixed::<ScriptIds>(&PrefixKey::of_script(bytes))? {
        if num < before && j.get::<Scripts>(&num)?.is_some_and(|s| s.0 == bytes) {
            return Ok(Some(num));
        }
    }
    Ok(None)
}

/// Puts `a` and `b` in one cluster; `link` says which transaction joined them and why. The
/// bigger cluster's root stays root (on a tie, the lower number), the earliest script of the two
/// stays the id.
fn union(
    j: &mut Journal<'_>,
    forest: &mut Forest,
    a: ScriptNum,
    b: ScriptNum,
    link: LinkRow,
) -> Result<(), StoreError> {
    let (root_a, row_a) = forest.find(j, a)?;
    let (root_b, row_b) = forest.find(j, b)?;
    if root_a == root_b {
        return Ok(());
    }
    let (ca, cb) = (row_a.unwrap_or(ClusterRow::single(root_a)), row_b.unwrap_or(ClusterRow::single(root_b)));
    let a_wins = (ca.size, std::cmp::Reverse(root_a)) > (cb.size, std::cmp::Reverse(root_b));
    let ((root, row), (child, child_row)) =
        if a_wins { ((root_a, row_a), (root_b, row_b)) } else { ((root_b, row_b), (root_a, row_a)) };
    let merged = ClusterRow { size: ca.size + cb.size, first: ca.first.min(cb.first) };
    forest.set_parent(j, child, root)?;
    j.insert::<ClusterChildren>(&ScriptPair(root, child), &Empty)?;
    forest.set_row(j, root, Some(merged), row)?;
    for (r, old) in [(root, row), (child, child_row)] {
        if let Some(old) = old {
            j.set::<ClusterSizes>(&SizeKey { size: old.size, root: r }, None, Known::Was(Some(Vec::new())))?;
        }
    }
    if child_row.is_some() {
        forest.set_row(j, child, None, child_row)?;
    }
    j.insert::<ClusterSizes>(&SizeKey { size: merged.size, root }, &Empty)?;
    j.insert::<ClusterLinks>(&ScriptPair(a, b), &link)?;
    j.insert::<ClusterLinks>(&ScriptPair(b, a), &link)?;
    Ok(())
}

#[cfg(test)]
mod tests;
