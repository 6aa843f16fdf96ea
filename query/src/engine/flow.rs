//! How much of the traced value reaches each destination of a trace.
//!
//! The value enters at the roots and moves through the txs in chain order (forward) or reverse
//! chain order (backward). At each tx the value that entered it is split, in whole satoshis and
//! in proportion to the values, over its outputs and fee (forward) or its inputs (backward): the
//! rule exposure uses. A share on a followed port moves on to the tx at its other end; a share on
//! a port where the branch ends stays there as a destination's traced value. Nothing is lost:
//! destinations plus fees add up to the source exactly.

use std::collections::HashMap;

use indexer::storage::schema::{OutScript, TxNum};

use super::ports::{End, TxPorts};
use super::split::split;
use super::trace::TraceNode;
use super::Direction;

/// A tx of the root set and the value that enters the trace through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Root {
    pub num: TxNum,
    pub amount: Amount,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    /// All of it: forward its outputs (the fee it paid is not part of what it sent), backward
    /// its inputs.
    Whole,
    /// This many satoshis, split over its outputs and fee (forward) or inputs (backward) like
    /// value entering any other tx.
    Part(u64),
}

/// Where a branch ends: a port of a traced tx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub num: TxNum,
    pub hop: u32,
    /// The output index forward, the input index backward.
    pub index: u32,
    /// The port's whole value.
    pub value: u64,
    pub script: Option<OutScript>,
    /// Forward: the spending tx and input; backward: the spent tx and output.
    pub other: Option<(TxNum, u32)>,
    pub end: End,
    /// The part of the source that reached it.
    pub traced: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Flows {
    /// By hop, tx and port.
    pub destinations: Vec<Destination>,
    pub source: u64,
    pub fees: u64,
}

/// Moves the roots' value through `nodes` (every tx of the trace, with its decided ports; the
/// other end of every followed port is among them). Reorders `nodes`.
pub fn flows(nodes: &mut [(TraceNode, TxPorts)], roots: &[Root], direction: Direction) -> Flows {
    match direction {
        Direction::Forward => nodes.sort_by_key(|(n, _)| n.num),
        Direction::Backward => nodes.sort_by_key(|(n, _)| std::cmp::Reverse(n.num)),
    }
    let whole: HashMap<TxNum, Amount> = roots.iter().map(|r| (r.num, r.amount)).collect();
    let mut inflow: HashMap<TxNum, u64> = HashMap::new();
    let mut out = Flows::default();
    for (node, tx) in nodes.iter() {
        let amount = match whole.get(&node.num) {
            Some(Amount::Whole) => tx.ports.iter().map(|p| p.value).sum(),
            Some(Amount::Part(part)) => *part,
            None => 0,
        };
        out.source += amount;
        *inflow.entry(node.num).or_default() += amount;
    }
    let mut weights = Vec::new();
    let mut pieces = Vec::new();
    for (node, tx) in nodes.iter() {
        let amount = inflow.remove(&node.num).unwrap_or(0);
        weights.clear();
        weights.extend(tx.ports.iter().map(|p| p.value));
        let with_fee = direction == Direction::Forward && whole.get(&node.num) != Some(&Amount::Whole);
        if with_fee {
            weights.push(tx.fee);
        }
        split(amount, &weights, &mut pieces);
        if pieces.is_empty() {
            // No port at all (a tx without outputs cannot be mined): the value is a fee.
            out.fees += amount;
            continue;
        }
        for (port, &piece) in tx.ports.iter().zip(&pieces) {
            match (port.end, port.other) {
                (None, Some((other, _))) => *inflow.entry(other).or_default() += piece,
                (end, _) => out.destinations.push(Destination {
                    num: node.num,
                    hop: node.hop,
                    index: port.index,
                    value: port.value,
                    script: port.script.clone(),
                    other: port.other,
                    end: end.unwrap_or(End::MaxTxs),
                    traced: piece,
                }),
            }
        }
        if with_fee {
            out.fees += pieces[tx.ports.len()];
        }
    }
    out.destinations.sort_by_key(|d| (d.hop, d.num, d.index));
    out
}
