//! `query path <from> <to>`: the shortest flow of funds from one address, tx or outpoint to
//! another, following spend edges forward.

use indexer::storage::schema::{OutScript, TxNum};
use tracing::debug;

use super::resolve::{self, NodeSpec};
use crate::chain::Chain;
use crate::cli::{PathArgs, DEFAULT_PATH_MAX_HOPS, HARD_PATH_MAX_TXS, MAX_HOPS};
use crate::config::Settings;
use crate::engine::{self, Direction, Edge, PathLimits, SpendEdges};
use crate::error::{Result, UsageError};
use crate::model::{Body, DestinationView, PathView, Report, TxNode};
use crate::params::{self, in_range, opt_in_range};
use crate::target::{Target, TargetSpec};

/// What `query path` is asked; the defaults are the command line's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathParams {
    /// A txid, an outpoint `<txid>:<vout>` or an address.
    pub from: String,
    pub to: String,
    /// 1..=100.
    #[serde(default = "default_max_hops")]
    pub max_hops: u32,
    /// Satoshis; from text, satoshis or BTC.
    #[serde(default, deserialize_with = "params::amount")]
    pub min_value: u64,
    /// 1..=20000000; the settings' `path_max_txs` when left out.
    #[serde(default)]
    pub max_txs: Option<u64>,
}

fn default_max_hops() -> u32 {
    DEFAULT_PATH_MAX_HOPS
}

impl PathParams {
    /// The checks clap makes of the flags, for parameters built without it.
    pub fn validate(&self) -> Result<(), UsageError> {
        in_range("max_hops", self.max_hops, 1, MAX_HOPS)?;
        opt_in_range("max_txs", self.max_txs, 1, HARD_PATH_MAX_TXS)?;
        Ok(())
    }
}

impl From<&PathArgs> for PathParams {
    fn from(a: &PathArgs) -> Self {
        PathParams {
            from: a.from.clone(),
            to: a.to.clone(),
            max_hops: a.max_hops,
            min_value: a.min_value,
            max_txs: a.max_txs,
        }
    }
}

#[derive(Debug)]
pub struct Request {
    from: TargetSpec,
    to: TargetSpec,
    max_hops: u32,
    min_value: u64,
    max_txs: u64,
}

impl Request {
    pub fn prepare(args: &PathParams, settings: &Settings) -> Result<Request, UsageError> {
        args.validate()?;
        Ok(Request {
            from: TargetSpec::parse(args.from.trim())?,
            to: TargetSpec::parse(args.to.trim())?,
            max_hops: args.max_hops,
            min_value: args.min_value,
            max_txs: args.max_txs.unwrap_or(settings.path_max_txs),
        })
    }

    pub fn run(&self, chain: &Chain) -> Result<Report> {
        let from = self.from.resolve(chain)?;
        let to = self.to.resolve(chain)?;
        let cap = usize::try_from(self.max_txs).unwrap_or(usize::MAX);
        let starts = from.roots(chain, Direction::Forward, cap)?;
        let ends = to.roots(chain, Direction::Backward, cap)?;
        let mut notes = from.notes();
        notes.extend(to.notes());
        if [&from, &to].iter().any(|t| matches!(t, crate::target::Target::Script { .. })) {
            notes.extend(chain.addresses_note()?);
        }
        for (target, roots, direction, what) in
            [(&from, &starts, Direction::Forward, "spending from"), (&to, &ends, Direction::Backward, "paying")]
        {
            if roots.txs.is_empty() {
                notes.push(target.empty_note(direction));
            }
            if roots.truncated {
                notes.push(format!(
                    "{} has more than {cap} txs {what} it; searched from the first {cap}",
                    target.label()
                ));
            }
        }
        let limits = PathLimits { max_hops: self.max_hops, min_value: self.min_value, max_txs: cap };
        let started = std::time::Instant::now();
        let result = engine::shortest_path(chain.store(), &starts.txs, &ends.txs, &limits)?;
        let engine_ms = started.elapsed().as_secs_f64() * 1e3;
        let found = !result.txs.is_empty();
        debug!(
            starts = starts.txs.len(),
            ends = ends.txs.len(),
            visited = result.visited,
            found,
            engine_ms,
            "searched"
        );
        if result.truncated {
            notes.push(format!("gave up after visiting --max-txs {} txs: the search is truncated", self.max_txs));
        } else if !found {
            notes.push(format!(
                "no flow of funds of at most {} hops from {} to {}",
                self.max_hops,
                from.label(),
                to.label()
            ));
        }
        let specs: Vec<NodeSpec> = result
            .txs
            .iter()
            .enumerate()
            .map(|(i, &num)| NodeSpec { num, hop: i as u32, stopped_at: Vec::new() })
            .collect();
        let nodes = resolve::tx_nodes(chain, &specs)?;
        let edges = resolve::edge_views(chain, &self.path_edges(chain, &result.txs)?, &specs, &nodes)?;
        let destinations = match (result.txs.last(), nodes.last()) {
            (Some(&last), Some(node)) => self.path_end(chain, &to, last, node)?,
            _ => Vec::new(),
        };
        let view = PathView {
            from: from.label(),
            to: to.label(),
            found,
            hops: found.then(|| result.txs.len() as u32 - 1),
            txs: nodes.iter().map(|n| n.txid.clone()).collect(),
            nodes,
            edges,
            destinations,
            max_hops: self.max_hops,
            truncated: result.truncated || (!found && (starts.truncated || ends.truncated)),
            visited_txs: result.visited as u64,
        };
        Ok(Report { body: Body::Path(view), notes })
    }

    /// The outputs of the path's last tx that reach `to`: those paying the address, the outpoint
    /// itself, or all of them for a txid.
    fn path_end(&self, chain: &Chain, to: &Target, last: TxNum, node: &TxNode) -> Result<Vec<DestinationView>> {
        match to {
            Target::Tx { .. } => resolve::end_outputs(chain, last, node, |_, _| true),
            Target::Outpoint { vout, .. } => resolve::end_outputs(chain, last, node, |v, _| v == *vout),
            Target::Script { num, .. } => {
                let script = num.map(OutScript::Num);
                resolve::end_outputs(chain, last, node, |_, s| Some(s) == script.as_ref())
            }
        }
    }

    /// Every spend edge from each tx of the path to the next that the search could follow.
    fn path_edges(&self, chain: &Chain, txs: &[TxNum]) -> Result<Vec<Edge>> {
        let mut graph = SpendEdges::new(chain.store());
        let mut edges = Vec::new();
        let mut buf = Vec::new();
        for pair in txs.windows(2) {
            buf.clear();
            graph.out_edges(pair[0], Some(self.min_value), &mut buf)?;
            edges.extend(buf.iter().filter(|e| e.to == pair[1]));
        }
        Ok(edges)
    }
}
