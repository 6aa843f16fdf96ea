//! Exposure: how much of what an address or a transaction sent (or received) reached (or came
//! from) tagged entities. Value is followed as proportional flows over spend edges, hop by hop,
//! in whole satoshis, so that what is attributed, left unattributed and paid in fees always adds
//! up to the total exactly. The rules are in `docs/exposure.md`.
//!
//! Transactions are handled in chain order (forward) or reverse chain order (backward), as taint
//! handles them: every flow into a transaction has arrived when it is handled, so the values
//! entering it are added up and it is split once, at its hop (the smallest number of transactions
//! from the target's own, which are hop 0; see [`super`]).

use std::collections::{BTreeMap, HashMap};

use indexer::storage::schema::{EventKind, HistoryKey, OutScript, OutputsRow, ScriptNum, TxNum};
use indexer::storage::store::{Store, StoreError};

use super::split::split;
use super::Direction;

/// Category of an entity whose tags name none.
pub const UNCATEGORIZED: &str = "uncategorized";

/// Who is behind a script, as far as the tags tell.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entity {
    pub label: String,
    pub category: String,
}

/// Says which entity, if any, a script belongs to. The engine asks once per script and run.
pub trait Attribution {
    type Error: From<StoreError>;

    /// The entity behind `script`, or `None` when nothing tags it.
    fn entity(&mut self, script: ScriptNum) -> Result<Option<Entity>, Self::Error>;
}

/// What exposure is measured for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Out: the tx's outputs. In: its inputs.
    Tx(TxNum),
    /// Out: what the script sent, over every tx spending from it. In: what it received, over
    /// every tx paying it.
    Script(ScriptNum),
}

/// How far flows are followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposureLimits {
    /// Forward measures where the value went (out); backward where it came from (in).
    pub direction: Direction,
    /// Txs up to this hop are split and their outputs (inputs, backward) checked for tags;
    /// flows still untagged at this hop stop. 0: the target's own counterparties only.
    pub hops: u32,
    /// At most this many txs are split past the target's own; flows beyond stay unattributed.
    pub max_txs: usize,
}

/// Value attributed to one entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityValue {
    pub label: String,
    pub value: u64,
}

/// Value attributed to the entities of one category, largest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryValue {
    pub category: String,
    pub value: u64,
    pub entities: Vec<EntityValue>,
}

/// Value attributed at one tagged output, at one hop: where a flow reached an entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributed {
    /// The tx of the output.
    pub num: TxNum,
    pub vout: u32,
    /// The hop the flow reached it at (0: the target's own counterparty).
    pub hop: u32,
    pub label: String,
    pub category: String,
    /// The part of the total attributed there (not the output's whole value).
    pub value: u64,
}

/// Value no entity was found for, by where its flow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Unattributed {
    /// At an unspent (or unspendable) output.
    pub unspent: u64,
    /// At an untagged output of the last hop.
    pub hop_limit: u64,
    /// Entering a tx past the `max_txs` cap.
    pub max_txs: u64,
    /// Backward, at a coinbase: newly mined coins.
    pub coinbase: u64,
}

impl Unattributed {
    pub fn total(&self) -> u64 {
        self.unspent + self.hop_limit + self.max_txs + self.coinbase
    }
}

/// The answer. `direct + indirect + unattributed + fees == total`, to the satoshi.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    /// What the target sent (out) or received (in).
    pub total: u64,
    /// Reached at hop 0: the entity is the immediate counterparty. Largest category first.
    pub direct: Vec<CategoryValue>,
    /// Reached deeper, through untagged intermediaries. Largest category first.
    pub indirect: Vec<CategoryValue>,
    pub unattributed: Unattributed,
    /// Each tagged output value was attributed at, and how much: they add up to `direct` plus
    /// `indirect`. Largest first, then by hop, tx and output.
    pub attributions: Vec<Attributed>,
    /// Out only: the share of fees paid along the way.
    pub fees: u64,
    /// The target's own txs (one for a tx).
    pub roots: usize,
    /// Txs split past the target's own.
    pub txs: usize,
    /// `max_txs` was reached: some value was left unattributed because of it.
    pub truncated: bool,
}

/// Measures the exposure of `source`.
pub fn exposure<A: Attribution>(
    store: &Store,
    source: Source,
    limits: &ExposureLimits,
    attribution: &mut A,
) -> Result<Exposure, A::Error> {
    let mut walk = Walk::new(store, limits, attribution);
    let level = walk.start(source)?;
    walk.settle(level, 0)?;
    while let Some((num, entering)) = match limits.direction {
        Direction::Forward => walk.pending.pop_first(),
        Direction::Backward => walk.pending.pop_last(),
    } {
        walk.expand(num, entering)?;
    }
    Ok(walk.finish())
}

/// Value entering a tx still to be split, and its hop.
#[derive(Debug, Clone, Copy)]
struct Entering {
    value: u64,
    hop: u32,
}

/// Value arriving at one output.
#[derive(Debug, Clone, Copy)]
struct Arrival {
    /// `None` for an unspendable output, which nothing tags.
    script: Option<ScriptNum>,
    value: u64,
}

/// The outputs reached together (the source's, or one tx's), by (tx, output index), with their
/// merged values.
type Level = BTreeMap<(TxNum, u32), Arrival>;

struct Walk<'a, A> {
    store: &'a Store,
    limits: &'a ExposureLimits,
    attribution: &'a mut A,
    /// Each entity met, once.
    entities: Vec<Entity>,
    index: HashMap<Entity, usize>,
    /// Per entity: value reached at hop 1, value reached deeper.
    values: Vec<[u64; 2]>,
    /// Where value was attributed: (tx, output, hop, entity, value).
    attributed: Vec<(TxNum, u32, u32, usize, u64)>,
    /// The entity of each script asked about.
    known: HashMap<ScriptNum, Option<usize>>,
    total: u64,
    fees: u64,
    unattributed: Unattributed,
    roots: usize,
    txs: usize,
    truncated: bool,
    /// Txs value entered and that are still to be split, by tx number.
    pending: BTreeMap<TxNum, Entering>,
    weights: Vec<u64>,
    pieces: Vec<u64>,
}

impl<'a, A: Attribution> Walk<'a, A> {
    fn new(store: &'a Store, limits: &'a ExposureLimits, attribution: &'a mut A) -> Self {
        Walk {
            store,
            limits,
            attribution,
            entities: Vec::new(),
            index: HashMap::new(),
            values: Vec::new(),
            attributed: Vec::new(),
            known: HashMap::new(),
            total: 0,
            fees: 0,
            unattributed: Unattributed::default(),
            roots: 0,
            txs: 0,
            truncated: false,
            pending: BTreeMap::new(),
            weights: Vec::new(),
            pieces: Vec::new(),
        }
    }

    /// The hop-0 outputs of the source and the value reaching each; sets the total.
    fn start(&mut self, source: Source) -> Result<Level, A::Error> {
        let mut level = Level::new();
        match (source, self.limits.direction) {
            (Source::Tx(num), Direction::Forward) => {
                self.roots = 1;
                for (vout, out) in self.outputs(num)?.0.iter().enumerate() {
                    self.total += out.value;
                    add(&mut level, (num, vout as u32), script_num(&out.script), out.value);
                }
            }
            (Source::Tx(num), Direction::Backward) => {
                self.roots = 1;
                for (_, input) in self.store.inputs(num)? {
                    self.total += input.value;
                    let script = self.script_at(input.prev.txnum, input.prev.index)?;
                    add(&mut level, (input.prev.txnum, input.prev.index), script, input.value);
                }
            }
            (Source::Script(script), direction) => {
                let kind = match direction {
                    Direction::Forward => EventKind::Spent,
                    Direction::Backward => EventKind::Funded,
                };
                for (num, value) in self.events(script, kind)? {
                    self.roots += 1;
                    match direction {
                        Direction::Forward => self.start_sent(script, num, value, &mut level)?,
                        Direction::Backward => self.start_received(script, num, value, &mut level)?,
                    }
                }
            }
        }
        Ok(level)
    }

    /// Per tx with an event of `kind` for `script`, in chain order: the sum of those events'
    /// values (what the script spent into it, or was paid by it).
    fn events(&self, script: ScriptNum, kind: EventKind) -> Result<Vec<(TxNum, u64)>, StoreError> {
        let mut per_tx: Vec<(TxNum, u64)> = Vec::new();
        for event in self.store.history_from(HistoryKey::first_at(script, 0)) {
            let (key, value) = event?;
            if key.kind != kind {
                continue;
            }
            match per_tx.last_mut() {
                Some((num, sum)) if *num == key.txnum => *sum += value,
                _ => per_tx.push((key.txnum, value)),
            }
        }
        Ok(per_tx)
    }

    /// Out from a script: `spent` of tx `num`'s inputs came from it. Its share of each output
    /// and of the fee is split off; outputs paying the script back are change and are left out.
    fn start_sent(&mut self, script: ScriptNum, num: TxNum, spent: u64, level: &mut Level) -> Result<(), A::Error> {
        let outputs = self.outputs(num)?;
        self.split_into_outputs(num, spent, &outputs)?;
        let (fee, pieces) = self.pieces.split_last().expect("the fee is always a part");
        for (vout, (out, &piece)) in outputs.0.iter().zip(pieces).enumerate() {
            let to = script_num(&out.script);
            if to != Some(script) {
                self.total += piece;
                add(level, (num, vout as u32), to, piece);
            }
        }
        self.total += fee;
        self.fees += fee;
        Ok(())
    }

    /// In to a script: tx `num` paid it `received`, split back over the tx's inputs; the share
    /// of its own inputs is change and is left out. A coinbase's payment is new coins.
    fn start_received(
        &mut self,
        script: ScriptNum,
        num: TxNum,
        received: u64,
        level: &mut Level,
    ) -> Result<(), A::Error> {
        let inputs = self.store.inputs(num)?;
        if inputs.is_empty() {
            self.total += received;
            self.unattributed.coinbase += received;
            return Ok(());
        }
        self.weights.clear();
        self.weights.extend(inputs.iter().map(|(_, i)| i.value));
        split(received, &self.weights, &mut self.pieces);
        for ((_, input), piece) in inputs.iter().zip(std::mem::take(&mut self.pieces)) {
            let from = self.script_at(input.prev.txnum, input.prev.index)?;
            if from != Some(script) {
                self.total += piece;
                add(level, (input.prev.txnum, input.prev.index), from, piece);
            }
        }
        Ok(())
    }

    /// Attributes or stops what reached each output of `level` (at `hop`), and queues the rest
    /// for the tx it continues into at the next hop: forward the tx spending the output,
    /// backward the tx that created it.
    fn settle(&mut self, level: Level, hop: u32) -> Result<(), A::Error> {
        for ((num, vout), arrival) in level {
            if arrival.value == 0 {
                continue;
            }
            if let Some(script) = arrival.script {
                if let Some(entity) = self.entity(script)? {
                    self.values[entity][usize::from(hop > 0)] += arrival.value;
                    self.attributed.push((num, vout, hop, entity, arrival.value));
                    continue;
                }
            }
            let next = match self.limits.direction {
                Direction::Forward => match self.store.spend(num, vout)? {
                    Some(spender) => spender.txnum,
                    None => {
                        self.unattributed.unspent += arrival.value;
                        continue;
                    }
                },
                Direction::Backward => num,
            };
            if hop >= self.limits.hops {
                self.unattributed.hop_limit += arrival.value;
                continue;
            }
            let entering = self.pending.entry(next).or_insert(Entering { value: 0, hop: hop + 1 });
            entering.value += arrival.value;
            entering.hop = entering.hop.min(hop + 1);
        }
        Ok(())
    }

    /// Splits the value entering tx `num` over its outputs and fee (forward) or its inputs
    /// (backward), and settles what reaches each at the tx's hop.
    fn expand(&mut self, num: TxNum, entering: Entering) -> Result<(), A::Error> {
        let value = entering.value;
        if self.txs >= self.limits.max_txs || crate::budget::expired() {
            self.truncated = true;
            self.unattributed.max_txs += value;
            return Ok(());
        }
        self.txs += 1;
        let mut level = Level::new();
        match self.limits.direction {
            Direction::Forward => {
                let outputs = self.outputs(num)?;
                self.split_into_outputs(num, value, &outputs)?;
                let (fee, pieces) = self.pieces.split_last().expect("the fee is always a part");
                for (vout, (out, &piece)) in outputs.0.iter().zip(pieces).enumerate() {
                    add(&mut level, (num, vout as u32), script_num(&out.script), piece);
                }
                self.fees += fee;
            }
            Direction::Backward => {
                let inputs = self.store.inputs(num)?;
                if inputs.is_empty() {
                    self.unattributed.coinbase += value;
                    return Ok(());
                }
                self.weights.clear();
                self.weights.extend(inputs.iter().map(|(_, i)| i.value));
                split(value, &self.weights, &mut self.pieces);
                for ((_, input), piece) in inputs.iter().zip(std::mem::take(&mut self.pieces)) {
                    let script = self.script_at(input.prev.txnum, input.prev.index)?;
                    add(&mut level, (input.prev.txnum, input.prev.index), script, piece);
                }
            }
        }
        self.settle(level, entering.hop)
    }

    /// Splits `value` entering tx `num` over its outputs and then its fee, in proportion to
    /// their values (which add up to the tx's input total): `self.pieces` gets one piece per
    /// output, then the fee's.
    fn split_into_outputs(&mut self, num: TxNum, value: u64, outputs: &OutputsRow) -> Result<(), StoreError> {
        let input_total: u64 = self.store.inputs(num)?.iter().map(|(_, i)| i.value).sum();
        self.weights.clear();
        self.weights.extend(outputs.0.iter().map(|o| o.value));
        let output_total: u64 = self.weights.iter().sum();
        self.weights.push(input_total.saturating_sub(output_total));
        split(value, &self.weights, &mut self.pieces);
        Ok(())
    }

    fn outputs(&self, num: TxNum) -> Result<OutputsRow, StoreError> {
        Ok(self.store.output_entries(num)?.unwrap_or_default())
    }

    /// The script of output `vout` of tx `num`; `None` when unspendable.
    fn script_at(&self, num: TxNum, vout: u32) -> Result<Option<ScriptNum>, StoreError> {
        let outputs = self.outputs(num)?;
        Ok(outputs.0.get(vout as usize).and_then(|o| script_num(&o.script)))
    }

    /// The index of the entity behind `script`, asking the attribution once per script.
    fn entity(&mut self, script: ScriptNum) -> Result<Option<usize>, A::Error> {
        if let Some(known) = self.known.get(&script) {
            return Ok(*known);
        }
        let found = match self.attribution.entity(script)? {
            Some(entity) => Some(match self.index.get(&entity) {
                Some(&i) => i,
                None => {
                    self.index.insert(entity.clone(), self.entities.len());
                    self.entities.push(entity);
                    self.values.push([0, 0]);
                    self.entities.len() - 1
                }
            }),
            None => None,
        };
        self.known.insert(script, found);
        Ok(found)
    }

    /// The outputs value was attributed at, largest first.
    fn attributions(&self) -> Vec<Attributed> {
        let mut list: Vec<Attributed> = self
            .attributed
            .iter()
            .map(|&(num, vout, hop, entity, value)| Attributed {
                num,
                vout,
                hop,
                label: self.entities[entity].label.clone(),
                category: self.entities[entity].category.clone(),
                value,
            })
            .collect();
        list.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| (a.hop, a.num, a.vout).cmp(&(b.hop, b.num, b.vout))));
        list
    }

    fn finish(self) -> Exposure {
        let grouped = |which: usize| {
            let mut categories: BTreeMap<&str, Vec<EntityValue>> = BTreeMap::new();
            for (entity, values) in self.entities.iter().zip(&self.values) {
                if values[which] > 0 {
                    let value = EntityValue { label: entity.label.clone(), value: values[which] };
                    categories.entry(entity.category.as_str()).or_default().push(value);
                }
            }
            let mut out: Vec<CategoryValue> = categories
                .into_iter()
                .map(|(category, mut entities)| {
                    entities.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.label.cmp(&b.label)));
                    let value = entities.iter().map(|e| e.value).sum();
                    CategoryValue { category: category.to_string(), value, entities }
                })
                .collect();
            out.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.category.cmp(&b.category)));
            out
        };
        Exposure {
            direct: grouped(0),
            indirect: grouped(1),
            attributions: self.attributions(),
            total: self.total,
            unattributed: self.unattributed,
            fees: self.fees,
            roots: self.roots,
            txs: self.txs,
            truncated: self.truncated,
        }
    }
}

/// Adds `value` reaching an output to the outputs reached together; nothing for zero.
fn add(level: &mut Level, at: (TxNum, u32), script: Option<ScriptNum>, value: u64) {
    if value > 0 {
        level.entry(at).or_insert(Arrival { script, value: 0 }).value += value;
    }
}

fn script_num(script: &OutScript) -> Option<ScriptNum> {
    match script {
        OutScript::Num(n) => Some(*n),
        OutScript::Unspendable(_) => None,
    }
}
