//! Turns what the engine found (tx numbers and spend edges) into output nodes and edges: txids,
//! heights, block hashes and addresses. Large results are resolved on several threads.

use std::collections::HashMap;

use indexer::storage::schema::{IoRef, OutScript, OutputsRow, ScriptNum, TxNum};
use indexer::storage::store::hex_hash;

use crate::chain::{script_label, tagged_name, Chain, Resolver};
use crate::engine::{Destination, Direction, Edge, Join};
use crate::error::{QueryError, Result};
use crate::model::{DestinationView, EdgeView, JoinView, JoinedInputView, TagView, TxNode};
use crate::parallel::map_parts;

/// Each thread resolves at least this many txs or edges.
const MIN_PART: usize = 1024;

/// A tx to resolve: its number, hop and the stop addresses it touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    pub num: TxNum,
    pub hop: u32,
    /// The stop addresses it touched.
    pub stopped_at: Vec<String>,
}

/// Output nodes, in the order given.
pub fn tx_nodes(chain: &Chain, specs: &[NodeSpec]) -> Result<Vec<TxNode>> {
    map_parts(specs, MIN_PART, |part| {
        let mut resolver = Resolver::new(chain);
        part.iter()
            .map(|s| {
                let place = resolver.place(s.num)?;
                let tags = chain.tx_tags(&place.id)?;
                Ok(TxNode {
                    txid: place.txid,
                    height: place.height,
                    time: place.time,
                    block_hash: place.block_hash,
                    hop: s.hop,
                    stopped: !s.stopped_at.is_empty(),
                    stopped_at: s.stopped_at.clone(),
                    tags,
                })
            })
            .collect()
    })
}

/// Destinations, in the order given. `nodes` are the resolved txs of `specs` (every
/// destination's tx is among them); `source` is the traced value its percentages are of.
pub fn destination_views(
    chain: &Chain,
    destinations: &[Destination],
    direction: Direction,
    specs: &[NodeSpec],
    nodes: &[TxNode],
    source: u64,
) -> Result<Vec<DestinationView>> {
    let by_num: HashMap<TxNum, &TxNode> = specs.iter().zip(nodes).map(|(s, n)| (s.num, n)).collect();
    map_parts(destinations, MIN_PART, |part| {
        let mut owners = Owners::default();
        let mut views = Vec::with_capacity(part.len());
        for d in part {
            let node = by_num
                .get(&d.num)
                .ok_or_else(|| QueryError::Corrupt(format!("destination of unreported tx {}", d.num)))?;
            let owner = owners.of(chain, d.script.as_ref())?;
            let other = |(num, _): (TxNum, u32)| -> Result<String> {
                Ok(match by_num.get(&num) {
                    Some(n) => n.txid.clone(),
                    None => hex_hash(&chain.tx_row(num)?.txid),
                })
            };
            let forward = direction == Direction::Forward;
            views.push(DestinationView {
                txid: node.txid.clone(),
                vout: forward.then_some(d.index),
                vin: (!forward).then_some(d.index),
                hop: d.hop,
                height: node.height,
                time: node.time.clone(),
                address: owner.address,
                tags: owner.tags,
                value_sat: d.value,
                traced_sat: Some(d.traced),
                percent: Some(percent(d.traced, source)),
                state: d.end.name(),
                spent_by: if forward { d.other.map(other).transpose()? } else { None },
                prev_output: match (forward, d.other) {
                    (false, Some(o)) => Some(format!("{}:{}", other(o)?, o.1)),
                    _ => None,
                },
                label: owner.label,
            });
        }
        Ok(views)
    })
}

/// The outputs of tx `num` (resolved as `node`) that `keep` picks, as the end of a path: each
/// `unspent` or `spent`, with its spender.
pub fn end_outputs(
    chain: &Chain,
    num: TxNum,
    node: &TxNode,
    keep: impl Fn(u32, &OutScript) -> bool,
) -> Result<Vec<DestinationView>> {
    let spends: HashMap<u32, TxNum> = chain.store().spends(num)?.into_iter().map(|(v, s)| (v, s.txnum)).collect();
    let mut owners = Owners::default();
    let mut views = Vec::new();
    for (vout, out) in chain.store().output_entries(num)?.unwrap_or_default().0.into_iter().enumerate() {
        let vout = vout as u32;
        if !keep(vout, &out.script) {
            continue;
        }
        let owner = owners.of(chain, Some(&out.script))?;
        let spent_by = spends.get(&vout).map(|&s| chain.tx_row(s).map(|r| hex_hash(&r.txid))).transpose()?;
        views.push(DestinationView {
            txid: node.txid.clone(),
            vout: Some(vout),
            vin: None,
            hop: node.hop,
            height: node.height,
            time: node.time.clone(),
            address: owner.address,
            tags: owner.tags,
            value_sat: out.value,
            traced_sat: None,
            percent: None,
            state: if spent_by.is_some() { "spent" } else { "unspent" },
            spent_by,
            prev_output: None,
            label: owner.label,
        });
    }
    Ok(views)
}

/// `part` as a percentage of `whole`, to 4 decimals.
pub fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    (part as f64 * 100.0 / whole as f64 * 10_000.0).round() / 10_000.0
}

/// Output edges, in the order given, with values and addresses read from the spent outputs.
/// `nodes` are the resolved txs of `specs`, which should hold both ends of every edge (others
/// are looked up).
pub fn edge_views(chain: &Chain, edges: &[Edge], specs: &[NodeSpec], nodes: &[TxNode]) -> Result<Vec<EdgeView>> {
    let txids: HashMap<TxNum, &str> = specs.iter().zip(nodes).map(|(s, n)| (s.num, n.txid.as_str())).collect();
    let txid = |num: TxNum| -> Result<String> {
        match txids.get(&num) {
            Some(t) => Ok((*t).to_string()),
            None => Ok(hex_hash(&chain.tx_row(num)?.txid)),
        }
    };
    map_parts(edges, MIN_PART, |part| {
        let mut views = Vec::with_capacity(part.len());
        let mut outputs = OutputCache::default();
        for e in part {
            let (value_sat, owner) = outputs.owner(chain, e)?;
            views.push(EdgeView {
                from_txid: txid(e.from)?,
                vout: e.vout,
                to_txid: txid(e.to)?,
                vin: e.vin,
                value_sat,
                address: owner.address,
                tags: owner.tags,
                label: owner.label,
            });
        }
        Ok(views)
    })
}

/// Who an output pays, as shown: its address, tags and table label.
#[derive(Clone)]
struct Owner {
    address: Option<String>,
    tags: Vec<TagView>,
    label: String,
}

/// The owner of each script seen, by number.
#[derive(Default)]
struct Owners(HashMap<ScriptNum, Owner>);

impl Owners {
    /// Who an output script pays; `None` (a coinbase's new coins) is named `coinbase`.
    fn of(&mut self, chain: &Chain, script: Option<&OutScript>) -> Result<Owner> {
        Ok(match script {
            Some(OutScript::Num(num)) => match self.0.get(num) {
                Some(known) => known.clone(),
                None => {
                    let script = chain.script_bytes(*num)?;
                    let address = chain.address_of(&script);
                    let tags = chain.script_tags(&script)?;
                    let name = address.clone().unwrap_or_else(|| script_label(&script));
                    let known = Owner { address, label: tagged_name(&name, &tags), tags };
                    self.0.insert(*num, known.clone());
                    known
                }
            },
            Some(OutScript::Unspendable(bytes)) => {
                Owner { address: None, tags: Vec::new(), label: script_label(bytes) }
            }
            None => Owner { address: None, tags: Vec::new(), label: "coinbase".into() },
        })
    }
}

/// The outputs of the last paying tx seen (edges come sorted by paying tx, so one read serves
/// all edges leaving it), and the owners of the scripts seen.
#[derive(Default)]
struct OutputCache {
    txnum: Option<TxNum>,
    outputs: OutputsRow,
    owners: Owners,
}

impl OutputCache {
    /// The value and owner of the output an edge spends.
    fn owner(&mut self, chain: &Chain, e: &Edge) -> Result<(u64, Owner)> {
        if self.txnum != Some(e.from) {
            self.outputs = chain.store().output_entries(e.from)?.unwrap_or_default();
            self.txnum = Some(e.from);
        }
        let out = self
            .outputs
            .0
            .get(e.vout as usize)
            .ok_or_else(|| QueryError::Corrupt(format!("no output row for {}:{}", e.from, e.vout)))?;
        let value = out.value;
        let script = out.script.clone();
        Ok((value, self.owners.of(chain, Some(&script))?))
    }
}

/// The joins as shown: txids, blocks and the joining inputs' outputs and addresses.
pub fn join_views(chain: &Chain, joins: &[Join]) -> Result<Vec<JoinView>> {
    let mut resolver = Resolver::new(chain);
    let mut views = Vec::with_capacity(joins.len());
    for j in joins {
        let place = resolver.place(j.num)?;
        let mut inputs = Vec::with_capacity(j.clean.len());
        for &(vin, prev, vout, value) in &j.clean {
            let txid = resolver.place(prev)?.txid;
            let spent = chain.store().spent_output(j.num, IoRef { txnum: prev, index: vout })?;
            let address = spent.and_then(|o| chain.address_of(&o.script));
            inputs.push(JoinedInputView { vin, txid, vout, address, value_sat: value });
        }
        views.push(JoinView {
            txid: place.txid,
            hop: j.hop,
            height: place.height,
            time: place.time,
            followed_in_sat: j.tainted,
            joined_sat: j.clean.iter().map(|c| c.3).sum(),
            inputs,
        });
    }
    Ok(views)
}
