//! The traversal engine: breadth-first traces (with where each branch ends, and how much of the
//! traced value got there), bidirectional shortest-path search, exposure (proportional flows to or
//! from tagged entities) and taint (how much of a source each later output carries) over spend
//! edges. It works on transaction numbers only; turning them into txids and addresses is left to
//! the commands, for the few that end up in a result.
//!
//! **Hops** are counted one way in trace, path, exposure, taint and reports. The txs a question
//! starts from are at hop 0: a txid's own tx; for an outpoint or an address, forward the txs that
//! spend it and backward the txs that pay it. A tx one spend edge further from a tx at hop `h` is at
//! hop `h + 1`, unless a shorter way reaches it. An output (forward) or input (backward) is at the
//! hop of its tx, so a payment the theft tx itself makes is hop 0 everywhere, and "direct" exposure
//! is hop 0. `--hops N` handles txs up to hop N.

mod edges;
mod exposure;
mod flow;
mod path;
mod ports;
mod split;
mod taint;
mod taint_split;
mod trace;

use indexer::storage::schema::TxNum;

pub use edges::SpendEdges;
pub use exposure::{
    exposure, Attributed, Attribution, CategoryValue, Entity, EntityValue, Exposure, ExposureLimits, Source,
    Unattributed, UNCATEGORIZED,
};
pub use flow::{Amount, Destination, Root};
pub use path::{shortest_path, PathLimits, PathResult};
pub use ports::{End, Select};
pub use taint::{taint, Join, Taint, TaintLimits, TaintModel, TaintSource, TaintedOutput, Untagged};
pub use trace::{trace, Trace, TraceLimits, TraceNode};

/// Which way a traversal follows spend edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Direction {
    /// From a transaction to the ones spending its outputs: where the money went.
    Forward,
    /// From a transaction to the ones whose outputs it spends: where the money came from.
    Backward,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Direction::Forward => "forward",
            Direction::Backward => "backward",
        }
    }
}

/// One spend edge, pointing the way money flows: output `vout` of tx `from` is spent by input
/// `vin` of tx `to`, carrying `value` satoshis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Edge {
    pub from: TxNum,
    pub vout: u32,
    pub to: TxNum,
    pub vin: u32,
    pub value: u64,
}

impl Edge {
    /// The end of the edge a traversal in `direction` moves to.
    pub fn next(&self, direction: Direction) -> TxNum {
        match direction {
            Direction::Forward => self.to,
            Direction::Backward => self.from,
        }
    }
}

#[cfg(test)]
mod exposure_tests;
#[cfg(test)]
mod taint_tests;
#[cfg(test)]
mod tests;
