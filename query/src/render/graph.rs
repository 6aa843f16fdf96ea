//! Traces and paths as pictures: Graphviz `dot` text (which `--format svg` and `png` hand to
//! Graphviz) and GraphML (for Gephi).
//!
//! The dot picture comes in two kinds (`--draw`). `txs`: txs are boxes (short txid, UTC time,
//! height, hop, best tag) joined by the payments between them, and where each branch ends (the
//! trace's destinations) is an oval per address, styled by why it ends. `addresses`: addresses
//! are the boxes, one per address however often it appears, and txs are dots between them: an
//! input is an arrow address → dot, an output an arrow dot → address. Both kinds build one
//! [`picture::Picture`], which [`layout`] writes:
//!
//! - hops run left to right; more than [`layout::MAX_COLUMNS`] hops wrap into rows of at most
//!   that many columns, one dashed cluster per row, so a long peel chain stays about as wide as
//!   a page;
//! - arrows grow with the square root of their value, so the main flow stands out;
//! - the title says what was traced and how far, and a legend under it explains only the styles
//!   the picture uses;
//! - traces of more than [`cut::MAX_DRAWN_TXS`] txs, or more than [`cut::MAX_TXS_PER_HOP`] at one
//!   hop, keep that many, grown from the root along the largest traced value, and the title says
//!   how many were left out; a tx paying more than [`picture::MAX_OUTPUTS_PER_TX`] destinations
//!   shows its largest ones. A dashed box marks each place where something was left out;
//! - value from outside the traced flow joining a tx comes in as a dashed arrow from a dashed,
//!   amber box that gives its amount and the inputs bringing it.
//!
//! GraphML is data for other tools rather than a picture: it carries every tx (with its time)
//! and every spend edge, whatever `--draw` says and however big the trace; where the branches end
//! is in the json and csv formats.

mod cut;
mod graphml;
mod layout;
mod picture;
#[cfg(test)]
mod tests;

use std::fmt;

pub(super) use super::escape_markup as xml;
use crate::cli::Draw;
use crate::model::{btc, DestinationView, EdgeView, JoinView, PathView, TagView, TraceView, TxNode};

pub use graphml::graphml;

/// A trace or path, as the pictures see it.
pub struct Flow<'a> {
    /// `trace` or `path`: the graph's id.
    kind: &'static str,
    /// One line saying what the graph is.
    title: String,
    /// Money flows towards the root (a backward trace): hops grow against the arrows.
    backward: bool,
    nodes: &'a [TxNode],
    edges: &'a [EdgeView],
    destinations: &'a [DestinationView],
    /// Where outside value joins the flow (forward traces).
    joins: &'a [JoinView],
}

impl<'a> Flow<'a> {
    pub fn of_trace(t: &'a TraceView) -> Self {
        let truncated = if t.truncated { format!(", truncated at --max-txs {}", t.max_txs) } else { String::new() };
        let title = format!(
            "Trace {} from {}: {}, hops 0–{} reached (limit {}){truncated}",
            t.direction,
            t.root,
            count(t.txs.len(), "tx", "txs"),
            t.hops_reached,
            t.hops
        );
        Flow {
            kind: "trace",
            title,
            backward: t.direction == "backward",
            nodes: &t.txs,
            edges: &t.edges,
            destinations: &t.destinations,
            joins: &t.joins,
        }
    }

    pub fn of_path(p: &'a PathView) -> Self {
        let outcome = match p.hops {
            Some(h) => count(h as usize, "hop", "hops"),
            None if p.truncated => format!("not found (gave up after {} txs)", p.visited_txs),
            None => format!("not found within {} hops", p.max_hops),
        };
        Flow {
            kind: "path",
            title: format!("Path from {} to {}: {outcome}", p.from, p.to),
            backward: false,
            nodes: &p.nodes,
            edges: &p.edges,
            destinations: &p.destinations,
            joins: &[],
        }
    }
}

/// Writes the picture as Graphviz dot text.
pub fn dot(out: &mut String, g: &Flow, draw: Draw, one_row: bool) -> fmt::Result {
    let shown = cut::shown(g, cut::LIMITS);
    let picture = picture::build(g, &shown, draw);
    let mut title = vec![g.title.clone()];
    if shown.kept < g.nodes.len() {
        title.push(format!(
            "showing {} of {} txs: those carrying the largest traced value, at most {} per hop; use --format json or csv for all",
            shown.kept,
            g.nodes.len(),
            cut::MAX_TXS_PER_HOP
        ));
    }
    layout::write(out, g.kind, &title, &picture, g.backward, one_row)
}

/// `n` with its noun: `1 tx`, `3 txs`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A dot string literal; line breaks become dot's `\n`.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"))
}

/// A dot label of several lines.
fn lines(lines: &[String]) -> String {
    quoted(&lines.join("\n"))
}

/// The first 12 digits of a txid and an ellipsis.
fn short_txid(txid: &str) -> String {
    match txid.get(..12) {
        Some(head) if txid.len() > 12 => format!("{head}…"),
        _ => txid.to_string(),
    }
}

/// A long address or script cut in the middle: its start and end are what people compare.
fn short_address(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 22 {
        return s.to_string();
    }
    let head: String = chars[..12].iter().collect();
    let tail: String = chars[chars.len() - 6..].iter().collect();
    format!("{head}…{tail}")
}

/// An ISO 8601 block time (`2024-01-31T12:00:00Z`) as `2024-01-31 12:00 UTC`.
fn when(time: &str) -> String {
    match (time.get(..10), time.get(11..16)) {
        (Some(day), Some(clock)) if time.len() >= 16 => format!("{day} {clock} UTC"),
        _ => time.to_string(),
    }
}

/// BTC without trailing zeros: `1.5 BTC`, `0.00000007 BTC`.
fn btc_short(sats: u64) -> String {
    let text = btc(sats);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} BTC")
}

/// What an output is, in up to two lines: its best tag's label, then the address (shortened), or
/// the `label` (`op_return`, `script:<hex>`, `coinbase`) when it has none.
fn who(address: Option<&str>, tags: &[TagView], label: &str) -> Vec<String> {
    let mut out = Vec::with_capacity(2);
    if let Some(tag) = tags.first() {
        out.push(tag.label.clone());
    }
    out.push(short_address(address.unwrap_or(label)));
    out
}
