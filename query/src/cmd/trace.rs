//! `query trace forward|backward <target>`: follow the money from a tx, an outpoint or an address
//! for a number of hops, and report the txs reached and the spend edges between them.

use bitcoin::address::NetworkUnchecked;
use bitcoin::Address;
use std::collections::hash_map::Entry;
use std::collections::HashMap;

use indexer::storage::schema::{OutScript, ScriptNum, TxNum};
use tracing::debug;

use super::resolve::{self, NodeSpec};
use crate::chain::Chain;
use crate::cli::{Follow, TraceArgs, DEFAULT_HOPS, HARD_TRACE_MAX_TXS, MAX_FOLLOW_TOP, MAX_HOPS};
use crate::config::Settings;
use crate::engine::{self, Amount, Direction, Root, Select, TraceLimits};
use crate::error::{Result, UsageError};
use crate::model::{Body, JoinView, Report, TraceView};
use crate::params::{self, exclusive, in_range, opt_in_range};
use crate::tags::Tag;
use crate::target::{parse_address, Target, TargetSpec};

/// What `query trace` is asked; the defaults are the command line's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceParams {
    #[serde(deserialize_with = "params::value_enum")]
    pub direction: Direction,
    /// A txid, an outpoint `<txid>:<vout>` or an address.
    pub target: String,
    /// 1..=100.
    #[serde(default = "default_hops")]
    pub hops: u32,
    /// Satoshis; from text, satoshis or BTC.
    #[serde(default, deserialize_with = "params::amount")]
    pub min_value: u64,
    #[serde(default = "default_follow", deserialize_with = "params::value_enum")]
    pub follow: Follow,
    /// 1..=1000; not with `follow` largest.
    #[serde(default)]
    pub top: Option<u32>,
    /// 1..=1000000; the settings' `trace_max_txs` when left out.
    #[serde(default)]
    pub max_txs: Option<u64>,
    /// From text, comma-separated.
    #[serde(default, deserialize_with = "params::list")]
    pub stop_at_address: Vec<String>,
    #[serde(default)]
    pub stop_at_tagged: bool,
    /// From text, comma-separated.
    #[serde(default, deserialize_with = "params::list")]
    pub stop_at_category: Vec<String>,
}

fn default_hops() -> u32 {
    DEFAULT_HOPS
}

fn default_follow() -> Follow {
    Follow::All
}

impl TraceParams {
    /// The checks clap makes of the flags, for parameters built without it.
    pub fn validate(&self) -> Result<(), UsageError> {
        in_range("hops", self.hops, 1, MAX_HOPS)?;
        opt_in_range("top", self.top, 1, MAX_FOLLOW_TOP)?;
        opt_in_range("max_txs", self.max_txs, 1, HARD_TRACE_MAX_TXS)?;
        exclusive(("follow largest", self.follow == Follow::Largest), ("top", self.top.is_some()))
    }
}

impl From<&TraceArgs> for TraceParams {
    fn from(a: &TraceArgs) -> Self {
        TraceParams {
            direction: a.direction,
            target: a.target.clone(),
            hops: a.hops,
            min_value: a.min_value,
            follow: a.follow,
            top: a.top,
            max_txs: a.max_txs,
            stop_at_address: a.stop_at_address.clone(),
            stop_at_tagged: a.stop_at_tagged,
            stop_at_category: a.stop_at_category.clone(),
        }
    }
}

#[derive(Debug)]
pub struct Request {
    direction: Direction,
    target: TargetSpec,
    hops: u32,
    min_value: u64,
    select: Select,
    max_txs: u64,
    stop: Vec<Address<NetworkUnchecked>>,
    stop_tagged: bool,
    stop_categories: Vec<String>,
}

impl Request {
    /// The indexed scripts `--stop-at-tagged` and `--stop-at-category` name.
    fn tagged_stops(&self, chain: &Chain, notes: &mut Vec<String>) -> Result<Vec<ScriptNum>> {
        if !self.stop_tagged && self.stop_categories.is_empty() {
            return Ok(Vec::new());
        }
        let Some(tags) = chain.tags() else {
            notes.push(
                "no tags are loaded (query tags import): --stop-at-tagged and --stop-at-category stop nowhere".into(),
            );
            return Ok(Vec::new());
        };
        let wanted = |tag: &Tag| {
            self.stop_tagged
                || [&tag.category, &tag.abuse]
                    .into_iter()
                    .flatten()
                    .any(|c| self.stop_categories.iter().any(|w| w.eq_ignore_ascii_case(c)))
        };
        let mut nums = Vec::new();
        for script in tags.scripts(wanted)? {
            nums.extend(chain.store().script_num(&script)?);
        }
        Ok(nums)
    }

    pub fn prepare(args: &TraceParams, settings: &Settings) -> Result<Request, UsageError> {
        args.validate()?;
        Ok(Request {
            direction: args.direction,
            target: TargetSpec::parse(args.target.trim())?,
            hops: args.hops,
            min_value: args.min_value,
            select: match (args.top, args.follow) {
                (Some(n), _) => Select::Top(n),
                (None, Follow::Largest) => Select::Top(1),
                (None, Follow::All) => Select::All,
            },
            max_txs: args.max_txs.unwrap_or(settings.trace_max_txs),
            stop: args.stop_at_address.iter().map(|a| parse_address(a.trim())).collect::<Result<_, _>>()?,
            stop_tagged: args.stop_at_tagged,
            stop_categories: args
                .stop_at_category
                .iter()
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect(),
        })
    }

    pub fn run(&self, chain: &Chain) -> Result<Report> {
        let target = self.target.resolve(chain)?;
        let mut stop = self
            .stop
            .iter()
            .map(|a| chain.script_num(&chain.address_script(a)?))
            .filter_map(Result::transpose)
            .collect::<Result<Vec<_>>>()?;
        let mut notes = target.notes();
        stop.extend(self.tagged_stops(chain, &mut notes)?);
        stop.sort_unstable();
        stop.dedup();
        let cap = usize::try_from(self.max_txs).unwrap_or(usize::MAX);
        let roots = target.roots(chain, self.direction, cap)?;
        if matches!(target, Target::Script { .. }) {
            notes.extend(chain.addresses_note()?);
        }
        if roots.txs.is_empty() {
            notes.push(target.empty_note(self.direction));
        }
        let limits = TraceLimits {
            direction: self.direction,
            hops: self.hops,
            min_value: self.min_value,
            select: self.select,
            max_txs: cap,
            stop,
        };
        let started = std::time::Instant::now();
        let roots_with_amounts = root_amounts(chain, &target, self.direction, &roots.txs)?;
        let trace = engine::trace(chain.store(), &roots_with_amounts, &limits)?;
        let engine_ms = started.elapsed().as_secs_f64() * 1e3;
        let truncated = roots.truncated || trace.truncated;
        debug!(
            roots = roots.txs.len(),
            txs = trace.nodes.len(),
            edges = trace.edges.len(),
            destinations = trace.destinations.len(),
            truncated,
            engine_ms,
            "traced"
        );
        if truncated {
            notes.push(format!(
                "stopped at --max-txs {}: the trace is truncated, keeping the largest flows (raise --max-txs, lower --hops or raise --min-value)",
                self.max_txs
            ));
        }
        let mut names = HashMap::new();
        let mut specs = Vec::with_capacity(trace.nodes.len());
        for n in &trace.nodes {
            let mut stopped_at = Vec::with_capacity(n.stops.len());
            for &script in &n.stops {
                let name = match names.entry(script) {
                    Entry::Occupied(known) => known.into_mut(),
                    Entry::Vacant(slot) => slot.insert(chain.script_name(script)?),
                };
                stopped_at.push(name.clone());
            }
            stopped_at.dedup();
            specs.push(NodeSpec { num: n.num, hop: n.hop, stopped_at });
        }
        let txs = resolve::tx_nodes(chain, &specs)?;
        let edges = resolve::edge_views(chain, &trace.edges, &specs, &txs)?;
        let mut destinations =
            resolve::destination_views(chain, &trace.destinations, self.direction, &specs, &txs, trace.source)?;
        let mut source = trace.source;
        if let (Target::Outpoint { num, vout, .. }, Direction::Forward, true) =
            (&target, self.direction, txs.is_empty())
        {
            // Nothing spent the output: the money sits in it.
            let node = resolve::tx_nodes(chain, &[NodeSpec { num: *num, hop: 0, stopped_at: Vec::new() }])?;
            destinations = resolve::end_outputs(chain, *num, &node[0], |v, _| v == *vout)?;
            for d in &mut destinations {
                source = d.value_sat;
                (d.traced_sat, d.percent) = (Some(d.value_sat), Some(100.0));
            }
        }
        let view = TraceView {
            root: target.label(),
            direction: self.direction.name(),
            hops: self.hops,
            hops_reached: trace.nodes.iter().map(|n| n.hop).max().unwrap_or(0),
            min_value_sat: self.min_value,
            max_txs: self.max_txs,
            follow: match self.select {
                Select::All => "all",
                Select::Top(1) => "largest",
                Select::Top(_) => "top",
            },
            top: match self.select {
                Select::Top(n) if n > 1 => Some(n),
                _ => None,
            },
            source_sat: source,
            fees_sat: trace.fees,
            txs,
            edges,
            destinations,
            joins: self.joins(chain, &trace, &roots.txs)?,
            truncated,
        };
        Ok(Report { body: Body::Trace(view), notes })
    }

    /// Forward: each tx past the roots with inputs the trace did not follow into it.
    fn joins(&self, chain: &Chain, trace: &engine::Trace, roots: &[TxNum]) -> Result<Vec<JoinView>> {
        if self.direction == Direction::Backward {
            return Ok(Vec::new());
        }
        let mut followed: HashMap<TxNum, Vec<(u32, u64)>> = HashMap::new();
        for e in &trace.edges {
            followed.entry(e.to).or_default().push((e.vin, e.value));
        }
        let mut joins = Vec::new();
        let mut nodes: Vec<&engine::TraceNode> = trace.nodes.iter().filter(|n| !roots.contains(&n.num)).collect();
        nodes.sort_by_key(|n| n.num);
        for node in nodes {
            let into = followed.get(&node.num).map(Vec::as_slice).unwrap_or_default();
            let clean: Vec<(u32, TxNum, u32, u64)> = chain
                .store()
                .inputs(node.num)?
                .into_iter()
                .filter(|(vin, _)| !into.iter().any(|(v, _)| v == vin))
                .map(|(vin, i)| (vin, i.prev.txnum, i.prev.index, i.value))
                .collect();
            if !clean.is_empty() {
                let tainted = into.iter().map(|(_, v)| v).sum();
                joins.push(engine::Join { num: node.num, hop: node.hop, tainted, clean });
            }
        }
        resolve::join_views(chain, &joins)
    }
}

/// The roots with the value each brings into the trace: a txid all of its outputs (forward) or
/// inputs (backward); an outpoint its value; an address, forward, what each root tx spends from
/// it and, backward, what each pays it.
fn root_amounts(chain: &Chain, target: &Target, direction: Direction, txs: &[TxNum]) -> Result<Vec<Root>> {
    let store = chain.store();
    let value_of = |num: TxNum, vout: u32| -> Result<u64> {
        Ok(store.output_entries(num)?.and_then(|o| o.0.get(vout as usize).map(|e| e.value)).unwrap_or(0))
    };
    let pays = |script: ScriptNum, e: &indexer::storage::schema::OutputEntry| e.script == OutScript::Num(script);
    txs.iter()
        .map(|&num| {
            let amount = match (target, direction) {
                (Target::Tx { .. }, _) => Amount::Whole,
                (Target::Outpoint { num: of, vout, .. }, _) => Amount::Part(value_of(*of, *vout)?),
                (Target::Script { num: script, .. }, Direction::Backward) => {
                    let outputs = store.output_entries(num)?.unwrap_or_default();
                    let script = script.unwrap_or(ScriptNum::MAX);
                    Amount::Part(outputs.0.iter().filter(|e| pays(script, e)).map(|e| e.value).sum())
                }
                (Target::Script { num: script, .. }, Direction::Forward) => {
                    let script = script.unwrap_or(ScriptNum::MAX);
                    let mut sum = 0;
                    for (_, input) in store.inputs(num)? {
                        let prev = store.output_entries(input.prev.txnum)?.unwrap_or_default();
                        if prev.0.get(input.prev.index as usize).is_some_and(|e| pays(script, e)) {
                            sum += input.value;
                        }
                    }
                    Amount::Part(sum)
                }
            };
            Ok(Root { num, amount })
        })
        .collect()
}
