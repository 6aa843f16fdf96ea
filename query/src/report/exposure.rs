//! The exposure parts of a case report: its picture, as Graphviz dot text (the target on one
//! side, the entities its value reached or came from on the other, and what stayed
//! unattributed), and its tables (value by category and entity, and the tagged outputs where it
//! was attributed).

use std::fmt::{self, Write};

use super::html::{btc_cell, esc, share, short_txid, table_head, who};
use crate::model::{btc, CategoryExposure, ExposureView};

/// The border of tagged entities, as in the trace pictures.
const TAGGED: &str = "#7c3aed";

/// The picture of an exposure as dot text: one box for the target, one per entity (labelled
/// with its category, value and share), one for the unattributed value and one for the fees;
/// arrows grow with the value and point the way the money went.
pub fn dot(e: &ExposureView) -> String {
    let mut out = String::new();
    write_dot(&mut out, e).expect("writing into a String cannot fail");
    out
}

fn write_dot(out: &mut String, e: &ExposureView) -> fmt::Result {
    let inward = e.direction == "in";
    let title = format!(
        "Exposure {} of {}: {} BTC {}",
        e.direction,
        e.target,
        btc(e.total_sat),
        if inward { "received" } else { "sent" }
    );
    writeln!(out, "digraph exposure {{")?;
    writeln!(out, "  graph [rankdir=LR, labelloc=t, labeljust=l, fontname=\"Helvetica\", nodesep=0.2, ranksep=1.2];")?;
    writeln!(out, "  label={};", quoted(&title))?;
    writeln!(out, "  node [fontname=\"Helvetica\", fontsize=10];")?;
    writeln!(out, "  edge [fontname=\"Helvetica\", fontsize=9, color=\"#4b5563\", arrowsize=0.7];")?;
    let target = format!("{}\n{}\n{} BTC", if inward { "received by" } else { "sent by" }, e.target, btc(e.total_sat));
    let look = "shape=box, style=\"rounded,filled\", fillcolor=\"#dbeafe\", color=\"#1d4ed8\", penwidth=2";
    writeln!(out, "  target [label={}, {look}];", quoted(&target))?;
    let arrows = ends(out, e)?;
    let max = arrows.iter().map(|a| a.1).max().unwrap_or(0);
    for (id, value, dashed) in &arrows {
        let (from, to) = if inward { (id.as_str(), "target") } else { ("target", id.as_str()) };
        let width = if max == 0 { 1.0 } else { 1.0 + 5.0 * (*value as f64 / max as f64).sqrt() };
        let style = if *dashed { ", style=dashed" } else { "" };
        writeln!(
            out,
            "  {from} -> {to} [label={}, penwidth={width:.2}{style}];",
            quoted(&format!("{} BTC", btc(*value)))
        )?;
    }
    writeln!(out, "}}")
}

/// Writes a box per entity, then for the unattributed value and the fees (when not zero); gives
/// the arrow to each: (node id, value, dashed).
fn ends(out: &mut String, e: &ExposureView) -> Result<Vec<(String, u64, bool)>, fmt::Error> {
    let mut arrows: Vec<(String, u64, bool)> = Vec::new();
    let entities = e.direct.iter().map(|c| (c, false)).chain(e.indirect.iter().map(|c| (c, true)));
    for (c, indirect) in entities {
        for entity in &c.entities {
            let id = format!("entity{}", arrows.len() + 1);
            let reach = if indirect { "indirect" } else { "direct" };
            let value = format!("{} BTC ({})", btc(entity.value_sat), share(entity.value_sat, e.total_sat));
            let label = format!("{}\n{} · {reach}\n{value}", entity.label, c.category);
            let look = format!("shape=box, style=\"filled\", fillcolor=\"#f5f3ff\", color=\"{TAGGED}\", penwidth=2");
            writeln!(out, "  {id} [label={}, {look}];", quoted(&label))?;
            arrows.push((id, entity.value_sat, indirect));
        }
    }
    for (id, value, fill) in [("unattributed", e.unattributed_sat, "#f3f4f6"), ("fees", e.fees_sat, "#ffffff")] {
        if value > 0 {
            let label = format!("{id}\n{} BTC ({})", btc(value), share(value, e.total_sat));
            let look = format!("shape=box, style=\"filled,dashed\", fillcolor=\"{fill}\", color=\"#6b7280\"");
            writeln!(out, "  {id} [label={}, {look}];", quoted(&label))?;
            arrows.push((id.to_string(), value, false));
        }
    }
    Ok(arrows)
}

/// A dot string literal; line breaks become dot's `\n`.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"))
}

/// The value by category and entity, then the tagged outputs it was attributed at.
pub fn tables(out: &mut String, e: &ExposureView) -> fmt::Result {
    writeln!(out, "<h2>Entities, by category</h2>")?;
    if e.direct.is_empty() && e.indirect.is_empty() {
        writeln!(out, "<p class=\"muted\">None: no tagged entity was reached within {} hops.</p>", e.hops)?;
    } else {
        let columns =
            [("Category", false), ("Entity", false), ("Reached", false), ("Value (BTC)", true), ("Share", true)];
        table_head(out, &columns)?;
        categories(out, &e.direct, "direct", e.total_sat)?;
        categories(out, &e.indirect, "indirect", e.total_sat)?;
        writeln!(out, "</table>")?;
    }
    writeln!(out, "<h2>Tagged outputs where value was attributed, largest first</h2>")?;
    if e.attributions.is_empty() {
        return writeln!(out, "<p class=\"muted\">None.</p>");
    }
    let columns = [
        ("#", true),
        ("Output", false),
        ("Address", false),
        ("Entity", false),
        ("Attributed (BTC)", true),
        ("Share", true),
        ("Hop", true),
    ];
    table_head(out, &columns)?;
    for (i, a) in e.attributions.iter().enumerate() {
        writeln!(
            out,
            "<tr><td class=\"num\">{}</td><td>{}:{}</td><td>{}</td><td><span class=\"tag\">{}</span> {}</td>{}\
             <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            i + 1,
            short_txid(&a.txid),
            a.vout,
            who(a.address.as_deref(), "script", &[]),
            esc(&a.label),
            esc(&a.category),
            btc_cell(a.value_sat),
            share(a.value_sat, e.total_sat),
            a.hop
        )?;
    }
    writeln!(out, "</table>")
}

fn categories(out: &mut String, list: &[CategoryExposure], reach: &str, total: u64) -> fmt::Result {
    for c in list {
        for entity in &c.entities {
            writeln!(
                out,
                "<tr><td>{}</td><td><span class=\"tag\">{}</span></td><td>{reach}</td>{}<td class=\"num\">{}</td></tr>",
                esc(&c.category),
                esc(&entity.label),
                btc_cell(entity.value_sat),
                share(entity.value_sat, total)
            )?;
        }
    }
    Ok(())
}
