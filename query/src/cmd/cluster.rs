//! `query cluster <address>`: the addresses one owner is taken to control, their totals and one
//! page of them by balance; `query cluster --why <a> <b>`: the chain of transactions that put two
//! addresses in one cluster.

use std::cmp::Reverse;
use std::collections::HashMap;

use bitcoin::address::NetworkUnchecked;
use bitcoin::Address;
use indexer::stages::clusters::read;
use indexer::storage::schema::{EventKind, HistoryKey, ScriptNum, TxNum};
use indexer::storage::store::{hex_hash, Store, StoreError};

use super::clusters::heuristics;
use crate::chain::{script_label, Chain};
use crate::cli::{ClusterArgs, DEFAULT_LIMIT, MAX_LIMIT};
use crate::error::{QueryError, Result, UsageError};
use crate::model::{Body, ClusterView, LinkView, MemberView, Report, TagView, WhyView};
use crate::parallel::map_parts;
use crate::params::{exclusive, in_range};
use crate::target::parse_address;

/// What `query cluster` is asked: one address's cluster, a page at a time, or with `why` the
/// chain of transactions joining it to another address.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterParams {
    pub address: String,
    /// The other address of `--why`.
    #[serde(default)]
    pub why: Option<String>,
    /// Addresses per page: 1..=10000.
    #[serde(default = "default_limit")]
    pub limit: u64,
    /// The `next_cursor` of the previous page; not with `why`.
    #[serde(default)]
    pub after: Option<String>,
}

fn default_limit() -> u64 {
    DEFAULT_LIMIT
}

impl ClusterParams {
    /// The checks clap makes of the flags, for parameters built without it.
    pub fn validate(&self) -> Result<(), UsageError> {
        in_range("limit", self.limit, 1, MAX_LIMIT)?;
        exclusive(("why", self.why.is_some()), ("after", self.after.is_some()))
    }
}

impl ClusterArgs {
    /// The parameters of the command line: one address, or two with `--why`.
    pub fn params(&self) -> Result<ClusterParams, UsageError> {
        let (address, why) = match (self.why, self.addresses.as_slice()) {
            (false, [address]) => (address.clone(), None),
            (true, [a, b]) => (a.clone(), Some(b.clone())),
            (false, given) => {
                return Err(UsageError::ClusterArgs(format!(
                    "cluster takes one address, got {}; to connect two, use --why <A> <B>",
                    given.len()
                )))
            }
            (true, given) => {
                return Err(UsageError::ClusterArgs(format!("cluster --why takes two addresses, got {}", given.len())))
            }
        };
        Ok(ClusterParams { address, why, limit: self.limit, after: self.after.clone() })
    }
}

/// Each thread totals at least this many members.
const MIN_PART: usize = 256;

/// Where a page of members starts: after this balance and script number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberCursor {
    balance: u64,
    script: ScriptNum,
}

impl MemberCursor {
    /// Parses `<balance>:<n>`.
    pub fn parse(s: &str) -> Result<MemberCursor, UsageError> {
        let bad = || UsageError::ClusterCursor(s.into());
        let (balance, script) = s.split_once(':').ok_or_else(bad)?;
        Ok(MemberCursor { balance: balance.parse().map_err(|_| bad())?, script: script.parse().map_err(|_| bad())? })
    }

    fn of(member: &Totals) -> String {
        format!("{}:{}", member.balance, member.script)
    }

    /// The order members are listed in: balance descending, then script number.
    fn order(&self) -> (Reverse<u64>, ScriptNum) {
        (Reverse(self.balance), self.script)
    }
}

#[derive(Debug)]
pub enum Request {
    Members { address: Address<NetworkUnchecked>, limit: usize, after: Option<MemberCursor> },
    Why { a: Address<NetworkUnchecked>, b: Address<NetworkUnchecked> },
}

impl Request {
    pub fn prepare(params: &ClusterParams) -> Result<Request, UsageError> {
        params.validate()?;
        let parse = |s: &String| parse_address(s.trim());
        Ok(match &params.why {
            None => Request::Members {
                address: parse(&params.address)?,
                limit: params.limit as usize,
                after: params.after.as_deref().map(MemberCursor::parse).transpose()?,
            },
            Some(other) => Request::Why { a: parse(&params.address)?, b: parse(other)? },
        })
    }

    pub fn run(&self, chain: &Chain) -> Result<Report> {
        match self {
            Request::Members { address, limit, after } => members(chain, address, *limit, *after),
            Request::Why { a, b } => why(chain, a, b),
        }
    }
}

/// The address as shown and its script number; an error when the chain never paid it.
fn seen(chain: &Chain, address: &Address<NetworkUnchecked>) -> Result<(String, ScriptNum)> {
    let shown = address.assume_checked_ref().to_string();
    let script = chain.address_script(address)?;
    match chain.script_num(&script)? {
        Some(num) => Ok((shown, num)),
        None => Err(QueryError::UnseenAddress { address: shown, tip: chain.tip_text() }),
    }
}

/// What a member contributes to its cluster's totals.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Totals {
    script: ScriptNum,
    balance: u64,
    received: u64,
    /// The txs paying or spending from it, ascending, without repeats.
    txnums: Vec<TxNum>,
}

impl Totals {
    fn of(store: &Store, script: ScriptNum) -> Result<Totals, StoreError> {
        let (mut received, mut txnums) = (0, Vec::new());
        for event in store.history_from(HistoryKey::first_at(script, 0)) {
            let (key, value) = event?;
            if key.kind == EventKind::Funded {
                received += value;
            }
            if txnums.last() != Some(&key.txnum) {
                txnums.push(key.txnum);
            }
        }
        Ok(Totals { script, balance: balance_of(store, script)?, received, txnums })
    }

    fn order(&self) -> (Reverse<u64>, ScriptNum) {
        (Reverse(self.balance), self.script)
    }
}

/// Every tag of the cluster's members, once per label, source and pack, best first.
fn cluster_tags(chain: &Chain, scripts: &[ScriptNum]) -> Result<Vec<TagView>> {
    if chain.tags().is_none() {
        return Ok(Vec::new());
    }
    let found: Vec<Vec<TagView>> = map_parts(scripts, MIN_PART, |part| {
        part.iter().map(|&s| chain.script_tags(&chain.script_bytes(s)?)).collect::<Result<Vec<_>>>()
    })?;
    let mut tags: Vec<TagView> = Vec::new();
    for tag in found.into_iter().flatten() {
        if !tags.iter().any(|t| t.label == tag.label && t.source == tag.source && t.pack == tag.pack) {
            tags.push(tag);
        }
    }
    Ok(tags)
}

/// The sum of a script's unspent outputs.
pub(super) fn balance_of(store: &Store, script: ScriptNum) -> Result<u64, StoreError> {
    Ok(store.utxos(script, usize::MAX)?.iter().map(|&(_, _, value)| value).sum())
}

fn members(
    chain: &Chain,
    address: &Address<NetworkUnchecked>,
    limit: usize,
    after: Option<MemberCursor>,
) -> Result<Report> {
    chain.address_script(address)?;
    let stage = chain.require_clusters()?;
    let (shown, num) = seen(chain, address)?;
    let store = chain.store();
    let cluster = read::cluster_of(store, num)?;
    let scripts = read::members(store, cluster.root)?;
    let mut all: Vec<Totals> = map_parts(&scripts, MIN_PART, |part| {
        part.iter().map(|&s| Totals::of(store, s)).collect::<Result<Vec<_>, StoreError>>()
    })?;
    let mut txnums: Vec<TxNum> = all.iter().flat_map(|t| t.txnums.iter().copied()).collect();
    txnums.sort_unstable();
    txnums.dedup();
    let height = |num: Option<&TxNum>| num.map(|&n| chain.tx_row(n).map(|r| r.height)).transpose();
    let (balance_sat, received_sat) = all.iter().fold((0, 0), |(b, r), t| (b + t.balance, r + t.received));
    all.sort_unstable_by_key(Totals::order);
    let start = after.map_or(0, |c| all.partition_point(|t| t.order() <= c.order()));
    let page: Vec<&Totals> = all[start..].iter().take(limit + 1).collect();
    let next_cursor = if page.len() > limit { page[..limit].last().map(|t| MemberCursor::of(t)) } else { None };
    let addresses = page[..page.len().min(limit)]
        .iter()
        .map(|t| {
            let script = chain.script_bytes(t.script)?;
            let address = chain.address_of(&script).unwrap_or_else(|| script_label(&script));
            Ok(MemberView { address, balance_sat: t.balance, tags: chain.script_tags(&script)? })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut notes: Vec<String> = stage.note.iter().cloned().collect();
    notes.extend(chain.addresses_note()?);
    if let Some(cursor) = &next_cursor {
        notes.push(format!("more addresses: add --after {cursor}"));
    }
    let (first_height, last_height) = (height(txnums.first())?, height(txnums.last())?);
    let view = ClusterView {
        address: shown,
        cluster_id: chain.script_name(cluster.first)?,
        size: cluster.size,
        balance_sat,
        received_sat,
        tx_count: txnums.len() as u64,
        first_height,
        first_time: first_height.map(|h| chain.block_date(h)).transpose()?,
        last_height,
        last_time: last_height.map(|h| chain.block_date(h)).transpose()?,
        heuristics: heuristics(&stage.state),
        tags: cluster_tags(chain, &scripts)?,
        addresses,
        next_cursor,
    };
    Ok(Report { body: Body::Cluster(view), notes })
}

fn why(chain: &Chain, a: &Address<NetworkUnchecked>, b: &Address<NetworkUnchecked>) -> Result<Report> {
    chain.address_script(a)?;
    chain.address_script(b)?;
    let stage = chain.require_clusters()?;
    let ((from, a), (to, b)) = (seen(chain, a)?, seen(chain, b)?);
    let store = chain.store();
    let mut notes: Vec<String> = stage.note.iter().cloned().collect();
    let (cluster_id, links) = match read::why(store, a, b)? {
        Some(links) => (Some(chain.script_name(read::cluster_of(store, a)?.first)?), link_views(chain, &links)?),
        None => {
            let id = |s| read::cluster_of(store, s).map_err(QueryError::from).and_then(|c| chain.script_name(c.first));
            notes.push(format!("{from} is in cluster {}, {to} in cluster {}", id(a)?, id(b)?));
            (None, Vec::new())
        }
    };
    let view = WhyView {
        from,
        to,
        same_cluster: cluster_id.is_some(),
        cluster_id,
        links,
        heuristics: heuristics(&stage.state),
    };
    Ok(Report { body: Body::Why(view), notes })
}

/// Links with txids, heights and script names.
fn link_views(chain: &Chain, links: &[read::Link]) -> Result<Vec<LinkView>> {
    let mut names: HashMap<ScriptNum, String> = HashMap::new();
    let mut name = |num: ScriptNum| -> Result<String> {
        if let Some(n) = names.get(&num) {
            return Ok(n.clone());
        }
        let n = chain.script_name(num)?;
        names.insert(num, n.clone());
        Ok(n)
    };
    links
        .iter()
        .map(|link| {
            let row = chain.tx_row(link.txnum)?;
            Ok(LinkView {
                txid: hex_hash(&row.txid),
                height: row.height,
                time: chain.block_date(row.height)?,
                from: name(link.from)?,
                to: name(link.to)?,
                reason: link.reason.name(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_cursors_parse_and_order_after_their_member() {
        let c = MemberCursor::parse("500:7").unwrap();
        assert_eq!(c, MemberCursor { balance: 500, script: 7 });
        let t = Totals { script: 7, balance: 500, received: 0, txnums: vec![] };
        assert_eq!(MemberCursor::of(&t), "500:7");
        assert!(c.order() < (Reverse(500), 8) && c.order() < (Reverse(499), 0));
        for bad in ["", "5", "a:1", "1:b", "1:2:3", "-1:2"] {
            assert!(matches!(MemberCursor::parse(bad), Err(UsageError::ClusterCursor(_))), "{bad}");
        }
    }
}
