//! Tables for people: a few header lines, then aligned columns; amounts in BTC with 8 decimals,
//! txids cut to their first 16 digits and block times in UTC. Unless `--full` is given a table
//! keeps within [`WIDTH`] columns, cutting its long names to fit.

use std::fmt::{self, Write};

use indexer::heuristics::ScriptType;

use super::{cluster, pad, table_flow, Style};
use crate::chain::tagged_name;
use crate::model::{btc, AddressView, Body, ReportView, TagView, TxView};

/// The widest line of a table unless `--full` is given.
pub(super) const WIDTH: usize = 120;
/// A column cut to fit is never made narrower than this.
const MIN_FIT: usize = 16;

/// Columns aligned on the widest cell; numbers right-aligned.
pub(super) struct Table {
    header: Vec<&'static str>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
    /// Columns whose cells are cut (the widest first) when the table is wider than `limit`.
    fit: Vec<usize>,
    limit: Option<usize>,
}

impl Table {
    /// Columns as (title, right-aligned).
    pub(super) fn new(columns: &[(&'static str, bool)]) -> Self {
        Table {
            header: columns.iter().map(|c| c.0).collect(),
            right: columns.iter().map(|c| c.1).collect(),
            rows: Vec::new(),
            fit: Vec::new(),
            limit: None,
        }
    }

    /// Cuts the cells of `columns` when the table is wider than [`WIDTH`] (never with `--full`).
    pub(super) fn fit(&mut self, columns: &[usize], style: &Style) {
        self.fit = columns.to_vec();
        self.limit = (!style.full_txids).then_some(WIDTH);
    }

    pub(super) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The width of each column, the fitted ones narrowed until the table is within its limit.
    fn widths(&self) -> Vec<usize> {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        if let Some(limit) = self.limit {
            let total = widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1);
            let mut excess = total.saturating_sub(limit);
            while excess > 0 {
                match self.fit.iter().copied().filter(|&c| c < widths.len()).max_by_key(|&c| widths[c]) {
                    Some(widest) if widths[widest] > MIN_FIT => widths[widest] -= 1,
                    _ => break,
                }
                excess -= 1;
            }
        }
        widths
    }

    pub(super) fn write(&self, out: &mut String) -> fmt::Result {
        let widths = self.widths();
        let header: Vec<String> = self.header.iter().map(|h| h.to_string()).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate().take(widths.len()) {
                let cell = if self.fit.contains(&i) { cut(cell, widths[i]) } else { cell.clone() };
                let gap = widths[i].saturating_sub(cell.chars().count());
                if i > 0 {
                    line.push_str("  ");
                }
                if self.right[i] {
                    pad(&mut line, gap)?;
                    line.push_str(&cell);
                } else {
                    line.push_str(&cell);
                    pad(&mut line, gap)?;
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// `text` in at most `width` characters. A tagged name, `label (address)`, loses the end of its
/// label first and then the middle of its address; anything else loses its middle, so both ends
/// of an address stay readable.
pub(super) fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    match split_label(text) {
        Some((label, name)) if width >= 24 => {
            let label_min = label.chars().count().min(12);
            let name_room = name.chars().count().min(width - 3 - label_min);
            format!("{} ({})", cut_end(label, width - 3 - name_room), cut_middle(name, name_room))
        }
        _ => cut_middle(text, width),
    }
}

/// A tagged name's label and address: `Binance (bc1q…)` gives `Binance` and `bc1q…`.
fn split_label(text: &str) -> Option<(&str, &str)> {
    let inner = text.strip_suffix(')')?;
    let open = inner.rfind(" (")?;
    let name = &inner[open + 2..];
    (open > 0 && !name.is_empty() && !name.contains([' ', '(', ')'])).then(|| (&inner[..open], name))
}

/// The first `width - 1` characters of `text` and `…`.
fn cut_end(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut short: String = text.chars().take(width.saturating_sub(1)).collect();
    short.push('…');
    short
}

/// The first and last characters of `text` around `…`, `width` in all.
fn cut_middle(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        return text.to_string();
    }
    if width < 3 {
        return text.chars().take(width).collect();
    }
    let head = width / 2;
    let tail = width - 1 - head;
    let mut short: String = text.chars().take(head).collect();
    short.push('…');
    short.extend(text.chars().skip(count - tail));
    short
}

/// A txid as tables print it: its first 16 digits and `…`, or whole with `--full`.
pub(super) fn txid(txid: &str, style: &Style) -> String {
    match txid.get(..16) {
        Some(head) if !style.full_txids && txid.len() > 16 => format!("{head}…"),
        _ => txid.to_string(),
    }
}

/// An output or input, `txid:index`, with the txid as [`txid`] prints it.
pub(super) fn point(id: &str, index: u32, style: &Style) -> String {
    format!("{}:{index}", txid(id, style))
}

/// A block time (ISO 8601, UTC) to the minute: `2024-01-31 12:00`.
pub(super) fn when(iso: &str) -> String {
    match (iso.get(..10), iso.get(11..16)) {
        (Some(day), Some(minute)) if iso.as_bytes().get(10) == Some(&b'T') => format!("{day} {minute}"),
        _ => iso.to_string(),
    }
}

/// A height and its block's time for a header line: `height 812345, 2024-01-31 12:00 UTC`.
pub(super) fn height_at(height: Option<u32>, time: Option<&str>, none: &str) -> String {
    match (height, time) {
        (Some(h), Some(t)) => format!("height {h}, {} UTC", when(t)),
        (Some(h), None) => format!("height {h}"),
        (None, _) => none.to_string(),
    }
}

/// `n` and the noun, singular or plural: `1 tx`, `37 txs`.
pub(super) fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Writes `pieces` joined by spaces, starting a new (indented) line before a piece that would
/// pass [`WIDTH`].
pub(super) fn wrap(out: &mut String, pieces: &[String]) -> fmt::Result {
    let mut line = String::new();
    for piece in pieces {
        if line.is_empty() {
            line.push_str(piece);
        } else if line.chars().count() + 1 + piece.chars().count() > WIDTH {
            writeln!(out, "{line}")?;
            line = format!("  {piece}");
        } else {
            line.push(' ');
            line.push_str(piece);
        }
    }
    writeln!(out, "{line}")
}

/// Label/value lines with the values aligned.
pub(super) fn fields(out: &mut String, lines: &[(&str, String)]) -> fmt::Result {
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, value) in lines {
        writeln!(out, "{key:width$}  {value}")?;
    }
    Ok(())
}

pub fn write(out: &mut String, body: &Body, style: &Style) -> fmt::Result {
    match body {
        Body::Tx(v) => tx(out, v, style),
        Body::Address(v) => address(out, v, style),
        Body::Trace(v) => table_flow::trace(out, v, style),
        Body::Path(v) => table_flow::path(out, v, style),
        Body::Cluster(v) => cluster::members(out, v, style),
        Body::Why(v) => cluster::why(out, v, style),
        Body::Clusters(v) => cluster::largest(out, v),
        Body::Exposure(v) => super::exposure::table(out, v),
        Body::Taint(v) => super::taint::table(out, v, style),
        Body::TagImport(v) => super::tags::import(out, v),
        Body::AddressTags(v) => super::tags::address(out, v),
        Body::TagList(v) => super::tags::list(out, v, style),
        Body::TagRemove(v) => super::tags::remove(out, v),
        Body::Verify(v) => super::verify::table(out, v),
        Body::Key(v) => super::verify::key(out, v),
        Body::Report(v) => report(out, v),
    }
}

/// Where `query report` wrote the case file.
fn report(out: &mut String, v: &ReportView) -> fmt::Result {
    fields(
        out,
        &[
            ("Report", v.report.clone()),
            ("HTML", v.html.clone()),
            ("Hops", v.hops.to_string()),
            ("Tip", format!("height {}, block {}", v.tip.height, v.tip.hash)),
            ("Digest", v.digest.clone()),
        ],
    )
}

fn tx(out: &mut String, v: &TxView, style: &Style) -> fmt::Result {
    let kind = if v.coinbase { ", coinbase" } else { "" };
    let mut lines = vec![
        ("Transaction", v.txid.clone()),
        ("Block", format!("{} (position {}{kind})", height_at(Some(v.height), Some(&v.time), ""), v.position)),
        ("Block hash", v.block_hash.clone()),
        ("Inputs", format!("{} BTC", btc(v.input_sat))),
        ("Outputs", format!("{} BTC", btc(v.output_sat))),
        ("Fee", v.fee_sat.map(|f| format!("{} BTC", btc(f))).unwrap_or_else(|| "none (coinbase)".into())),
        ("CoinJoin", coinjoin(v)),
        ("Change", change(v)),
    ];
    if !v.tags.is_empty() {
        lines.insert(1, ("Tags", tags_line(&v.tags, style)));
    }
    if !v.duplicate_heights.is_empty() {
        let heights: Vec<String> = v.duplicate_heights.iter().map(u32::to_string).collect();
        lines.push((
            "Duplicates",
            format!("the same txid again at height(s) {} (this is the first)", heights.join(", ")),
        ));
    }
    fields(out, &lines)?;
    writeln!(out)?;
    if v.coinbase {
        writeln!(out, "Inputs: coinbase (new coins)")?;
    } else {
        let mut t = Table::new(&[("VIN", true), ("PREVIOUS OUTPUT", false), ("VALUE (BTC)", true), ("ADDRESS", false)]);
        t.fit(&[3], style);
        for i in &v.inputs {
            let owner = i.address.clone().unwrap_or_else(|| format!("script:{}", i.script_hex));
            let owner = tagged_name(&owner, &i.tags);
            t.row(vec![i.vin.to_string(), point(&i.prev_txid, i.prev_vout, style), btc(i.value_sat), owner]);
        }
        t.write(out)?;
    }
    writeln!(out)?;
    outputs(out, v, style)
}

fn outputs(out: &mut String, v: &TxView, style: &Style) -> fmt::Result {
    let mut t = Table::new(&[
        ("VOUT", true),
        ("VALUE (BTC)", true),
        ("ADDRESS", false),
        ("SPENT BY (TXID:VIN)", false),
        ("SPENT (UTC)", false),
    ]);
    t.fit(&[2], style);
    for o in &v.outputs {
        let unspendable = o.address.is_none() && o.script_hex.starts_with("6a");
        let owner = match &o.address {
            Some(a) => a.clone(),
            None if unspendable => "op_return".into(),
            None => format!("script:{}", o.script_hex),
        };
        let owner = tagged_name(&owner, &o.tags);
        let (spent, at) = match &o.spent_by {
            Some(s) => (point(&s.txid, s.vin, style), when(&s.time)),
            None if unspendable => ("unspendable".into(), String::new()),
            None => ("unspent".into(), String::new()),
        };
        t.row(vec![o.vout.to_string(), btc(o.value_sat), owner, spent, at]);
    }
    t.write(out)
}

/// Tags for a header line: all of them with `--full`, else as many as fit in a table's width.
pub(super) fn tags_line(tags: &[TagView], style: &Style) -> String {
    let all = tag_list(tags);
    if style.full_txids {
        all
    } else {
        cut_end(&all, WIDTH - 14)
    }
}

/// Tags on one line: `label (category, confidence; pack)`, best first.
fn tag_list(tags: &[TagView]) -> String {
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

fn address(out: &mut String, v: &AddressView, style: &Style) -> fmt::Result {
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
        ("First seen", height_at(v.first_seen_height, v.first_seen_time.as_deref(), "never")),
        ("Last seen", height_at(v.last_seen_height, v.last_seen_time.as_deref(), "never")),
        ("Cluster", cluster),
    ];
    if !v.tags.is_empty() {
        lines.insert(1, ("Tags", tags_line(&v.tags, style)));
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
        t.fit(&[1], style);
        for k in &v.key_scripts {
            let owner = k.address.clone().unwrap_or_else(|| format!("script:{}", k.script_hex));
            t.row(vec![k.script_type.into(), owner, btc(k.balance_sat), btc(k.received_sat)]);
        }
        t.write(out)?;
    }
    writeln!(out)?;
    utxos(out, v, style)?;
    writeln!(out)?;
    history(out, v, style)
}

fn utxos(out: &mut String, v: &AddressView, style: &Style) -> fmt::Result {
    let keyed = !v.key_scripts.is_empty();
    let shown = if v.utxos_truncated {
        format!(" (first {} shown; --max-utxos N for more)", v.utxos.len())
    } else {
        String::new()
    };
    writeln!(out, "Unspent outputs: {}{shown}", v.key_utxo_count)?;
    if v.utxos.is_empty() {
        return Ok(());
    }
    let mut columns = vec![("OUTPOINT", false), ("VALUE (BTC)", true), ("HEIGHT", true), ("TIME (UTC)", false)];
    columns.extend(keyed.then_some(("SCRIPT", false)));
    let mut t = Table::new(&columns);
    for u in &v.utxos {
        let mut row = vec![point(&u.txid, u.vout, style), btc(u.value_sat), u.height.to_string(), when(&u.time)];
        row.extend(keyed.then(|| script_type(&u.script).to_string()));
        t.row(row);
    }
    t.write(out)
}

fn history(out: &mut String, v: &AddressView, style: &Style) -> fmt::Result {
    let keyed = !v.key_scripts.is_empty();
    let range = match (v.history_from_height, v.history_to_height) {
        (None, None) => String::new(),
        (from, to) => {
            let from = from.map(|h| h.to_string()).unwrap_or_default();
            let to = to.map(|h| format!("={h}")).unwrap_or_default();
            format!(" (heights {from}..{to})")
        }
    };
    writeln!(out, "History{range}: {} event(s) on this page", v.history.len())?;
    if !v.history.is_empty() {
        let mut columns = vec![
            ("HEIGHT", true),
            ("TIME (UTC)", false),
            ("TXID", false),
            ("KIND", false),
            ("INDEX", true),
            ("VALUE (BTC)", true),
        ];
        columns.extend(keyed.then_some(("SCRIPT", false)));
        let mut t = Table::new(&columns);
        for h in &v.history {
            let mut row = vec![
                h.height.to_string(),
                when(&h.time),
                txid(&h.txid, style),
                h.kind.to_string(),
                h.index.to_string(),
                btc(h.value_sat),
            ];
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
