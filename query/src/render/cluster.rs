//! Tables for clusters: one cluster's members, the links joining two addresses, the largest
//! clusters.

use std::fmt::{self, Write};

use super::table::{fields, height_at, txid, when, wrap, Table};
use super::Style;
use crate::chain::tagged_name;
use crate::model::{btc, ClusterView, ClustersView, HeuristicsView, WhyView};

fn rules(h: &HeuristicsView) -> String {
    format!("{} (version {})", h.name, h.version)
}

pub fn members(out: &mut String, v: &ClusterView, style: &Style) -> fmt::Result {
    let tags = if v.tags.is_empty() { "none".to_string() } else { super::table::tags_line(&v.tags, style) };
    fields(
        out,
        &[
            ("Cluster", v.cluster_id.clone()),
            ("Of address", v.address.clone()),
            ("Addresses", v.size.to_string()),
            ("Balance", format!("{} BTC", btc(v.balance_sat))),
            ("Received", format!("{} BTC", btc(v.received_sat))),
            ("Transactions", v.tx_count.to_string()),
            ("First seen", height_at(v.first_height, v.first_time.as_deref(), "never")),
            ("Last seen", height_at(v.last_height, v.last_time.as_deref(), "never")),
            ("Heuristics", rules(&v.heuristics)),
            ("Tags", tags),
        ],
    )?;
    writeln!(out)?;
    writeln!(out, "Addresses by balance: {} on this page", v.addresses.len())?;
    let mut t = Table::new(&[("ADDRESS", false), ("BALANCE (BTC)", true)]);
    t.fit(&[0], style);
    for m in &v.addresses {
        t.row(vec![tagged_name(&m.address, &m.tags), btc(m.balance_sat)]);
    }
    t.write(out)?;
    if let Some(cursor) = &v.next_cursor {
        writeln!(out, "Next page: add --after {cursor}")?;
    }
    Ok(())
}

pub fn why(out: &mut String, v: &WhyView, style: &Style) -> fmt::Result {
    let mut pieces = vec![v.from.clone(), "and".into(), v.to.clone()];
    match &v.cluster_id {
        Some(id) => pieces.extend([
            "are in one cluster".into(),
            format!("({id}):"),
            format!("{} link(s),", v.links.len()),
            format!("heuristics {}", rules(&v.heuristics)),
        ]),
        None => pieces.extend(["are in different clusters".into(), format!("(heuristics {})", rules(&v.heuristics))]),
    }
    wrap(out, &pieces)?;
    if v.links.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    let mut t = Table::new(&[
        ("HEIGHT", true),
        ("TIME (UTC)", false),
        ("TXID", false),
        ("FROM", false),
        ("TO", false),
        ("REASON", false),
    ]);
    t.fit(&[3, 4], style);
    for l in &v.links {
        t.row(vec![
            l.height.to_string(),
            when(&l.time),
            txid(&l.txid, style),
            l.from.clone(),
            l.to.clone(),
            l.reason.to_string(),
        ]);
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
