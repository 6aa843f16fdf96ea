//! Tables of traces and paths: the txs reached, the payments between them, and where the money
//! ended up (backward: where it came from).

use std::collections::BTreeMap;
use std::fmt::{self, Write};

use super::exposure::share;
use super::table::{count, point, txid, when, wrap, Table};
use super::Style;
use crate::model::{btc, DestinationView, EdgeView, PathView, TraceView, TxNode};

/// Groups of destinations a trace's summary lists; json and csv list every destination.
const SUMMARY_ROWS: usize = 25;

pub fn trace(out: &mut String, v: &TraceView, style: &Style) -> fmt::Result {
    wrap(out, &trace_header(v))?;
    if v.truncated {
        writeln!(
            out,
            "TRUNCATED at {} txs (--max-txs): txs within {} hops are missing; their branches end as max_txs",
            v.max_txs, v.hops
        )?;
    }
    writeln!(out)?;
    let mut t = Table::new(&[("HOP", true), ("TXID", false), ("HEIGHT", true), ("TIME (UTC)", false), ("NOTE", false)]);
    t.fit(&[4], style);
    for n in &v.txs {
        let joined = v.joins.iter().find(|j| j.txid == n.txid).map(|j| j.joined_sat);
        t.row(vec![n.hop.to_string(), txid(&n.txid, style), n.height.to_string(), when(&n.time), note(n, joined)]);
    }
    t.write(out)?;
    if !v.edges.is_empty() {
        writeln!(out)?;
        edges(out, &v.edges, style)?;
    }
    super::taint::joins(
        out,
        &v.joins,
        "traced value is diluted there; taint --compare shows how each model treats it",
        style,
    )?;
    writeln!(out)?;
    summary(out, v, style)
}

/// The words of a trace's first line(s): what was traced, how far, how much.
fn trace_header(v: &TraceView) -> Vec<String> {
    let unit = if v.direction == "backward" { "input" } else { "output" };
    let mut clauses = vec![
        count(v.txs.len(), "tx", "txs"),
        count(v.edges.len(), "edge", "edges"),
        format!("hops 0..={} reached (limit {})", v.hops_reached, v.hops),
    ];
    match (v.follow, v.top) {
        (_, Some(n)) if n > 1 => clauses.push(format!("following the {n} largest {unit}s of each tx")),
        ("largest", _) | (_, Some(_)) => clauses.push(format!("following the largest {unit} of each tx")),
        _ => {}
    }
    if v.min_value_sat > 0 {
        clauses.push(format!("edges of at least {} BTC", btc(v.min_value_sat)));
    }
    clauses.push(format!("source {} BTC", btc(v.source_sat)));
    let last = clauses.len() - 1;
    let mut pieces = vec![format!("Trace {} from {}:", v.direction, v.root)];
    pieces.extend(clauses.into_iter().enumerate().map(|(i, c)| if i < last { c + "," } else { c }));
    pieces
}

/// What a trace row should say besides its numbers: the stop addresses it touched, its tag.
fn note(n: &TxNode, joined: Option<u64>) -> String {
    let mut parts = Vec::new();
    if let Some(sat) = joined {
        parts.push(format!("JOIN: +{} BTC from outside", btc(sat)));
    }
    if !n.stopped_at.is_empty() {
        parts.push(format!("stop: {}", n.stopped_at.join(", ")));
    } else if n.stopped {
        parts.push("stop address".to_string());
    }
    if let Some(tag) = n.tags.first() {
        parts.push(format!("tag: {}", tag.label));
    }
    parts.join("; ")
}

/// Payments between reported txs: `FROM → TO`, the value and who was paid.
fn edges(out: &mut String, edges: &[EdgeView], style: &Style) -> fmt::Result {
    let mut t = Table::new(&[
        ("FROM (TXID:VOUT)", false),
        ("", false),
        ("TO (TXID:VIN)", false),
        ("VALUE (BTC)", true),
        ("ADDRESS", false),
    ]);
    t.fit(&[4], style);
    for e in edges {
        t.row(vec![
            point(&e.from_txid, e.vout, style),
            "→".into(),
            point(&e.to_txid, e.vin, style),
            btc(e.value_sat),
            e.label.clone(),
        ]);
    }
    t.write(out)
}

/// Destinations (origins) of one address in one state.
struct Group<'a> {
    label: &'a str,
    state: &'static str,
    traced_sat: u64,
    count: usize,
}

/// Destinations grouped by label and state, the most value first.
fn groups(destinations: &[DestinationView]) -> Vec<Group<'_>> {
    let mut by_key: BTreeMap<(&str, &'static str), (u64, usize)> = BTreeMap::new();
    for d in destinations {
        let label = match (d.label.as_str(), &d.address) {
            ("", Some(address)) => address.as_str(),
            ("", None) => "-",
            (label, _) => label,
        };
        let sum = by_key.entry((label, d.state)).or_default();
        sum.0 += d.traced_sat.unwrap_or(d.value_sat);
        sum.1 += 1;
    }
    let mut list: Vec<Group> = by_key
        .into_iter()
        .map(|((label, state), (traced_sat, count))| Group { label, state, traced_sat, count })
        .collect();
    list.sort_by_key(|g| std::cmp::Reverse(g.traced_sat));
    list
}

/// Where the traced value ended up (backward: came from), by address and state, with totals.
fn summary(out: &mut String, v: &TraceView, style: &Style) -> fmt::Result {
    let backward = v.direction == "backward";
    let (title, unit, every) = if backward {
        ("ORIGINS SUMMARY", "input", "every origin")
    } else {
        ("DESTINATIONS SUMMARY", "output", "every destination")
    };
    let truncated = if v.truncated { " (TRUNCATED)" } else { "" };
    if v.destinations.is_empty() {
        return writeln!(out, "{title}: none{truncated}");
    }
    let groups = groups(&v.destinations);
    let outputs = count(v.destinations.len(), unit, &format!("{unit}s"));
    writeln!(out, "{title}: {outputs} in {}{truncated}", count(groups.len(), "group", "groups"))?;
    let many = if backward { "INPUTS" } else { "OUTPUTS" };
    let mut t = Table::new(&[("ADDRESS", false), ("BTC", true), ("% OF SOURCE", true), ("STATE", false), (many, true)]);
    t.fit(&[0], style);
    for g in groups.iter().take(SUMMARY_ROWS) {
        t.row(vec![
            g.label.to_string(),
            btc(g.traced_sat),
            share(g.traced_sat, v.source_sat),
            g.state.to_string(),
            g.count.to_string(),
        ]);
    }
    t.write(out)?;
    if groups.len() > SUMMARY_ROWS {
        writeln!(out, "… and {} more (--format json or csv lists {every})", groups.len() - SUMMARY_ROWS)?;
    }
    if backward {
        writeln!(out, "total: {} BTC", btc(v.source_sat))
    } else {
        writeln!(out, "fees: {} BTC, total: {} BTC", btc(v.fees_sat), btc(v.source_sat))
    }
}

pub fn path(out: &mut String, v: &PathView, style: &Style) -> fmt::Result {
    let (from, to) = (format!("from {}", v.from), format!("to {}", v.to));
    let pieces = match v.hops {
        Some(hops) => {
            let txs = count(v.txs.len(), "tx", "txs");
            vec![format!("Path {from}"), format!("{to}:"), format!("{txs},"), count(hops as usize, "hop", "hops")]
        }
        None if v.truncated => vec![
            format!("No path found {from}"),
            format!("{to}:"),
            format!("the search gave up after visiting {} txs (TRUNCATED)", v.visited_txs),
        ],
        None => {
            vec![format!("No path {from}"), to, format!("within {} hops ({} txs visited)", v.max_hops, v.visited_txs)]
        }
    };
    wrap(out, &pieces)?;
    if v.nodes.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    let mut t = Table::new(&[("STEP", true), ("TXID", false), ("HEIGHT", true), ("TIME (UTC)", false)]);
    for n in &v.nodes {
        t.row(vec![n.hop.to_string(), txid(&n.txid, style), n.height.to_string(), when(&n.time)]);
    }
    t.write(out)?;
    if !v.edges.is_empty() {
        writeln!(out)?;
        edges(out, &v.edges, style)?;
    }
    if !v.destinations.is_empty() {
        writeln!(out)?;
        path_destinations(out, &v.destinations, style)?;
    }
    Ok(())
}

/// The outputs of a path's last tx that reach its target.
fn path_destinations(out: &mut String, destinations: &[DestinationView], style: &Style) -> fmt::Result {
    writeln!(out, "DESTINATIONS: {} of the last tx", count(destinations.len(), "output", "outputs"))?;
    let mut t =
        Table::new(&[("VOUT", true), ("ADDRESS", false), ("VALUE (BTC)", true), ("STATE", false), ("SPENT BY", false)]);
    t.fit(&[1], style);
    for d in destinations {
        let vout = d.vout.map(|n| n.to_string()).unwrap_or_default();
        let label = if d.label.is_empty() { d.address.clone().unwrap_or_default() } else { d.label.clone() };
        let spent_by = d.spent_by.as_deref().map(|s| txid(s, style)).unwrap_or_else(|| "-".into());
        t.row(vec![vout, label, btc(d.value_sat), d.state.to_string(), spent_by]);
    }
    t.write(out)
}
