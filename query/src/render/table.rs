//! Tables for people: a few header lines, then aligned columns; amounts in BTC with 8 decimals.

use std::fmt::{self, Write};

use indexer::heuristics::ScriptType;

use super::{cluster, pad};
use crate::chain::tagged_name;
use crate::model::{btc, AddressView, Body, EdgeView, PathView, TagView, TraceView, TxView};

/// Columns aligned on the widest cell; numbers right-aligned.
pub(super) struct Table {
    header: Vec<&'static str>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Columns as (title, right-aligned).
    pub(super) fn new(columns: &[(&'static str, bool)]) -> Self {
        Table {
            header: columns.iter().map(|c| c.0).collect(),
            right: columns.iter().map(|c| c.1).collect(),
            rows: Vec::new(),
        }
    }

    pub(super) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub(super) fn write(&self, out: &mut String) -> fmt::Result {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let header: Vec<String> = self.header.iter().map(|h| h.to_string()).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                let gap = widths[i].saturating_sub(cell.chars().count());
                if i > 0 {
                    line.push_str("  ");
                }
                if self.right[i] {
                    pad(&mut line, gap)?;
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    pad(&mut line, gap)?;
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// Label/value lines with the values aligned.
pub(super) fn fields(out: &mut String, lines: &[(&str, String)]) -> fmt::Result {
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, value) in lines {
        writeln!(out, "{key:width$}  {value}")?;
    }
    Ok(())
}

pub fn write(out: &mut String, body: &Body) -> fmt::Result {
    match body {
        Body::Tx(v) => tx(out, v),
        Body::Address(v) => address(out, v),
        Body::Trace(v) => trace(out, v),
        Body::Path(v) => path(out, v),
        Body::Cluster(v) => cluster::members(out, v),
        Body::Why(v) => cluster::why(out, v),
        Body::Clusters(v) => cluster::largest(out, v),
        Body::Exposure(v) => super::exposure::table(out, v),
        Body::TagImport(v) => super::tags::import(out, v),
        Body::AddressTags(v) => super::tags::address(out, v),
        Body::TagList(v) => super::tags::list(out, v),
        Body::TagRemove(v) => super::tags::remove(out, v),
    }
}

fn tx(out: &mut String, v: &TxView) -> fmt::Result {
    let kind = if v.coinbase { ", coinbase" } else { "" };
    fields(
        out,
        &[
            ("Transaction", v.txid.clone()),
            ("Block", format!("{} {} (position {}{kind})", v.height, v.block_hash, v.position)),
            ("Inputs", format!("{} BTC", btc(v.input_sat))),
            ("Outputs", format!("{} BTC", btc(v.output_sat))),
            ("Fee", v.fee_sat.map(|f| format!("{} BTC", btc(f))).unwrap_or_else(|| "none (coinbase)".into())),
            ("CoinJoin", coinjoin(v)),
            ("Change", change(v)),
        ],
    )?;
    writeln!(out)?;
    if v.coinbase {
        writeln!(out, "Inputs: coinbase (new coins)")?;
    } else {
        let mut t = Table::new(&[("VIN", true), ("PREVIOUS OUTPUT", false), ("VALUE (BTC)", true), ("ADDRESS", false)]);
        for i in &v.inputs {
            let owner = i.address.clone().unwrap_or_else(|| format!("script:{}", i.script_hex));
            let owner = tagged_name(&owner, &i.tags);
            t.row(vec![i.vin.to_string(), format!("{}:{}", i.prev_txid, i.prev_vout), btc(i.value_sat), owner]);
        }
        t.write(out)?;
    }
    writeln!(out)?;
    let mut t = Table::new(&[("VOUT", true), ("VALUE (BTC)", true), ("ADDRESS", false), ("SPENT BY", false)]);
    for o in &v.outputs {
        let owner = match &o.address {
            Some(a) => a.clone(),
            None if o.script_hex.starts_with("6a") => "op_return".into(),
            None => format!("script:{}", o.script_hex),
        };
        let owner = tagged_name(&owner, &o.tags);
        let spent = match &o.spent_by {
            Some(s) => format!("{}:{} (height {})", s.txid, s.vin, s.height),
            None => "unspent".into(),
        };
        t.row(vec![o.vout.to_string(), btc(o.value_sat), owner, spent]);
    }
    t.write(out)
}

/// Tags on one line: `label (category, confidence; pack)`, best first.
pub(super) fn tag_list(tags: &[TagView]) -> String {
    let one = |t: &TagView| {
        let category = t.category.as_deref().map(|c| format!("{c}, ")).unwrap_or_default();
        format!("{} ({category}{}; {})", t.label, t.confidence, t.pack)
    };
    tags.iter().map(one).collect::<Vec<_>>().join("; ")
}

fn coinjoin(v: &TxView) -> String {
    match &v.coinjoin {
        Some(c) => format!(
            "{} (confidence {}): {} outputs of {} BTC",
            c.kind,
            c.confidence,
            c.participants,
            btc(c.denomination_sat)
        ),
        None => "no".into(),
    }
}

fn change(v: &TxView) -> String {
    match &v.change {
        Some(c) => format!("output {} ({}; confidence {})", c.vout, c.heuristics.join(", "), c.confidence),
        None => "not identified".into(),
    }
}

/// The script type of a script in hex, to tell a key's scripts apart in a column.
fn script_type(hex: &str) -> &'static str {
    ScriptType::of(&hex::decode(hex).unwrap_or_default()).name()
}

fn address(out: &mut String, v: &AddressView) -> fmt::Result {
    let seen = |h: Option<u32>| h.map(|h| format!("height {h}")).unwrap_or_else(|| "never".into());
    let cluster = match (&v.cluster_id, v.cluster_size) {
        (Some(id), Some(size)) => format!("{id} ({size} address(es))"),
        _ => "none (clusters not built, or the address never seen)".into(),
    };
    let mut lines = vec![
        ("Address", v.address.clone()),
        ("Balance", format!("{} BTC", btc(v.balance_sat))),
        ("Received", format!("{} BTC", btc(v.received_sat))),
        ("Sent", format!("{} BTC", btc(v.sent_sat))),
        ("Transactions", v.tx_count.to_string()),
        ("First seen", seen(v.first_seen_height)),
        ("Last seen", seen(v.last_seen_height)),
        ("Cluster", cluster),
    ];
    if !v.tags.is_empty() {
        lines.insert(1, ("Tags", tag_list(&v.tags)));
    }
    let keyed = !v.key_scripts.is_empty();
    if keyed {
        lines.push(("Key balance", format!("{} BTC (with the key's other scripts)", btc(v.key_balance_sat))));
    }
    fields(out, &lines)?;
    if keyed {
        writeln!(out)?;
        writeln!(out, "Other scripts of its key: {}", v.key_scripts.len())?;
        let mut t =
            Table::new(&[("TYPE", false), ("ADDRESS", false), ("BALANCE (BTC)", true), ("RECEIVED (BTC)", true)]);
        for k in &v.key_scripts {
            let owner = k.address.clone().unwrap_or_else(|| format!("script:{}", k.script_hex));
            t.row(vec![k.script_type.into(), owner, btc(k.balance_sat), btc(k.received_sat)]);
        }
        t.write(out)?;
    }
    writeln!(out)?;
    let shown = if v.utxos_truncated { format!(", first {} shown", v.utxos.len()) } else { String::new() };
    writeln!(out, "Unspent outputs: {}{shown}", v.key_utxo_count)?;
    if !v.utxos.is_empty() {
        let mut columns = vec![("OUTPOINT", false), ("VALUE (BTC)", true), ("HEIGHT", true)];
        columns.extend(keyed.then_some(("SCRIPT", false)));
        let mut t = Table::new(&columns);
        for u in &v.utxos {
            let mut row = vec![format!("{}:{}", u.txid, u.vout), btc(u.value_sat), u.height.to_string()];
            row.extend(keyed.then(|| script_type(&u.script).to_string()));
            t.row(row);
        }
        t.write(out)?;
    }
    writeln!(out)?;
    writeln!(out, "History: {} event(s) on this page", v.history.len())?;
    if !v.history.is_empty() {
        let mut columns =
            vec![("HEIGHT", true), ("TXID", false), ("KIND", false), ("INDEX", true), ("VALUE (BTC)", true)];
        columns.extend(keyed.then_some(("SCRIPT", false)));
        let mut t = Table::new(&columns);
        for h in &v.history {
            let mut row =
                vec![h.height.to_string(), h.txid.clone(), h.kind.to_string(), h.index.to_string(), btc(h.value_sat)];
            row.extend(keyed.then(|| script_type(&h.script).to_string()));
            t.row(row);
        }
        t.write(out)?;
    }
    if let Some(cursor) = &v.next_cursor {
        writeln!(out, "Next page: add --after {cursor}")?;
    }
    Ok(())
}

fn edges(out: &mut String, edges: &[EdgeView]) -> fmt::Result {
    let mut t =
        Table::new(&[("FROM (TXID:VOUT)", false), ("TO (TXID:VIN)", false), ("VALUE (BTC)", true), ("ADDRESS", false)]);
    for e in edges {
        t.row(vec![
            format!("{}:{}", e.from_txid, e.vout),
            format!("{}:{}", e.to_txid, e.vin),
            btc(e.value_sat),
            e.label.clone(),
        ]);
    }
    t.write(out)
}

fn trace(out: &mut String, v: &TraceView) -> fmt::Result {
    write!(
        out,
        "Trace {} from {}: {} tx(s), {} edge(s), hops 0..={}",
        v.direction,
        v.root,
        v.txs.len(),
        v.edges.len(),
        v.hops
    )?;
    if v.min_value_sat > 0 {
        write!(out, ", edges of at least {} BTC", btc(v.min_value_sat))?;
    }
    writeln!(out)?;
    if v.truncated {
        writeln!(out, "TRUNCATED at {} txs: some txs within {} hops are missing", v.max_txs, v.hops)?;
    }
    writeln!(out)?;
    let mut t = Table::new(&[("HOP", true), ("TXID", false), ("HEIGHT", true), ("NOTE", false)]);
    for n in &v.txs {
        let note = if n.stopped { "stop address: not expanded" } else { "" };
        t.row(vec![n.hop.to_string(), n.txid.clone(), n.height.to_string(), note.into()]);
    }
    t.write(out)?;
    if !v.edges.is_empty() {
        writeln!(out)?;
        edges(out, &v.edges)?;
    }
    Ok(())
}

fn path(out: &mut String, v: &PathView) -> fmt::Result {
    match v.hops {
        Some(hops) => writeln!(out, "Path from {} to {}: {} tx(s), {hops} hop(s)", v.from, v.to, v.txs.len())?,
        None if v.truncated => writeln!(
            out,
            "No path found from {} to {}: the search gave up after visiting {} txs (TRUNCATED)",
            v.from, v.to, v.visited_txs
        )?,
        None => writeln!(
            out,
            "No path from {} to {} within {} hops ({} txs visited)",
            v.from, v.to, v.max_hops, v.visited_txs
        )?,
    }
    if v.nodes.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    let mut t = Table::new(&[("STEP", true), ("TXID", false), ("HEIGHT", true)]);
    for n in &v.nodes {
        t.row(vec![n.hop.to_string(), n.txid.clone(), n.height.to_string()]);
    }
    t.write(out)?;
    if !v.edges.is_empty() {
        writeln!(out)?;
        edges(out, &v.edges)?;
    }
    Ok(())
}
