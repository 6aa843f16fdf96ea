//! Shortest flow of funds between two sets of txs: bidirectional breadth-first search, forward
//! over spends from one end and backward over inputs from the other, always growing the smaller
//! frontier by one whole level.
//!
//! Why it is exact: after the forward side has seen every tx within `a` edges and the backward
//! side every tx within `b`, any path of length `L <= a + b` has a tx seen by both. So the first
//! level that produces a meeting holds the shortest path, and it is the meeting tx with the
//! smallest sum of its two distances.
//!
//! Spend edges always go from an earlier tx to a later one (a larger tx number), so the forward
//! side never needs a tx later than the last end, nor the backward side one earlier than the
//! first start: such txs are skipped, which keeps searches between far-apart points small.

use std::collections::HashMap;

use indexer::storage::schema::TxNum;
use indexer::storage::store::{Store, StoreError};

use super::{Direction, Edge, SpendEdges};

/// Bounds of a path search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathLimits {
    /// Longest path, in spend edges.
    pub max_hops: u32,
    /// Edges carrying less are not followed.
    pub min_value: u64,
    /// Give up after seeing this many txs (both sides together).
    pub max_txs: usize,
}

/// The outcome: the txs from the first to the last (empty when not found).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathResult {
    pub txs: Vec<TxNum>,
    /// The search stopped at `max_txs` before finding a path.
    pub truncated: bool,
    /// Txs seen by the search.
    pub visited: usize,
}

/// One end of the search: every tx seen with the tx it was reached from (itself for a root) and
/// its distance from the roots.
struct Side {
    direction: Direction,
    /// Forward: the last tx that can lead to an end; backward: the first that can come from a
    /// start.
    bound: TxNum,
    seen: HashMap<TxNum, (TxNum, u32)>,
    frontier: Vec<TxNum>,
    depth: u32,
}

enum Step {
    Met(TxNum),
    Continue,
    Truncated,
}

impl Side {
    fn new(direction: Direction, roots: &[TxNum], bound: TxNum) -> Self {
        let seen: HashMap<_, _> = roots.iter().map(|&r| (r, (r, 0))).collect();
        let mut frontier: Vec<TxNum> = seen.keys().copied().collect();
        frontier.sort_unstable();
        Side { direction, bound, seen, frontier, depth: 0 }
    }

    /// Whether a tx can lie on a path at all.
    fn in_bounds(&self, num: TxNum) -> bool {
        match self.direction {
            Direction::Forward => num <= self.bound,
            Direction::Backward => num >= self.bound,
        }
    }

    /// Grows the frontier by one level. A tx the other side has seen is a meeting; the one with
    /// the shortest total distance wins.
    fn expand(
        &mut self,
        graph: &mut SpendEdges,
        other: &Side,
        limits: &PathLimits,
        visited: &mut usize,
    ) -> Result<Step, StoreError> {
        let depth = self.depth + 1;
        let mut next = Vec::new();
        let mut best: Option<(u32, TxNum)> = None;
        let mut buf: Vec<Edge> = Vec::new();
        for &num in &self.frontier {
            buf.clear();
            match self.direction {
                Direction::Forward => {
                    graph.out_edges(num, (limits.min_value > 0).then_some(limits.min_value), &mut buf)?
                }
                Direction::Backward => graph.in_edges(num, limits.min_value, &mut buf)?,
            }
            for edge in &buf {
                let reached = edge.next(self.direction);
                if !self.in_bounds(reached) || self.seen.contains_key(&reached) {
                    continue;
                }
                self.seen.insert(reached, (num, depth));
                *visited += 1;
                if *visited > limits.max_txs || crate::budget::expired() {
                    return Ok(Step::Truncated);
                }
                if let Some(&(_, theirs)) = other.seen.get(&reached) {
                    let candidate = (depth + theirs, reached);
                    if best.is_none_or(|b| candidate < b) {
                        best = Some(candidate);
                    }
                }
                next.push(reached);
            }
        }
        self.frontier = next;
        self.depth = depth;
        Ok(best.map_or(Step::Continue, |(_, tx)| Step::Met(tx)))
    }

    /// The txs from `tx` back to a root of this side, `tx` first.
    fn chain_from(&self, tx: TxNum) -> Vec<TxNum> {
        let mut out = vec![tx];
        let mut cur = tx;
        while let Some(&(prev, _)) = self.seen.get(&cur) {
            if prev == cur {
                break;
            }
            out.push(prev);
            cur = prev;
        }
        out
    }
}

/// The shortest chain of spends from a tx of `from` to a tx of `to`.
pub fn shortest_path(
    store: &Store,
    from: &[TxNum],
    to: &[TxNum],
    limits: &PathLimits,
) -> Result<PathResult, StoreError> {
    let not_found = |visited, truncated| PathResult { txs: Vec::new(), truncated, visited };
    let (Some(&first_start), Some(&last_end)) = (from.iter().min(), to.iter().max()) else {
        return Ok(not_found(0, false));
    };
    let mut fwd = Side::new(Direction::Forward, from, last_end);
    let mut bwd = Side::new(Direction::Backward, to, first_start);
    let mut visited = fwd.seen.len() + bwd.seen.len();
    if let Some(&both) = fwd.frontier.iter().find(|n| bwd.seen.contains_key(n)) {
        return Ok(PathResult { txs: vec![both], truncated: false, visited });
    }
    let mut graph = SpendEdges::new(store);
    while fwd.depth + bwd.depth < limits.max_hops {
        let forward = match (fwd.frontier.is_empty(), bwd.frontier.is_empty()) {
            (true, true) => break,
            (false, true) => true,
            (true, false) => false,
            (false, false) => fwd.frontier.len() <= bwd.frontier.len(),
        };
        let step = if forward {
            fwd.expand(&mut graph, &bwd, limits, &mut visited)?
        } else {
            bwd.expand(&mut graph, &fwd, limits, &mut visited)?
        };
        match step {
            Step::Met(tx) => {
                let mut txs = fwd.chain_from(tx);
                txs.reverse();
                txs.extend(bwd.chain_from(tx).into_iter().skip(1));
                return Ok(PathResult { txs, truncated: false, visited });
            }
            Step::Truncated => return Ok(not_found(visited, true)),
            Step::Continue => {}
        }
    }
    Ok(not_found(visited, false))
}
