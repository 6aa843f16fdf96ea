//! Derived stages: applying one to a block's rows, catching one up from the rows already
//! indexed (no node needed), and rebuilding one from scratch. Each keeps its own checkpoint in
//! `stages`; the graph's is the tip in `meta`.

use std::sync::atomic::{AtomicBool, Ordering};

use tracing::info;

use crate::addresses;
use crate::clusters::{self, ClusterParams};
use crate::graph::{BlockRows, GraphError};
use crate::journal::{Journal, Known};
use crate::schema::*;
use crate::store::{RawWrite, Store, StoreError, WriteMode};

/// Which derived stages run, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageConfig {
    /// `None`: clusters are not built (their checkpoint stays where it is, and they catch up
    /// from the indexed rows once turned back on).
    pub clusters: Option<ClusterParams>,
}

impl Default for StageConfig {
    fn default() -> Self {
        StageConfig { clusters: Some(ClusterParams::default()) }
    }
}

impl StageConfig {
    /// The stages that run, in the order they are applied.
    pub fn enabled(&self) -> impl Iterator<Item = StageId> + '_ {
        StageId::ALL.into_iter().filter(|s| *s != StageId::Clusters || self.clusters.is_some())
    }
}

/// Applies one derived stage to a block.
pub fn apply(stage: StageId, j: &mut Journal<'_>, rows: &BlockRows, config: &StageConfig) -> Result<(), StoreError> {
    match stage {
        StageId::Addresses => addresses::apply(j, rows),
        StageId::Clusters => clusters::apply(j, rows, config.clusters.unwrap_or_default()),
    }
}

/// The tables a stage writes.
fn tables(stage: StageId) -> &'static [u8] {
    match stage {
        StageId::Addresses => &[History::ID, Utxos::ID],
        StageId::Clusters => &[
            ClusterParents::ID,
            ClusterChildren::ID,
            Clusters::ID,
            ClusterSizes::ID,
            ClusterLinks::ID,
            P2pkKeys::ID,
            ClusterStates::ID,
        ],
    }
}

/// Whether an undo entry belongs to `stage`: a write to one of its tables, or its checkpoint.
fn owns(stage: StageId, entry: &UndoEntry) -> bool {
    tables(stage).contains(&entry.table) || (entry.table == Stages::ID && entry.key == stage.encode())
}

/// Brings every derived stage up to the graph's tip from the rows already indexed, committing
/// about every `batch_txs` transactions. Blocks whose undo data is kept get the stage's writes
/// added to it, so a later reorg takes them back out too. Returns the blocks applied.
pub fn catch_up(store: &Store, config: &StageConfig, batch_txs: u64, shutdown: &AtomicBool) -> Result<u64, GraphError> {
    let Some((tip, _)) = store.meta()?.and_then(|m| m.tip) else { return Ok(0) };
    let mut applied = 0;
    for stage in config.enabled() {
        let from = store.checkpoint(stage)?.map(|c| c.height + 1).unwrap_or(0);
        if from > tip {
            continue;
        }
        info!(stage = stage.name(), from, to = tip, "stage behind the index: catching up from the indexed rows");
        let mut j = Journal::new(store);
        let mut before = match from {
            0 => None,
            h => Some(Checkpoint {
                height: h - 1,
                hash: store.header(h - 1)?.ok_or(GraphError::NotIndexed { height: h - 1 })?.hash,
            }),
        };
        for height in from..=tip {
            if shutdown.load(Ordering::Relaxed) {
                break;
            }
            let rows = BlockRows::load(store, height)?;
            let undo = store.undo(height)?;
            j.begin_block(undo.is_some(), false);
            apply(stage, &mut j, &rows, config)?;
            let checkpoint = Checkpoint { height, hash: rows.hash };
            j.set::<Stages>(&stage, Some(&checkpoint), Known::Was(before.map(|c| c.encode())))?;
            before = Some(checkpoint);
            if let Some(mut undo) = undo {
                undo.entries.extend(j.end_block().unwrap_or_default());
                j.put_unjournaled::<Undo>(&height, Some(&undo));
            }
            j.summary.txs += rows.txs.len() as u64;
            applied += 1;
            if j.summary.txs >= batch_txs {
                j.commit(WriteMode::Tip)?;
            }
        }
        j.commit(WriteMode::Tip)?;
        info!(stage = stage.name(), height = before.map(|c| c.height), "stage caught up");
    }
    Ok(applied)
}

/// Forgets everything `stage` wrote: its checkpoint and its entries in the undo data first (one
/// atomic write, so a stop half-way leaves a stage that simply catches up again), then its
/// tables. [`catch_up`] then rebuilds it from the indexed rows.
pub fn reset(store: &mut Store, stage: StageId) -> Result<(), StoreError> {
    let mut writes: Vec<RawWrite> = vec![(Stages::ID, stage.encode(), None)];
    let undo: Vec<(u32, BlockUndo)> = store.scan::<Undo>(&0, |_| true).collect::<Result<_, _>>()?;
    for (height, mut record) in undo {
        record.entries.retain(|e| !owns(stage, e));
        writes.push((Undo::ID, height.encode(), Some(record.encode())));
    }
    store.write(&writes, WriteMode::Tip)?;
    for &table in tables(stage) {
        store.clear(table)?;
    }
    Ok(())
}
