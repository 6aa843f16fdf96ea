//! The outputs an answer rests on, read back from the index for its case report: which outputs
//! a trace, path or exposure names ([`specs`]), then each one's value, script, address and block,
//! and the input that spent it ([`resolve`]), with the tags of their addresses.
//!
//! A trace or path rests on its spend edges (the output paying the next tx, spent by that tx's
//! input) and its destinations: forward and in paths the output where the branch ends (and its
//! spender, when spent); backward the output the destination input spent, or, for a coinbase,
//! the coinbase tx alone. An exposure rests on the tagged outputs value was attributed at; out,
//! the flow stops there, in, it went on through the input that spent them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;

use indexer::storage::schema::{OutScript, OutputsRow, TxNum};
use indexer::storage::store::hex_hash;

use super::{BlockRef, Hop, Spend, TaggedAddress};
use crate::chain::{script_label, Chain, Resolver};
use crate::error::{QueryError, Result};
use crate::model::{Body, DestinationView, EdgeView, TxNode};

/// An output an answer names, before it is read from the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HopSpec {
    pub txid: String,
    /// The height the answer gives the tx at, when it gives one: it picks among the txs sharing
    /// a txid (BIP30).
    pub height: Option<u32>,
    /// `None` for a coinbase's newly mined coins.
    pub vout: Option<u32>,
    /// The answer follows the money through the input that spent the output (when it was spent).
    pub through: bool,
}

/// The hops of an answer with the tags of their addresses and the times of their blocks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resolved {
    pub hops: Vec<Hop>,
    /// Each tagged address once, in the order the hops first name it.
    pub tags_used: Vec<TaggedAddress>,
    /// The UTC time (ISO 8601) of every block a hop or its spender is in, by height.
    pub times: BTreeMap<u32, String>,
}

/// The outputs an answer rests on, in the order it lists them: a trace's or path's edges, then
/// its destinations; an exposure's attributed outputs; a taint's tainted outputs. Other answers
/// rest on none.
pub fn specs(body: &Body) -> Result<Vec<HopSpec>> {
    Ok(match body {
        Body::Trace(t) => flow(&t.txs, &t.edges, &t.destinations)?,
        Body::Path(p) => flow(&p.nodes, &p.edges, &p.destinations)?,
        Body::Exposure(e) => e
            .attributions
            .iter()
            .map(|a| HopSpec { txid: a.txid.clone(), height: None, vout: Some(a.vout), through: e.direction == "in" })
            .collect(),
        // Every tainted output, without the input spending it: the taint moves through a tx as
        // a whole, not along one input.
        Body::Taint(t) => t
            .outputs
            .iter()
            .map(|o| HopSpec { txid: o.txid.clone(), height: Some(o.height), vout: Some(o.vout), through: false })
            .collect(),
        _ => Vec::new(),
    })
}

fn flow(nodes: &[TxNode], edges: &[EdgeView], destinations: &[DestinationView]) -> Result<Vec<HopSpec>> {
    let heights: HashMap<&str, u32> = nodes.iter().map(|n| (n.txid.as_str(), n.height)).collect();
    let height = |txid: &str| heights.get(txid).copied();
    let mut specs: Vec<HopSpec> = edges
        .iter()
        .map(|e| HopSpec { txid: e.from_txid.clone(), height: height(&e.from_txid), vout: Some(e.vout), through: true })
        .collect();
    for d in destinations {
        specs.push(match (d.vout, &d.prev_output) {
            (Some(vout), _) => {
                HopSpec { txid: d.txid.clone(), height: Some(d.height), vout: Some(vout), through: true }
            }
            (None, Some(prev)) => {
                let (txid, vout) = prev
                    .rsplit_once(':')
                    .and_then(|(txid, vout)| Some((txid, vout.parse::<u32>().ok()?)))
                    .ok_or_else(|| QueryError::Corrupt(format!("malformed outpoint {prev} in an answer")))?;
                HopSpec { txid: txid.to_string(), height: height(txid), vout: Some(vout), through: true }
            }
            // Backward, newly mined coins: only the coinbase tx itself.
            (None, None) => HopSpec { txid: d.txid.clone(), height: Some(d.height), vout: None, through: false },
        });
    }
    Ok(specs)
}

/// Reads every hop from the index: value and script of the output, its address and tags, the
/// block of its tx, and the input that spent it where the answer goes through it.
pub fn resolve(chain: &Chain, specs: &[HopSpec]) -> Result<Resolved> {
    let mut reader = Reader {
        chain,
        resolver: Resolver::new(chain),
        nums: HashMap::new(),
        outputs: None,
        tagged: HashSet::new(),
        done: Resolved::default(),
    };
    for spec in specs {
        let hop = reader.hop(spec)?;
        reader.done.hops.push(hop);
    }
    Ok(reader.done)
}

struct Reader<'c> {
    chain: &'c Chain,
    resolver: Resolver<'c>,
    /// The tx number of each txid met.
    nums: HashMap<String, TxNum>,
    /// The outputs of the last tx read (edges come by paying tx).
    outputs: Option<(TxNum, OutputsRow)>,
    /// The names already in `tags_used` or known to have no tags.
    tagged: HashSet<String>,
    done: Resolved,
}

impl Reader<'_> {
    fn hop(&mut self, spec: &HopSpec) -> Result<Hop> {
        let num = self.num(&spec.txid, spec.height)?;
        let block = self.block_of(num)?;
        let Some(vout) = spec.vout else {
            return Ok(Hop {
                txid: spec.txid.clone(),
                block,
                vout: None,
                value_sat: None,
                script_hex: None,
                address: None,
                spent_by: None,
            });
        };
        let (value, script) = self.output(num, vout, &spec.txid)?;
        let address = self.chain.address_of(&script);
        let name = address.clone().unwrap_or_else(|| script_label(&script));
        self.note_tags(name, &script)?;
        let spent_by = match spec.through {
            true => self.spend(num, vout)?,
            false => None,
        };
        Ok(Hop {
            txid: spec.txid.clone(),
            block,
            vout: Some(vout),
            value_sat: Some(value),
            script_hex: Some(hex::encode(&script)),
            address,
            spent_by,
        })
    }

    /// The number of a txid; of the occurrence at `height` when there are several.
    fn num(&mut self, txid: &str, height: Option<u32>) -> Result<TxNum> {
        if let Some(&num) = self.nums.get(txid) {
            return Ok(num);
        }
        let parsed = bitcoin::Txid::from_str(txid)
            .map_err(|_| QueryError::Corrupt(format!("malformed txid {txid} in an answer")))?;
        let nums = self.chain.txnums(&parsed)?;
        let mut chosen = nums[0];
        if let (Some(height), true) = (height, nums.len() > 1) {
            for &num in &nums {
                if self.chain.tx_row(num)?.height == height {
                    chosen = num;
                }
            }
        }
        self.nums.insert(txid.to_string(), chosen);
        Ok(chosen)
    }

    /// The block of a tx, noting its time.
    fn block_of(&mut self, num: TxNum) -> Result<BlockRef> {
        let height = self.chain.tx_row(num)?.height;
        let block = self.resolver.block(height)?;
        self.done.times.insert(height, block.time);
        Ok(BlockRef { height, hash: block.hash })
    }

    /// The value and script bytes of an output.
    fn output(&mut self, num: TxNum, vout: u32, txid: &str) -> Result<(u64, Vec<u8>)> {
        let row = match self.outputs.take() {
            Some((read, row)) if read == num => row,
            _ => self.chain.store().output_entries(num)?.unwrap_or_default(),
        };
        let (entry, count) = (row.0.get(vout as usize).cloned(), row.0.len() as u32);
        self.outputs = Some((num, row));
        let entry = entry.ok_or_else(|| QueryError::NoSuchOutput { txid: txid.to_string(), vout, count })?;
        let script = match &entry.script {
            OutScript::Num(script) => self.chain.script_bytes(*script)?,
            OutScript::Unspendable(bytes) => bytes.clone(),
        };
        Ok((entry.value, script))
    }

    /// The input that spent an output, if any, with its block.
    fn spend(&mut self, num: TxNum, vout: u32) -> Result<Option<Spend>> {
        let Some(by) = self.chain.store().spend(num, vout)? else { return Ok(None) };
        let txid = hex_hash(&self.chain.tx_row(by.txnum)?.txid);
        let block = self.block_of(by.txnum)?;
        Ok(Some(Spend { txid, vin: by.index, block }))
    }

    /// Adds the tags of a script, named by its address, the first time it is met.
    fn note_tags(&mut self, name: String, script: &[u8]) -> Result<()> {
        if self.tagged.contains(&name) {
            return Ok(());
        }
        let tags = self.chain.script_tags(script)?;
        if !tags.is_empty() {
            self.done.tags_used.push(TaggedAddress { address: name.clone(), tags });
        }
        self.tagged.insert(name);
        Ok(())
    }
}
