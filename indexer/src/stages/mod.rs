//! The stages: the transaction graph, fed by the node ([`graph`]), and the derived stages built
//! from its rows ([`addresses`], [`clusters`]). A derived stage is one type implementing
//! [`Stage`]; the list of stages, their checkpoints and the tables the journal keeps readable
//! come from [`DERIVED`] and the implementations, nowhere else.

pub mod addresses;
pub mod clusters;
pub mod graph;

use std::sync::atomic::{AtomicBool, Ordering};

use tracing::info;

use crate::stages::clusters::ClusterRules;
use crate::stages::graph::{BlockRows, GraphError};
use crate::storage::journal::{Journal, Known, ReadBack};
use crate::storage::kv::{RawWrite, WriteMode};
use crate::storage::schema::*;
use crate::storage::store::{Store, StoreError};

/// The tables a stage writes, and the tables it reads while applying a block (its own or an
/// earlier stage's): the journal keeps pending writes to those readable before they commit.
#[derive(Debug)]
pub struct StageTables {
    pub writes: &'static [u8],
    pub reads: &'static [u8],
}

/// A derived index, built block by block from the graph's [`BlockRows`] in the same journaled
/// batch as the graph (so a reorg takes its writes back out with the block's), with its own
/// checkpoint in `stages`. Its tables (written, and read back while applying) are declared beside it and
/// listed with its id in [`DERIVED`].
pub trait Stage {
    fn id(&self) -> StageId;

    /// Writes the stage's rows for one block.
    fn apply(&mut self, j: &mut Journal<'_>, rows: &BlockRows) -> Result<(), StoreError>;

    /// Brings the stage up to the graph's tip from the rows already indexed (no node needed),
    /// committing about every `batch_txs` transactions. Blocks whose undo data is kept get the
    /// stage's writes added to it, so a later reorg takes them back out too. Returns the blocks
    /// applied.
    fn catch_up(&mut self, store: &Store, batch_txs: u64, shutdown: &AtomicBool) -> Result<u64, GraphError> {
        let id = self.id();
        let Some((tip, _)) = store.meta()?.and_then(|m| m.tip) else { return Ok(0) };
        let from = store.checkpoint(id)?.map(|c| c.height + 1).unwrap_or(0);
        if from > tip {
            return Ok(0);
        }
        info!(stage = id.name(), from, to = tip, "stage behind the index: catching up from the indexed rows");
        let mut j = Journal::new(store, READ_BACK);
        let mut before = match from {
            0 => None,
            h => Some(Checkpoint {
                height: h - 1,
                hash: store.header(h - 1)?.ok_or(GraphError::NotIndexed { height: h - 1 })?.hash,
            }),
        };
        let mut applied = 0;
        for height in from..=tip {
            if shutdown.load(Ordering::Relaxed) {
                break;
            }
            let rows = BlockRows::load(store, height)?;
            let undo = store.undo(height)?;
            j.begin_block(undo.is_some(), false);
            self.apply(&mut j, &rows)?;
            let checkpoint = Checkpoint { height, hash: rows.hash };
            j.set::<Stages>(&id, Some(&checkpoint), Known::Was(before.map(|c| c.encode())))?;
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
        info!(stage = id.name(), height = before.map(|c| c.height), "stage caught up");
        Ok(applied)
    }
}

/// Every derived stage in the order they apply, with its tables.
pub const DERIVED: [(StageId, &StageTables); 2] =
    [(StageId::Addresses, &addresses::TABLES), (StageId::Clusters, &clusters::TABLES)];

/// The tables any stage reads back while applying: the graph's and every derived stage's.
pub const READ_BACK: ReadBack = {
    let mut read_back = ReadBack::of(graph::TABLES.reads);
    let mut i = 0;
    while i < DERIVED.len() {
        read_back = read_back.with(DERIVED[i].1.reads);
        i += 1;
    }
    read_back
};

/// The tables of the derived stage `id`.
pub fn tables(id: StageId) -> &'static StageTables {
    DERIVED.iter().find(|(s, _)| *s == id).map(|(_, t)| *t).expect("every stage id is in DERIVED")
}

/// Which derived stages run, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageConfig {
    /// `None`: clusters are not built (their checkpoint stays where it is, and they catch up
    /// from the indexed rows once turned back on).
    pub clusters: Option<ClusterRules>,
}

impl Default for StageConfig {
    fn default() -> Self {
        StageConfig { clusters: Some(ClusterRules::default()) }
    }
}

impl StageConfig {
    /// The stages that run, in the order they apply.
    pub fn build(&self) -> Vec<Box<dyn Stage>> {
        let mut stages: Vec<Box<dyn Stage>> = vec![Box::new(addresses::AddressesStage)];
        if let Some(rules) = self.clusters {
            stages.push(Box::new(clusters::ClustersStage::new(rules)));
        }
        stages
    }

    /// The ids of the stages that run.
    pub fn enabled(&self) -> Vec<StageId> {
        self.build().iter().map(|s| s.id()).collect()
    }

    /// Brings every stage that runs up to the graph's tip (see [`Stage::catch_up`]). Returns
    /// the blocks applied.
    pub fn catch_up(&self, store: &Store, batch_txs: u64, shutdown: &AtomicBool) -> Result<u64, GraphError> {
        let mut applied = 0;
        for mut stage in self.build() {
            applied += stage.catch_up(store, batch_txs, shutdown)?;
        }
        Ok(applied)
    }
}

/// Whether an undo entry belongs to `stage`: a write to one of its tables, or its checkpoint.
fn owns(stage: StageId, entry: &UndoEntry) -> bool {
    tables(stage).writes.contains(&entry.table) || (entry.table == Stages::ID && entry.key == stage.encode())
}

/// Forgets everything `stage` wrote: its checkpoint and its entries in the undo data first (one
/// atomic write, so a stop half-way leaves a stage that simply catches up again), then its
/// tables. [`Stage::catch_up`] then rebuilds it from the indexed rows.
pub fn reset(store: &mut Store, stage: StageId) -> Result<(), StoreError> {
    let mut writes: Vec<RawWrite> = vec![(Stages::ID, stage.encode(), None)];
    let undo: Vec<(u32, BlockUndo)> = store.kv().scan::<Undo>(&0, |_| true).collect::<Result<_, _>>()?;
    for (height, mut record) in undo {
        record.entries.retain(|e| !owns(stage, e));
        writes.push((Undo::ID, height.encode(), Some(record.encode())));
    }
    store.kv().write(&writes, WriteMode::Tip)?;
    for &table in tables(stage).writes {
        store.kv_mut().clear(table)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_id_is_derived_once_in_order_and_every_table_has_one_writer() {
        let ids: Vec<StageId> = DERIVED.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, StageId::ALL);
        let all = StageConfig::default().build();
        assert_eq!(all.iter().map(|s| s.id()).collect::<Vec<_>>(), ids);
        let mut writers = vec![0; TABLES.len()];
        for t in DERIVED.iter().map(|(_, t)| t).chain([&&graph::TABLES]) {
            for &table in t.writes {
                writers[table as usize] += 1;
            }
        }
        for (table, n) in writers.iter().enumerate() {
            assert!(*n <= 1, "table {} has {n} writers", TABLES[table]);
        }
    }

    #[test]
    fn what_a_stage_reads_back_is_what_the_journal_keeps_readable() {
        for t in DERIVED.iter().map(|(_, t)| *t).chain([&graph::TABLES]) {
            for &table in t.reads {
                assert!(READ_BACK.contains(table), "{} is read but not read back", TABLES[table as usize]);
            }
        }
        assert!(!READ_BACK.contains(History::ID));
    }
}
