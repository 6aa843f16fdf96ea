//! `query clusters [--top N]`: the largest clusters, with their sizes and balances.

use indexer::stages::clusters::read;
use indexer::storage::schema::ClusterState;
use indexer::storage::store::StoreError;

use super::cluster::balance_of;
use crate::chain::Chain;
use crate::cli::ClustersArgs;
use crate::error::{Result, UsageError};
use crate::model::{Body, ClusterSummary, ClustersView, HeuristicsView, Report};
use crate::parallel::map_parts;

/// Each thread sums the balances of at least this many members.
const MIN_PART: usize = 1024;

#[derive(Debug)]
pub struct Request {
    top: usize,
}

impl Request {
    pub fn prepare(args: &ClustersArgs) -> Result<Request, UsageError> {
        Ok(Request { top: usize::try_from(args.top).unwrap_or(usize::MAX) })
    }

    pub fn run(&self, chain: &Chain) -> Result<Report> {
        let stage = chain.require_clusters()?;
        let store = chain.store();
        let mut clusters = Vec::new();
        for cluster in read::largest(store, self.top)? {
            let members = read::members(store, cluster.root)?;
            let balances = map_parts(&members, MIN_PART, |part| {
                part.iter().map(|&s| balance_of(store, s)).collect::<Result<Vec<u64>, StoreError>>()
            })?;
            clusters.push(ClusterSummary {
                cluster_id: chain.script_name(cluster.first)?,
                size: cluster.size,
                balance_sat: balances.iter().sum(),
            });
        }
        let mut notes: Vec<String> = stage.note.iter().cloned().collect();
        notes.extend(chain.addresses_note()?);
        if clusters.is_empty() {
            notes.push("no two addresses share a cluster yet".into());
        }
        let view = ClustersView { top: self.top as u64, heuristics: heuristics(&stage.state), clusters };
        Ok(Report { body: Body::Clusters(view), notes })
    }
}

/// How the clusters were built, for output.
pub(super) fn heuristics(state: &ClusterState) -> HeuristicsView {
    let name = if state.change { "multi_input+change" } else { "multi_input" };
    HeuristicsView { name: name.into(), version: state.version, change: state.change }
}
