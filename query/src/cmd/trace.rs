//! `query trace forward|backward <target>`: follow the money from a tx, an outpoint or an address
//! for a number of hops, and report the txs reached and the spend edges between them.

use bitcoin::address::NetworkUnchecked;
use bitcoin::Address;
use indexer::schema::ScriptNum;
use tracing::debug;

use super::resolve::{self, NodeSpec};
use crate::chain::Chain;
use crate::cli::TraceArgs;
use crate::config::Settings;
use crate::engine::{self, Direction, TraceLimits};
use crate::error::{Result, UsageError};
use crate::model::{Body, Report, TraceView};
use crate::tags::Tag;
use crate::target::{parse_address, TargetSpec};

#[derive(Debug)]
pub struct Request {
    direction: Direction,
    target: TargetSpec,
    hops: u32,
    min_value: u64,
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

    pub fn prepare(args: &TraceArgs, settings: &Settings) -> Result<Request, UsageError> {
        Ok(Request {
            direction: args.direction,
            target: TargetSpec::parse(args.target.trim())?,
            hops: args.hops,
            min_value: args.min_value,
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
        if matches!(target, crate::target::Target::Script { .. }) {
            notes.extend(chain.addresses_note()?);
        }
        if roots.txs.is_empty() {
            notes.push(target.empty_note(self.direction));
        }
        let limits = TraceLimits {
            direction: self.direction,
            hops: self.hops,
            min_value: self.min_value,
            // Output rows are read for the addresses anyway; values come with them.
            values: false,
            max_txs: cap,
            stop,
        };
        let started = std::time::Instant::now();
        let trace = engine::trace(chain.store(), &roots.txs, &limits)?;
        let engine_ms = started.elapsed().as_secs_f64() * 1e3;
        let truncated = roots.truncated || trace.truncated;
        debug!(
            roots = roots.txs.len(),
            txs = trace.nodes.len(),
            edges = trace.edges.len(),
            truncated,
            engine_ms,
            "traced"
        );
        if truncated {
            notes.push(format!(
                "stopped at --max-txs {}: the trace is truncated (raise --max-txs, lower --hops or raise --min-value)",
                self.max_txs
            ));
        }
        let specs: Vec<NodeSpec> =
            trace.nodes.iter().map(|n| NodeSpec { num: n.num, hop: n.hop, stopped_at: Vec::new() }).collect();
        let txs = resolve::tx_nodes(chain, &specs)?;
        let edges = resolve::edge_views(chain, &trace.edges, &specs, &txs)?;
        let view = TraceView {
            root: target.label(),
            direction: self.direction.name(),
            hops: self.hops,
            hops_reached: trace.nodes.iter().map(|n| n.hop).max().unwrap_or(0),
            follow: "all",
            top: None,
            source_sat: 0,
            fees_sat: 0,
            destinations: Vec::new(),
            min_value_sat: self.min_value,
            max_txs: self.max_txs,
            txs,
            edges,
            truncated,
        };
        Ok(Report { body: Body::Trace(view), notes })
    }
}
