//! Taint: how much of a source's value each later output carries, under one of four models
//! (poison, haircut, FIFO, LIFO; see [`TaintModel`] and `taint_split`).
//!
//! The source's outputs are wholly tainted, at hop 0. Hops count as everywhere (see [`super`]): a
//! txid's own outputs are at hop 0 and the txs spending them at hop 1; an outpoint's or an
//! address's coins are spent by txs at hop 0, as they are the roots of a trace from it. Txs
//! spending tainted outputs are handled in chain order (by tx number): a spender always comes
//! after what it spends, so when a tx is handled every tainted input it has is already known. A
//! tx's hop is the smallest its tainted inputs give it. Its tainted inputs are passed on to its
//! outputs and fee by the model, and each output that ends up tainted is listed.
//!
//! **First arrival.** With an [`Attribution`], each output paying a tagged entity is named, and
//! each output's taint is told apart by whether it already passed through a tagged output on the
//! way (`earlier`). What reaches an entity for the first time is what exposure counts; the rest
//! is gross (an entity moving its own funds on, or paying another). Where taint that passed an
//! entity and taint that did not enter one tx, each output takes the latter as the flows of
//! exposure do: in proportion to the values under haircut, and in proportion to the model's
//! shares under the other models.
//!
//! A tainted output is *followed* into the tx that spent it unless it is unspent (or unspendable:
//! an OP_RETURN output is never spent, so its taint stays where it is), its spender would be past
//! hop `hops`,
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

use std::collections::{BTreeSet, HashMap, HashSet};

use indexer::storage::schema::{EventKind, HistoryKey, OutScript, ScriptNum, TxNum};
use indexer::storage::store::{SpendsCursor, Store, StoreError};

use super::exposure::{Attribution, Entity};
use super::split::split;
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
    /// Txs up to this hop are handled; outputs whose spender would be further are not followed.
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
    /// The hop of its tx; 0 for the source's own outputs.
    pub hop: u32,
    /// Spent as of the indexed tip.
    pub spent: bool,
    /// The tagged entity it pays, when an attribution names one.
    pub entity: Option<Entity>,
    /// The part of `tainted` that had already reached a tagged entity at an earlier output.
    pub earlier: u64,
}

/// A tx where value that is not part of the followed taint joins it: the inputs it spends
/// besides the tainted ones followed into it. The models tell its outputs' taint apart here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Join {
    pub num: TxNum,
    pub hop: u32,
    /// The taint entering through the followed inputs.
    pub tainted: u64,
    /// The other inputs: (input index, spent tx, output index, value).
    pub clean: Vec<(u32, TxNum, u32, u64)>,
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
    /// The txs handled where other value joins the taint, in chain order.
    pub joins: Vec<Join>,
    /// Txs handled past the source.
    pub txs: usize,
    /// The `max_txs` cap was reached.
    pub truncated: bool,
}

/// Names no entity: taint without tags.
pub struct Untagged;

impl Attribution for Untagged {
    type Error = StoreError;

    fn entity(&mut self, _: ScriptNum) -> Result<Option<Entity>, StoreError> {
        Ok(None)
    }
}

/// Follows the taint of `source`; `attribution` names the entities outputs pay. With `within`,
/// only into those txs: an output spent by any other stays in the frontier.
pub fn taint<A: Attribution>(
    store: &Store,
    source: TaintSource,
    limits: &TaintLimits,
    attribution: &mut A,
    within: Option<&HashSet<TxNum>>,
) -> Result<Taint, A::Error> {
    let mut walk = Walk::new(store, limits, attribution);
    walk.within = within;
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
    /// The hop of the tx spending it: `hop + 1`, or `hop` for an outpoint's or address's coins.
    next_hop: u32,
    spender: Option<TxNum>,
    /// Passed on into its spender.
    consumed: bool,
    entity: Option<Entity>,
    /// The part of `tainted` that had reached an entity at an earlier output.
    earlier: u64,
}

impl Held {
    /// An output whose taint is `segments`' tainted satoshis (FIFO, LIFO; else set `tainted`).
    fn new(value: u64, script: OutScript, segments: Segments, hop: u32, spender: Option<TxNum>) -> Self {
        let tainted = segments.tainted_sat();
        Held {
            value,
            script,
            tainted,
            segments,
            hop,
            next_hop: hop + 1,
            spender,
            consumed: false,
            entity: None,
            earlier: 0,
        }
    }

    /// The part of its taint that has reached an entity, here or earlier.
    fn reached(&self) -> u64 {
        if self.entity.is_some() {
            self.tainted
        } else {
            self.earlier
        }
    }
}

/// Whether an output's taint is passed on into the tx that spent it.
fn follows(limits: &TaintLimits, held: &Held) -> bool {
    held.next_hop <= limits.hops && held.tainted >= limits.min_sat.max(1) && held.spender.is_some()
}

struct Walk<'a, A> {
    store: &'a Store,
    limits: &'a TaintLimits,
    attribution: &'a mut A,
    /// The entity of each script asked about.
    known: HashMap<ScriptNum, Option<Entity>>,
    spends: SpendsCursor<'a>,
    held: HashMap<(TxNum, u32), Held>,
    /// Txs to handle, in chain order.
    queue: BTreeSet<TxNum>,
    joins: Vec<Join>,
    /// The only txs taint is followed into, when set.
    within: Option<&'a HashSet<TxNum>>,
    source: u64,
    fees: u64,
    txs: usize,
    truncated: bool,
}

impl<'a, A: Attribution> Walk<'a, A> {
    fn new(store: &'a Store, limits: &'a TaintLimits, attribution: &'a mut A) -> Self {
        Walk {
            store,
            limits,
            attribution,
            known: HashMap::new(),
            spends: store.spends_cursor(),
            held: HashMap::new(),
            queue: BTreeSet::new(),
            joins: Vec::new(),
            within: None,
            source: 0,
            fees: 0,
            txs: 0,
            truncated: false,
        }
    }

    /// Taints the source's outputs wholly, at hop 0, and queues their spenders.
    fn start(&mut self, source: TaintSource) -> Result<(), A::Error> {
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
                    let mut held = Held::new(*value, script.clone(), Segments::tainted(*value), 0, spender);
                    if !matches!(source, TaintSource::Tx(_)) {
                        // Coins, not a tx: what spends them is a root, at hop 0.
                        held.next_hop = 0;
                    }
                    self.hold((num, v), held)?;
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

    /// Keeps an output carrying taint (none: nothing), names its entity, and queues its spender
    /// if it is followed.
    fn hold(&mut self, at: (TxNum, u32), mut held: Held) -> Result<(), A::Error> {
        if held.tainted == 0 {
            return Ok(());
        }
        if let OutScript::Num(script) = held.script {
            held.entity = match self.known.get(&script) {
                Some(known) => known.clone(),
                None => {
                    let found = self.attribution.entity(script)?;
                    self.known.insert(script, found.clone());
                    found
                }
            };
        }
        if self.limits.model.ordered() {
            debug_assert_eq!(held.segments.value(), held.value, "an output's runs cover its value");
        } else {
            held.segments = Segments::default();
        }
        if let (true, Some(next)) = (follows(self.limits, &held), held.spender) {
            if self.within.is_none_or(|w| w.contains(&next)) {
                self.queue.insert(next);
            }
        }
        self.held.insert(at, held);
        Ok(())
    }

    /// Passes the taint of tx `num`'s followed inputs on to its outputs and fee.
    fn expand(&mut self, num: TxNum) -> Result<(), A::Error> {
        let inputs = self.store.inputs(num)?;
        let mut segments = Vec::with_capacity(inputs.len());
        let (mut tainted, mut reached, mut hop, mut input_total) = (0u64, 0u64, None::<u32>, 0u64);
        let mut clean = Vec::new();
        for (vin, input) in &inputs {
            input_total += input.value;
            let at = (input.prev.txnum, input.prev.index);
            let limits = self.limits;
            match self.held.get_mut(&at) {
                Some(held) if follows(limits, held) && held.spender == Some(num) => {
                    held.consumed = true;
                    tainted += held.tainted;
                    reached += held.reached();
                    hop = Some(hop.map_or(held.next_hop, |h| h.min(held.next_hop)));
                    segments.push(if limits.model.ordered() { held.segments.clone() } else { Segments::default() });
                }
                _ => {
                    clean.push((*vin, input.prev.txnum, input.prev.index, input.value));
                    segments.push(Segments::clean(input.value));
                }
            }
        }
        let Some(hop) = hop else { return Ok(()) };
        if !clean.is_empty() {
            self.joins.push(Join { num, hop, tainted, clean });
        }
        let outputs = self.outputs(num)?;
        let values: Vec<u64> = outputs.iter().map(|o| o.0).collect();
        let fee = input_total.saturating_sub(values.iter().sum());
        let (shares, fee_share) = self.pass(tainted, &segments, &values, fee);
        let fresh = self.fresh(tainted - reached, &values, fee, &shares, fee_share);
        self.fees += fee_share;
        let spenders = self.spenders(num)?;
        let outputs = outputs.into_iter().zip(shares.into_iter().zip(fresh));
        for (vout, ((value, script), ((share, runs), fresh))) in (0u32..).zip(outputs) {
            if let Some(source) = self.held.get(&(num, vout)) {
                // An output of the source paid by a tx its own taint reached: it was tainted
                // already, so what reached it is no new taint.
                debug_assert_eq!(source.hop, 0);
                self.source -= share;
                continue;
            }
            let mut held = Held::new(value, script, runs, hop, spenders.get(&vout).copied());
            held.tainted = share;
            held.earlier = share - fresh.min(share);
            self.hold((num, vout), held)?;
        }
        Ok(())
    }

    /// Each output's part of the `fresh` taint entering a tx (taint that has reached no entity
    /// yet): under haircut split as exposure splits its flows, over the outputs' values and the
    /// fee; under the other models in proportion to the model's own shares.
    fn fresh(&self, fresh: u64, values: &[u64], fee: u64, shares: &[(u64, Segments)], fee_share: u64) -> Vec<u64> {
        let mut weights: Vec<u64> = match self.limits.model {
            TaintModel::Haircut => values.to_vec(),
            _ => shares.iter().map(|s| s.0).collect(),
        };
        weights.push(if self.limits.model == TaintModel::Haircut { fee } else { fee_share });
        let mut pieces = Vec::with_capacity(weights.len());
        split(fresh, &weights, &mut pieces);
        pieces.pop();
        pieces
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
                entity: h.entity,
                earlier: h.earlier,
            })
            .collect();
        outputs.sort_unstable_by_key(|o| (o.hop, o.num, o.vout));
        Taint {
            source: self.source,
            outputs,
            frontier,
            fees: self.fees,
            joins: self.joins,
            txs: self.txs,
            truncated: self.truncated,
        }
    }
}
