//! Breadth-first traces: every tx within N hops of a root set, each at its smallest hop, and every
//! spend edge between the txs found.
//!
//! Each level is read in parallel (the reads are independent) and then merged in order on one
//! thread, so the result is the same as a sequential walk's, truncation included.

use std::collections::HashSet;

use indexer::schema::{EventKind, ScriptNum, TxNum};
use indexer::store::{Store, StoreError};

use super::graph::keep_from;
use super::{Direction, Edge, Graph};
use crate::parallel::map_parts;

/// What a trace follows and where it stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceLimits {
    pub direction: Direction,
    /// Txs at hops 0..=hops are reported; those below `hops` are expanded.
    pub hops: u32,
    /// Edges carrying less are neither followed nor reported.
    pub min_value: u64,
    /// Whether forward edges must carry their values (read anyway when `min_value` > 0). Without,
    /// they carry 0, which saves a read per expanded tx for callers that read outputs later.
    /// Backward edges always carry their values.
    pub values: bool,
    /// At most this many txs; more makes the trace truncated.
    pub max_txs: usize,
    /// Txs paying (forward) or spending from (backward) one of these are reported, not expanded.
    /// Sorted, without repeats.
    pub stop: Vec<ScriptNum>,
}

/// One tx of a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceNode {
    pub num: TxNum,
    /// Smallest number of spend edges from the root set.
    pub hop: u32,
    /// Not expanded because it touches a stop script.
    pub stopped: bool,
}

/// The txs (by hop, then chain order) and edges (by paying tx and output) of a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    pub nodes: Vec<TraceNode>,
    pub edges: Vec<Edge>,
    /// `max_txs` was reached: some txs within the hop limit are missing.
    pub truncated: bool,
}

/// Traces from `roots` (hop 0). Roots past `max_txs` are dropped and make the trace truncated.
pub fn trace(store: &Store, roots: &[TxNum], limits: &TraceLimits) -> Result<Trace, StoreError> {
    let mut walk = Walk::new(store, roots, limits);
    let expanded = walk.expand()?;
    walk.close(expanded)?;
    Ok(walk.finish())
}

struct Walk<'a> {
    store: &'a Store,
    limits: &'a TraceLimits,
    nodes: Vec<TraceNode>,
    /// The txs in `nodes`.
    found: HashSet<TxNum>,
    edges: Vec<Edge>,
    truncated: bool,
}

/// What reading one tx of a level found: its edges (a span of the level's edge list), or that it
/// touches a stop script.
struct Read {
    start: usize,
    end: usize,
    stopped: bool,
}

/// Each thread reads the edges of at least this many txs.
const MIN_PART: usize = 64;

impl<'a> Walk<'a> {
    fn new(store: &'a Store, roots: &[TxNum], limits: &'a TraceLimits) -> Self {
        let mut walk =
            Walk { store, limits, nodes: Vec::new(), found: HashSet::new(), edges: Vec::new(), truncated: false };
        for &root in roots {
            if !walk.found.contains(&root) && !walk.add(root, 0) {
                break;
            }
        }
        walk
    }

    /// Adds a tx unless the cap is reached (then marks the trace truncated and returns false).
    fn add(&mut self, num: TxNum, hop: u32) -> bool {
        if self.nodes.len() >= self.limits.max_txs {
            self.truncated = true;
            return false;
        }
        self.found.insert(num);
        self.nodes.push(TraceNode { num, hop, stopped: false });
        true
    }

    /// Expands txs level by level; returns how many were handled (expanded or stopped), which
    /// are the first ones of `nodes`.
    fn expand(&mut self) -> Result<usize, StoreError> {
        let mut next = 0;
        while next < self.nodes.len() && !self.truncated {
            let hop = self.nodes[next].hop;
            if hop >= self.limits.hops {
                break;
            }
            // Every tx after `next` is at this hop: the next level is appended behind them.
            let level: Vec<TxNum> = self.nodes[next..].iter().map(|n| n.num).collect();
            let (edges, reads) = self.read_level(&level)?;
            for read in reads {
                if read.stopped {
                    self.nodes[next].stopped = true;
                }
                for edge in &edges[read.start..read.end] {
                    let other = edge.next(self.limits.direction);
                    if self.found.contains(&other) || self.add(other, hop + 1) {
                        self.edges.push(*edge);
                    }
                }
                next += 1;
                if self.truncated {
                    break;
                }
            }
        }
        Ok(next)
    }

    /// Reads the edges of a level's txs, on several threads when it is large.
    fn read_level(&self, level: &[TxNum]) -> Result<(Vec<Edge>, Vec<Read>), StoreError> {
        let parts = map_parts(level, MIN_PART, |part| {
            let mut graph = Graph::new(self.store);
            let mut edges = Vec::new();
            let mut reads = Vec::with_capacity(part.len());
            for &num in part {
                let start = edges.len();
                let stopped = self.stops_at(&graph, num)?;
                if !stopped {
                    match self.limits.direction {
                        Direction::Forward => graph.out_edges(num, self.value_filter(), &mut edges)?,
                        Direction::Backward => graph.in_edges(num, self.limits.min_value, &mut edges)?,
                    }
                }
                reads.push(Read { start, end: edges.len(), stopped });
            }
            Ok::<_, StoreError>(vec![(edges, reads)])
        })?;
        let mut all_edges = Vec::new();
        let mut all_reads = Vec::with_capacity(level.len());
        for (edges, reads) in parts {
            let offset = all_edges.len();
            all_edges.extend(edges);
            all_reads.extend(reads.into_iter().map(|r| Read {
                start: r.start + offset,
                end: r.end + offset,
                stopped: r.stopped,
            }));
        }
        Ok((all_edges, all_reads))
    }

    /// The smallest value of a forward edge, when values are read at all.
    fn value_filter(&self) -> Option<u64> {
        (self.limits.values || self.limits.min_value > 0).then_some(self.limits.min_value)
    }

    /// Whether `num` pays (forward) or spends from (backward) a stop script.
    fn stops_at(&self, graph: &Graph, num: TxNum) -> Result<bool, StoreError> {
        if self.limits.stop.is_empty() {
            return Ok(false);
        }
        let kind = match self.limits.direction {
            Direction::Forward => EventKind::Funded,
            Direction::Backward => EventKind::Spent,
        };
        graph.touches(num, kind, &self.limits.stop)
    }

    /// Adds the edges between found txs that expansion did not walk: those of txs at the last
    /// hop, of stopped txs and of txs left when the cap was reached.
    fn close(&mut self, expanded: usize) -> Result<(), StoreError> {
        let pending: Vec<TxNum> =
            self.nodes.iter().enumerate().filter(|(i, n)| *i >= expanded || n.stopped).map(|(_, n)| n.num).collect();
        let edges = map_parts(&pending, MIN_PART, |part| {
            let mut graph = Graph::new(self.store);
            let mut edges = Vec::new();
            for &num in part {
                let start = edges.len();
                self.edges_within(&mut graph, num, &mut edges, start)?;
            }
            Ok::<_, StoreError>(edges)
        })?;
        self.edges.extend(edges);
        Ok(())
    }

    /// Appends the edges of `num` whose other end is a found tx (`out[..start]` is left alone).
    /// Forward, values are read only for those: most spenders of the last hop are outside.
    fn edges_within(&self, graph: &mut Graph, num: TxNum, out: &mut Vec<Edge>, start: usize) -> Result<(), StoreError> {
        match self.limits.direction {
            Direction::Forward => {
                graph.spent_outputs(num, out)?;
                keep_from(out, start, |e| self.found.contains(&e.to));
                if let Some(min_value) = self.value_filter() {
                    graph.fill_values(num, &mut out[start..])?;
                    keep_from(out, start, |e| e.value >= min_value);
                }
            }
            Direction::Backward => {
                graph.in_edges(num, self.limits.min_value, out)?;
                keep_from(out, start, |e| self.found.contains(&e.from));
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Trace {
        self.nodes.sort_by_key(|n| (n.hop, n.num));
        self.edges.sort_unstable();
        Trace { nodes: self.nodes, edges: self.edges, truncated: self.truncated }
    }
}
