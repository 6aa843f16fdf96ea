//! Breadth-first traces: every tx within N hops of a root set, each at its smallest hop, every
//! spend edge between the txs found, and where each branch ends (the destinations), with how
//! much of the traced value reached each.
//!
//! Each level's ports are read in parallel (the reads are independent) and merged in order on one
//! thread, so the result is the same as a sequential walk's, truncation included. When the next
//! level would pass the cap on txs, the txs reached by the largest flows are kept.

use std::collections::HashMap;

use indexer::storage::schema::{ScriptNum, TxNum};
use indexer::storage::store::{Store, StoreError};

use super::flow::{self, Destination, Root};
use super::ports::{End, Reader, Rules, Select, TxPorts};
use super::{Direction, Edge};
use crate::parallel::map_parts;

/// What a trace follows and where it stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceLimits {
    pub direction: Direction,
    /// Txs at hops 0..=hops are reported; those below `hops` are expanded.
    pub hops: u32,
    /// Ports carrying less are neither followed nor reported as edges.
    pub min_value: u64,
    /// Which ports of each tx are followed.
    pub select: Select,
    /// At most this many txs; more makes the trace truncated.
    pub max_txs: usize,
    /// Outputs paying (forward) or inputs spending from (backward) one of these end their branch.
    /// Sorted, without repeats.
    pub stop: Vec<ScriptNum>,
}

/// One tx of a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceNode {
    pub num: TxNum,
    /// Smallest number of spend edges from the root set.
    pub hop: u32,
    /// The stop scripts its ports touched, in port order.
    pub stops: Vec<ScriptNum>,
}

/// The txs (by hop, then chain order), edges (by paying tx and output) and destinations (by hop,
/// tx and port) of a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    pub nodes: Vec<TraceNode>,
    pub edges: Vec<Edge>,
    pub destinations: Vec<Destination>,
    /// The value traced: the roots' amounts.
    pub source: u64,
    /// Forward: the part of the traced value paid as fees.
    pub fees: u64,
    /// `max_txs` was reached: some txs within the hop limit are missing.
    pub truncated: bool,
}

/// Traces from `roots` (hop 0). Roots past `max_txs` are dropped and make the trace truncated.
pub fn trace(store: &Store, roots: &[Root], limits: &TraceLimits) -> Result<Trace, StoreError> {
    let mut walk = Walk::new(store, limits);
    let kept: Vec<Root> = roots.iter().take(limits.max_txs).cloned().collect();
    walk.truncated = kept.len() < roots.len();
    for root in &kept {
        walk.add(root.num, 0);
    }
    walk.expand()?;
    let mut edges = walk.close();
    if limits.direction == Direction::Backward {
        // The inputs ended at the hop limit or the cap were not named when read.
        let reader = Reader::new(store);
        for visit in &mut walk.nodes {
            reader.name_ends(&mut visit.ports)?;
        }
    }
    let mut nodes: Vec<(TraceNode, TxPorts)> = walk
        .nodes
        .into_iter()
        .map(|n| {
            let stops = n.ports.ports.iter().filter(|p| p.end == Some(End::Stopped)).filter_map(|p| p.script_num());
            (TraceNode { num: n.num, hop: n.hop, stops: stops.collect() }, n.ports)
        })
        .collect();
    let flows = flow::flows(&mut nodes, &kept, limits.direction);
    nodes.sort_by_key(|(n, _)| (n.hop, n.num));
    edges.sort_unstable();
    Ok(Trace {
        nodes: nodes.into_iter().map(|(n, _)| n).collect(),
        edges,
        destinations: flows.destinations,
        source: flows.source,
        fees: flows.fees,
        truncated: walk.truncated,
    })
}

/// A tx found, with its ports once read.
struct Visit {
    num: TxNum,
    hop: u32,
    ports: TxPorts,
}

struct Walk<'a> {
    store: &'a Store,
    limits: &'a TraceLimits,
    nodes: Vec<Visit>,
    /// Position of each found tx in `nodes`.
    index: HashMap<TxNum, usize>,
    truncated: bool,
}

/// Each thread reads the ports of at least this many txs.
const MIN_PART: usize = 64;

impl<'a> Walk<'a> {
    fn new(store: &'a Store, limits: &'a TraceLimits) -> Self {
        Walk { store, limits, nodes: Vec::new(), index: HashMap::new(), truncated: false }
    }

    fn rules(&self) -> Rules<'a> {
        let l = self.limits;
        Rules { direction: l.direction, min_value: l.min_value, select: l.select, stop: &l.stop }
    }

    fn add(&mut self, num: TxNum, hop: u32) {
        if self.index.contains_key(&num) {
            return;
        }
        self.index.insert(num, self.nodes.len());
        self.nodes.push(Visit { num, hop, ports: TxPorts::default() });
    }

    /// Reads every level's ports and adds the next level, until the hop limit, the cap, or no
    /// new tx.
    fn expand(&mut self) -> Result<(), StoreError> {
        let mut start = 0;
        while start < self.nodes.len() {
            let hop = self.nodes[start].hop;
            let level: Vec<TxNum> = self.nodes[start..].iter().map(|n| n.num).collect();
            let rules = self.rules();
            let read = map_parts(&level, MIN_PART, |part| {
                let mut reader = Reader::new(self.store);
                part.iter().map(|&num| reader.ports(num, &rules)).collect::<Result<Vec<_>, _>>()
            })?;
            for (visit, ports) in self.nodes[start..].iter_mut().zip(read) {
                visit.ports = ports;
            }
            let end = self.nodes.len();
            if hop >= self.limits.hops || self.truncated {
                break;
            }
            if crate::budget::expired() {
                self.truncated = true;
                break;
            }
            self.add_level(start, end, hop + 1);
            start = end;
        }
        Ok(())
    }

    /// Adds the txs the followed ports of `nodes[start..end]` lead to, at `hop`. Past the cap,
    /// the ones reached by the largest flows are kept.
    fn add_level(&mut self, start: usize, end: usize, hop: u32) {
        let mut reached: HashMap<TxNum, u64> = HashMap::new();
        for visit in &self.nodes[start..end] {
            for port in visit.ports.ports.iter().filter(|p| p.end.is_none()) {
                let Some((other, _)) = port.other else { continue };
                if !self.index.contains_key(&other) {
                    let value = reached.entry(other).or_default();
                    *value = (*value).max(port.value);
                }
            }
        }
        let mut next: Vec<(TxNum, u64)> = reached.into_iter().collect();
        let room = self.limits.max_txs.saturating_sub(self.nodes.len());
        if next.len() > room {
            self.truncated = true;
            next.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            next.truncate(room);
        }
        next.sort_unstable();
        for (num, _) in next {
            self.add(num, hop);
        }
    }

    /// Lists the edges of every followed port whose other end was found, and ends the others:
    /// at the hop limit, or at the cap.
    fn close(&mut self) -> Vec<Edge> {
        let mut edges = Vec::new();
        let direction = self.limits.direction;
        for visit in &mut self.nodes {
            let left = if visit.hop >= self.limits.hops { End::HopLimit } else { End::MaxTxs };
            for port in visit.ports.ports.iter_mut().filter(|p| p.end.is_none()) {
                let Some((other, other_index)) = port.other else { continue };
                if !self.index.contains_key(&other) {
                    port.end = Some(left);
                    continue;
                }
                edges.push(match direction {
                    Direction::Forward => {
                        Edge { from: visit.num, vout: port.index, to: other, vin: other_index, value: port.value }
                    }
                    Direction::Backward => {
                        Edge { from: other, vout: other_index, to: visit.num, vin: port.index, value: port.value }
                    }
                });
            }
        }
        edges
    }
}
