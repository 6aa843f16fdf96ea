//! Tables for clusters: one cluster's members, the links joining two addresses, the largest
//! clusters.

use std::fmt::{self, Write};

use super::table::{fields, Table};
use crate::chain::tagged_name;
use crate::model::{btc, ClusterView, ClustersView, HeuristicsView, WhyView};

fn rules(h: &HeuristicsView) -> String {
    format!("{} (version {})", h.name, h.version)
}

pub fn members(out: &mut String, v: &ClusterView) -> fmt::Result {
    let height = |h: Option<u32>| h.map(|h| h.to_string()).unwrap_or_else(|| "none".into());
    let tags = if v.tags.is_empty() { "none".to_string() } else { super::table::tag_list(&v.tags) };
    fields(
        out,
        &[
            ("Cluster", v.cluster_id.clone()),
            ("Of address", v.address.clone()),
            ("Addresses", v.size.to_string()),
            ("Balance", format!("{} BTC", btc(v.balance_sat))),
            ("Received", format!("{} BTC", btc(v.received_sat))),
            ("Transactions", v.tx_count.to_string()),
            ("Heights", format!("{} to {}", height(v.first_height), height(v.last_height))),
            ("Heuristics", rules(&v.heuristics)),
            ("Tags", tags),
        ],
    )?;
    writeln!(out)?;
    writeln!(out, "Addresses by balance: {} on this page", v.addresses.len())?;
    let mut t = Table::new(&[("ADDRESS", false), ("BALANCE (BTC)", true)]);
    for m in &v.addresses {
        t.row(vec![tagged_name(&m.address, &m.tags), btc(m.balance_sat)]);
    }
    t.write(out)?;
    if let Some(cursor) = &v.next_cursor {
        writeln!(out, "Next page: add --after {cursor}")?;
    }
    Ok(())
}

pub fn why(out: &mut String, v: &WhyView) -> fmt::Result {
    match &v.cluster_id {
        Some(id) => writeln!(
            out,
            "{} and {} are in one cluster ({id}): {} link(s), heuristics {}",
            v.from,
            v.to,
            v.links.len(),
            rules(&v.heuristics)
        )?,
        None => {
            writeln!(out, "{} and {} are in different clusters (heuristics {})", v.from, v.to, rules(&v.heuristics))?
        }
    }
    if v.links.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    let mut t = Table::new(&[("HEIGHT", true), ("TXID", false), ("FROM", false), ("TO", false), ("REASON", false)]);
    for l in &v.links {
        t.row(vec![l.height.to_string(), l.txid.clone(), l.from.clone(), l.to.clone(), l.reason.into()]);
    }
    t.write(out)
}

pub fn largest(out: &mut String, v: &ClustersView) -> fmt::Result {
    writeln!(out, "Largest clusters: {} (heuristics {})", v.clusters.len(), rules(&v.heuristics))?;
    if v.clusters.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    let mut t = Table::new(&[("RANK", true), ("CLUSTER", false), ("ADDRESSES", true), ("BALANCE (BTC)", true)]);
    for (rank, c) in v.clusters.iter().enumerate() {
        t.row(vec![(rank + 1).to_string(), c.cluster_id.clone(), c.size.to_string(), btc(c.balance_sat)]);
    }
    t.write(out)
}
