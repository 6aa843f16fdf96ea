//! Taint: how much of a source's value each later output carries, under one of four models
//! (poison, haircut, FIFO, LIFO; see [`TaintModel`] and `taint_split`).
//!
//! The source's outputs are wholly tainted, at hop 0. Txs spending tainted outputs are handled in
//! chain order (by tx number): a spender always comes after what it spends, so when a tx is
//! handled every tainted input it has is already known. A tx's hop is one more than the smallest
//! hop of the tainted outputs it spends. Its tainted inputs are passed on to its outputs and fee by
//! the model, and each output that ends up tainted is listed.
//!
//! A tainted output is *followed* into the tx that spent it unless it is unspent (or unspendable:
//! an OP_RETURN output is never spent, so its taint stays where it is), its tx is at hop `hops`,
//! it carries less than `min_sat`, or the spender is past the `max_txs` cap (which makes the
//! result truncated). An output that is not followed counts as clean in its spender, and its
//! taint makes up the *frontier*. Under haircut, FIFO and LIFO each tx passes on exactly what
//! enters it, so the source equals frontier plus fees to the satoshi; poison taints whole
//! outputs and fees and adds up to more.
//!
//! For an address, the source is every output ever paid to it. One of them may be paid by a tx
//! that spends another (the address's own change): the taint that reaches it from the earlier
//! one is not counted twice, so the source is the outputs' total less that overlap, and the books
//! still balance. The output is then wholly tainted and stays at hop 0.

use std::collections::{BTreeSet, HashMap};

use indexer::storage::schema::{EventKind, HistoryKey, OutScript, ScriptNum, TxNum};
use indexer::storage::store::{SpendsCursor, Store, StoreError};

use super::taint_split::{split_fifo, split_haircut, split_lifo, split_poison, Segments};

/// How a tx passes taint from its inputs to its outputs and fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TaintModel {
    /// Every output of a tx with a tainted input is wholly tainted, and so is its fee.
    Poison,
    /// Each output and the fee carry the tx's tainted input value in proportion to their values.
    Haircut,
    /// Inputs laid end to end in input order; outputs take slices of them in order, the fee last.
    Fifo,
    /// As fifo with the inputs laid from the last to the first; outputs in order, the fee last.
    Lifo,
}

impl TaintModel {
    pub fn name(self) -> &'static str {
        match self {
            TaintModel::Poison => "poison",
            TaintModel::Haircut => "haircut",
            TaintModel::Fifo => "fifo",
            TaintModel::Lifo => "lifo",
        }
    }

    /// Whether its outputs carry [`Segments`], not just amounts.
    fn ordered(self) -> bool {
        matches!(self, TaintModel::Fifo | TaintModel::Lifo)
    }
}

/// Where the taint starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaintSource {
    /// Every output of the tx.
    Tx(TxNum),
    /// One output.
    Output(TxNum, u32),
    /// Every output ever paid to the script.
    Script(ScriptNum),
}

/// How far taint is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaintLimits {
    pub model: TaintModel,
    /// Outputs of txs at this hop are not followed.
    pub hops: u32,
    /// At most this many txs past the source are handled.
    pub max_txs: usize,
    /// Outputs carrying less taint are not followed (0 counts as 1).
    pub min_sat: u64,
}

/// An output carrying taint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaintedOutput {
    pub num: TxNum,
    pub vout: u32,
    pub value: u64,
    pub script: OutScript,
    /// More than 0, at most `value`.
    pub tainted: u64,
    /// 0 for the source's outputs; else the hop of its tx.
    pub hop: u32,
    /// Spent as of the indexed tip.
    pub spent: bool,
}

/// The answer. Under haircut, FIFO and LIFO, `source == frontier + fees`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taint {
    /// The tainted value the source brings in.
    pub source: u64,
    /// Every output carrying taint, by hop, chain order and output index.
    pub outputs: Vec<TaintedOutput>,
    /// Taint in outputs that were not followed.
    pub frontier: u64,
    /// Taint paid as fees by the txs handled.
    pub fees: u64,
    /// Txs handled past the source.
    pub txs: usize,
    /// The `max_txs` cap was reached.
    pub truncated: bool,
}

/// Follows the taint of `source`.
pub fn taint(store: &Store, source: TaintSource, limits: &TaintLimits) -> Result<Taint, StoreError> {
    let mut walk = Walk::new(store, limits);
    walk.start(source)?;
    while let Some(num) = walk.queue.pop_first() {
        if walk.txs >= limits.max_txs || crate::budget::expired() {
            walk.truncated = true;
            break;
        }
        walk.txs += 1;
        walk.expand(num)?;
    }
    Ok(walk.finish())
}

/// An output carrying taint, as the walk keeps it.
struct Held {
    value: u64,
    script: OutScript,
    tainted: u64,
    /// FIFO and LIFO: where the taint sits in the value; empty otherwise.
    segments: Segments,
    hop: u32,
    spender: Option<TxNum>,
    /// Passed on into its spender.
    consumed: bool,
}

impl Held {
    /// An output whose taint is `segments`' tainted satoshis (FIFO, LIFO; else set `tainted`).
    fn new(value: u64, script: OutScript, segments: Segments, hop: u32, spender: Option<TxNum>) -> Self {
        let tainted = segments.tainted_sat();
        Held { value, script, tainted, segments, hop, spender, consumed: false }
    }
}

/// Whether an output's taint is passed on into the tx that spent it.
fn follows(limits: &TaintLimits, held: &Held) -> bool {
    held.hop < limits.hops && held.tainted >= limits.min_sat.max(1) && held.spender.is_some()
}

struct Walk<'a> {
    store: &'a Store,
    limits: &'a TaintLimits,
    spends: SpendsCursor<'a>,
    held: HashMap<(TxNum, u32), Held>,
    /// Txs to handle, in chain order.
    queue: BTreeSet<TxNum>,
    source: u64,
    fees: u64,
    txs: usize,
    truncated: bool,
}

impl<'a> Walk<'a> {
    fn new(store: &'a Store, limits: &'a TaintLimits) -> Self {
        Walk {
            store,
            limits,
            spends: store.spends_cursor(),
            held: HashMap::new(),
            queue: BTreeSet::new(),
            source: 0,
            fees: 0,
            txs: 0,
            truncated: false,
        }
    }

    /// Taints the source's outputs wholly, at hop 0, and queues their spenders.
    fn start(&mut self, source: TaintSource) -> Result<(), StoreError> {
        let mut points: Vec<(TxNum, Option<u32>)> = match source {
            TaintSource::Tx(num) => vec![(num, None)],
            TaintSource::Output(num, vout) => vec![(num, Some(vout))],
            TaintSource::Script(script) => self.funded(script)?.into_iter().map(|(n, v)| (n, Some(v))).collect(),
        };
        points.sort_unstable();
        points.dedup();
        for chunk in points.chunk_by(|a, b| a.0 == b.0) {
            let num = chunk[0].0;
            let (outputs, spenders) = (self.outputs(num)?, self.spenders(num)?);
            for &(_, vout) in chunk {
                let vouts = match vout {
                    Some(v) => v..v + 1,
                    None => 0..outputs.len() as u32,
                };
                for v in vouts {
                    let Some((value, script)) = outputs.get(v as usize) else { continue };
                    self.source += value;
                    let spender = spenders.get(&v).copied();
                    self.hold((num, v), Held::new(*value, script.clone(), Segments::tainted(*value), 0, spender));
                }
            }
        }
        Ok(())
    }

    /// The outputs paid to `script`, in chain order: (tx, output index).
    fn funded(&self, script: ScriptNum) -> Result<Vec<(TxNum, u32)>, StoreError> {
        let mut out = Vec::new();
        for event in self.store.history_from(HistoryKey::first_at(script, 0)) {
            let (key, _) = event?;
            if key.kind == EventKind::Funded {
                out.push((key.txnum, key.index));
            }
        }
        Ok(out)
    }

    /// Keeps an output carrying taint (none: nothing) and queues its spender if it is followed.
    fn hold(&mut self, at: (TxNum, u32), mut held: Held) {
        if held.tainted == 0 {
            return;
        }
        if self.limits.model.ordered() {
            debug_assert_eq!(held.segments.value(), held.value, "an output's runs cover its value");
        } else {
            held.segments = Segments::default();
        }
        if let (true, Some(next)) = (follows(self.limits, &held), held.spender) {
            self.queue.insert(next);
        }
        self.held.insert(at, held);
    }

    /// Passes the taint of tx `num`'s followed inputs on to its outputs and fee.
    fn expand(&mut self, num: TxNum) -> Result<(), StoreError> {
        let inputs = self.store.inputs(num)?;
        let mut segments = Vec::with_capacity(inputs.len());
        let (mut tainted, mut hop, mut input_total) = (0u64, None::<u32>, 0u64);
        for (_, input) in &inputs {
            input_total += input.value;
            let at = (input.prev.txnum, input.prev.index);
            let limits = self.limits;
            match self.held.get_mut(&at) {
                Some(held) if follows(limits, held) && held.spender == Some(num) => {
                    held.consumed = true;
                    tainted += held.tainted;
                    hop = Some(hop.map_or(held.hop, |h| h.min(held.hop)));
                    segments.push(if limits.model.ordered() { held.segments.clone() } else { Segments::default() });
                }
                _ => segments.push(Segments::clean(input.value)),
            }
        }
        let Some(hop) = hop.map(|h| h + 1) else { return Ok(()) };
        let outputs = self.outputs(num)?;
        let values: Vec<u64> = outputs.iter().map(|o| o.0).collect();
        let fee = input_total.saturating_sub(values.iter().sum());
        let (shares, fee_share) = self.pass(tainted, &segments, &values, fee);
        self.fees += fee_share;
        let spenders = self.spenders(num)?;
        for (vout, ((value, script), (share, runs))) in (0u32..).zip(outputs.into_iter().zip(shares)) {
            if let Some(source) = self.held.get(&(num, vout)) {
                // An output of the source paid by a tx its own taint reached: it was tainted
                // already, so what reached it is no new taint.
                debug_assert_eq!(source.hop, 0);
                self.source -= share;
                continue;
            }
            let mut held = Held::new(value, script, runs, hop, spenders.get(&vout).copied());
            held.tainted = share;
            self.hold((num, vout), held);
        }
        Ok(())
    }

    /// Each output's taint (with its runs under FIFO and LIFO) and the fee's, by the model.
    fn pass(&self, tainted: u64, inputs: &[Segments], values: &[u64], fee: u64) -> (Vec<(u64, Segments)>, u64) {
        let amounts = |(shares, fee): (Vec<u64>, u64)| {
            (shares.into_iter().map(|s| (s, Segments::default())).collect::<Vec<_>>(), fee)
        };
        let runs = |(slices, fee): (Vec<Segments>, u64)| {
            (slices.into_iter().map(|s| (s.tainted_sat(), s)).collect::<Vec<_>>(), fee)
        };
        match self.limits.model {
            TaintModel::Poison => amounts(split_poison(tainted > 0, values, fee)),
            TaintModel::Haircut => amounts(split_haircut(tainted, values, fee)),
            TaintModel::Fifo => runs(split_fifo(inputs, values, fee)),
            TaintModel::Lifo => runs(split_lifo(inputs, values, fee)),
        }
    }

    fn outputs(&self, num: TxNum) -> Result<Vec<(u64, OutScript)>, StoreError> {
        let row = self.store.output_entries(num)?.unwrap_or_default();
        Ok(row.0.into_iter().map(|o| (o.value, o.script)).collect())
    }

    /// The tx spending each spent output of `num`.
    fn spenders(&mut self, num: TxNum) -> Result<HashMap<u32, TxNum>, StoreError> {
        let mut out = HashMap::new();
        self.spends.for_each(num, |vout, by| {
            out.insert(vout, by.txnum);
        })?;
        Ok(out)
    }

    fn finish(self) -> Taint {
        let frontier = self.held.values().filter(|h| !h.consumed).map(|h| h.tainted).sum();
        let mut outputs: Vec<TaintedOutput> = self
            .held
            .into_iter()
            .map(|((num, vout), h)| TaintedOutput {
                num,
                vout,
                value: h.value,
                script: h.script,
                tainted: h.tainted,
                hop: h.hop,
                spent: h.spender.is_some(),
            })
            .collect();
        outputs.sort_unstable_by_key(|o| (o.hop, o.num, o.vout));
        Taint { source: self.source, outputs, frontier, fees: self.fees, txs: self.txs, truncated: self.truncated }
    }
}
