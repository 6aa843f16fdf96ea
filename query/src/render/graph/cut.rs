//! Which txs a picture of a big trace keeps: at most [`MAX_DRAWN_TXS`], and at most
//! [`MAX_TXS_PER_HOP`] in one hop's column, grown from the root along the largest traced value, so
//! what is drawn is the main flows, joined to the root.
//!
//! Every tx gets a weight: the traced value of its own destinations, plus, for each tx one hop
//! further out (the next hop of a forward trace, the previous one of a backward trace), that tx's
//! weight shared out in proportion to the values of the spend edges reaching it. With no
//! destinations in the view, a tx nothing goes on from weighs what reached it. Then, starting
//! from the txs nothing leads to (the root set), the heaviest tx next to those kept is kept, ties
//! going to the smaller hop and then the earlier tx (a tx whose hop's column is full is passed
//! over), until the limit. The result depends only on the view.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use super::Flow;

/// The most txs a picture draws; a bigger trace is cut to its largest flows.
pub const MAX_DRAWN_TXS: usize = 150;

/// The most txs a picture draws in one hop's column; a wider fan-out is cut to its largest flows.
pub const MAX_TXS_PER_HOP: usize = 25;

/// How many txs may be drawn.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub txs: usize,
    pub per_hop: usize,
}

pub const LIMITS: Limits = Limits { txs: MAX_DRAWN_TXS, per_hop: MAX_TXS_PER_HOP };

/// The txs to draw.
pub struct Shown {
    /// By the view's tx index.
    pub keep: Vec<bool>,
    pub kept: usize,
    /// Where kept txs lead to txs left out.
    pub stubs: Vec<Stub>,
}

/// The txs left out one hop further out from a kept tx.
pub struct Stub {
    /// The kept tx (view index).
    pub tx: usize,
    pub txs: usize,
    /// The sum of the spend edges to (backward: from) them.
    pub value_sat: u64,
}

impl Shown {
    pub fn all(n: usize) -> Self {
        Shown { keep: vec![true; n], kept: n, stubs: Vec::new() }
    }
}

/// Spend edges by tx index, in the direction the trace went out from its root.
struct Links {
    /// `outward[t]`: (tx one hop further out, edge value).
    outward: Vec<Vec<(usize, u64)>>,
    /// `inward[t]`: (tx one hop nearer the root, edge value).
    inward: Vec<Vec<(usize, u64)>>,
}

impl Links {
    fn of(g: &Flow) -> Self {
        let index: HashMap<&str, usize> = g.nodes.iter().enumerate().map(|(i, n)| (n.txid.as_str(), i)).collect();
        let mut links = Links { outward: vec![Vec::new(); g.nodes.len()], inward: vec![Vec::new(); g.nodes.len()] };
        for e in g.edges {
            let (Some(&from), Some(&to)) = (index.get(e.from_txid.as_str()), index.get(e.to_txid.as_str())) else {
                continue;
            };
            let (near, far) = if g.backward { (to, from) } else { (from, to) };
            links.outward[near].push((far, e.value_sat));
            links.inward[far].push((near, e.value_sat));
        }
        links
    }
}

pub fn shown(g: &Flow, limits: Limits) -> Shown {
    let mut per_hop: HashMap<u32, usize> = HashMap::new();
    for n in g.nodes {
        *per_hop.entry(n.hop).or_default() += 1;
    }
    if g.nodes.len() <= limits.txs && per_hop.values().all(|&c| c <= limits.per_hop) {
        return Shown::all(g.nodes.len());
    }
    per_hop.clear();
    let links = Links::of(g);
    let weight = weights(g, &links);
    let key = |i: usize| (weight[i] as u64, Reverse(g.nodes[i].hop), Reverse(i));
    let mut keep = vec![false; g.nodes.len()];
    let mut heap: BinaryHeap<_> = (0..g.nodes.len()).filter(|&i| links.inward[i].is_empty()).map(key).collect();
    let mut kept = 0;
    while let Some((_, _, Reverse(i))) = heap.pop() {
        if kept == limits.txs {
            break;
        }
        let column = per_hop.entry(g.nodes[i].hop).or_default();
        if keep[i] || *column == limits.per_hop {
            continue;
        }
        *column += 1;
        keep[i] = true;
        kept += 1;
        heap.extend(links.outward[i].iter().filter(|(far, _)| !keep[*far]).map(|&(far, _)| key(far)));
    }
    let stubs = stubs(&links, &keep);
    Shown { keep, kept, stubs }
}

/// The value each tx carries outward: see the module doc.
fn weights(g: &Flow, links: &Links) -> Vec<f64> {
    let index: HashMap<&str, usize> = g.nodes.iter().enumerate().map(|(i, n)| (n.txid.as_str(), i)).collect();
    let mut weight = vec![0.0; g.nodes.len()];
    for d in g.destinations {
        if let Some(&i) = index.get(d.txid.as_str()) {
            weight[i] += d.traced_sat.unwrap_or(d.value_sat) as f64;
        }
    }
    if g.destinations.is_empty() {
        for (i, w) in weight.iter_mut().enumerate() {
            if links.outward[i].is_empty() {
                *w = links.inward[i].iter().map(|&(_, v)| v as f64).sum();
            }
        }
    }
    // From the far ends in: a tx is done once every tx further out is.
    let mut pending: Vec<usize> = links.outward.iter().map(Vec::len).collect();
    let mut ready: Vec<usize> = (0..g.nodes.len()).filter(|&i| pending[i] == 0).collect();
    while let Some(far) = ready.pop() {
        let reaching: f64 = links.inward[far].iter().map(|&(_, v)| v as f64).sum();
        for &(near, v) in &links.inward[far] {
            if reaching > 0.0 {
                weight[near] += weight[far] * v as f64 / reaching;
            }
            pending[near] -= 1;
            if pending[near] == 0 {
                ready.push(near);
            }
        }
    }
    weight
}

/// For each kept tx, the txs left out one hop further out.
fn stubs(links: &Links, keep: &[bool]) -> Vec<Stub> {
    let mut stubs = Vec::new();
    for (tx, outward) in links.outward.iter().enumerate() {
        if !keep[tx] {
            continue;
        }
        let mut txs: Vec<usize> = Vec::new();
        let mut value_sat = 0;
        for &(far, v) in outward.iter().filter(|(far, _)| !keep[*far]) {
            value_sat += v;
            if !txs.contains(&far) {
                txs.push(far);
            }
        }
        if !txs.is_empty() {
            stubs.push(Stub { tx, txs: txs.len(), value_sat });
        }
    }
    stubs
}
