//! Applies blocks from the node through every stage: the transaction graph first, then each
//! derived stage from the graph's rows, all in the same journaled batch with the new tip.

use bitcoin::hashes::Hash;
use bitcoin::{Block, TxOut};

use crate::stages::graph::{GraphError, GraphWriter};
use crate::stages::{self, Stage, StageConfig};
use crate::storage::journal::{Batch, BatchSummary, Journal, Known};
use crate::storage::kv::WriteMode;
use crate::storage::schema::*;
use crate::storage::store::{hex_hash, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error("block {height} ({hash}) does not extend the indexed tip {tip}")]
    NotOnTip { height: u32, hash: String, tip: String },
}

/// Blocks applied but not yet committed.
pub struct Writer<'s> {
    journal: Journal<'s>,
    meta: Meta,
    /// How far the segmented tables are sealed, pending writes included.
    sealed: Sealed,
    graph: GraphWriter,
    stages: Vec<Box<dyn Stage>>,
}

impl<'s> Writer<'s> {
    /// A writer on top of `meta`, the store's committed state. Every derived stage must be at
    /// its tip (see [`Stage::catch_up`]).
    pub fn new(store: &'s Store, meta: Meta, stages: StageConfig) -> Result<Self, StoreError> {
        let sealed = store.sealed()?;
        let journal = Journal::new(store, stages::READ_BACK);
        Ok(Writer { journal, meta, sealed, graph: GraphWriter::default(), stages: stages.build() })
    }

    /// The state after the blocks applied so far.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    pub fn is_empty(&self) -> bool {
        self.journal.is_empty()
    }

    pub fn txs(&self) -> u64 {
        self.journal.summary.txs
    }

    /// Adds one block on top of the pending tip. `spent`, when the feed gives it, holds the
    /// outputs each transaction spends as the node sees them. Undo data is kept when
    /// `keep_undo` is set, and undo rows more than `undo_depth` blocks below it are dropped.
    pub fn apply(
        &mut self,
        block: &Block,
        spent: Option<&[Vec<TxOut>]>,
        height: u32,
        keep_undo: bool,
        undo_depth: u32,
    ) -> Result<(), ApplyError> {
        let hash = block.block_hash().to_byte_array();
        let expected_prev = self.meta.tip.map(|(_, h)| h).unwrap_or([0; 32]);
        if block.header.prev_blockhash.to_byte_array() != expected_prev || height != self.meta.next_height() {
            return Err(ApplyError::NotOnTip {
                height,
                hash: hex_hash(&hash),
                tip: self.meta.tip.map(|(h, b)| format!("{h} ({})", hex_hash(&b))).unwrap_or_else(|| "(empty)".into()),
            });
        }
        // Blocks now deeper than the undo window move to the segment files first.
        if let Some(stale) = height.checked_sub(undo_depth) {
            self.seal_through(stale, height)?;
        }
        let seal = !keep_undo && self.sealed.blocks == height;
        let meta_before = self.meta.clone();
        self.journal.begin_block(keep_undo, seal);
        let rows = self.graph.apply(&mut self.journal, &mut self.meta, block, spent, height)?;
        // Derived stages are at the graph's tip: each one's checkpoint was the previous block.
        let before = meta_before.tip.map(|(height, hash)| Checkpoint { height, hash }.encode());
        for stage in &mut self.stages {
            stage.apply(&mut self.journal, &rows)?;
            self.journal.set::<Stages>(&stage.id(), Some(&Checkpoint { height, hash }), Known::Was(before.clone()))?;
        }
        if seal {
            self.sealed = Sealed { blocks: height + 1, txs: self.meta.next_txnum, scripts: self.meta.next_scriptnum };
            self.journal.put_unjournaled::<SealedMark>(&SealedKey, Some(&self.sealed));
        }
        self.journal.put_unjournaled::<MetaTable>(&MetaKey, Some(&self.meta));
        if let Some(entries) = self.journal.end_block() {
            self.journal.put_unjournaled::<Undo>(&height, Some(&BlockUndo { entries, meta_before }));
        }
        let summary = &mut self.journal.summary;
        summary.blocks += 1;
        summary.txs += block.txdata.len() as u64;
        summary.bytes += block.total_size() as u64;
        Ok(())
    }

    /// Moves the rows of every block from the first unsealed one through `last` from the column
    /// families to the segment files, dropping their undo data: they can no longer be rolled
    /// back. `next_height` is the block about to be applied.
    fn seal_through(&mut self, last: u32, next_height: u32) -> Result<(), ApplyError> {
        while self.sealed.blocks <= last && self.sealed.blocks < next_height {
            let height = self.sealed.blocks;
            let header = self.journal.get::<Headers>(&height)?.ok_or(GraphError::NotIndexed { height })?;
            let scripts_end = match height + 1 < next_height {
                true => {
                    self.journal
                        .get::<Headers>(&(height + 1))?
                        .ok_or(GraphError::NotIndexed { height })?
                        .first_scriptnum
                }
                false => self.meta.next_scriptnum,
            };
            let txs = header.first_txnum..header.first_txnum + u64::from(header.tx_count);
            for num in txs.clone() {
                self.journal.seal::<Txs>(num)?;
                self.journal.seal::<Outputs>(num)?;
                self.journal.seal::<Inputs>(num)?;
            }
            for num in header.first_scriptnum..scripts_end {
                self.journal.seal::<Scripts>(num)?;
            }
            self.journal.put_unjournaled::<Undo>(&height, None);
            self.sealed = Sealed { blocks: height + 1, txs: txs.end, scripts: scripts_end };
            self.journal.put_unjournaled::<SealedMark>(&SealedKey, Some(&self.sealed));
        }
        Ok(())
    }

    /// Commits everything pending in one atomic write, tip included.
    pub fn commit(&mut self, mode: WriteMode) -> Result<BatchSummary, StoreError> {
        self.journal.commit(mode)
    }

    /// Takes everything pending as one batch, to write on another thread; call
    /// [`Writer::settled`] once it has landed.
    pub fn take_batch(&mut self) -> Batch {
        self.journal.take_batch()
    }

    pub fn settled(&mut self) {
        self.journal.settled();
    }
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
