//! The taint parts of a case report: what was asked, the key numbers (how the source's value
//! splits into frontier and fees), and the table of tainted outputs, most taint first.

use std::fmt::{self, Write};

use super::html::{btc_cell, esc, share, short_txid, table_head, who};
use crate::model::{btc, TaintView};

/// The question and one line saying exactly what was asked.
pub fn question(t: &TaintView) -> (&'static str, String) {
    let asked = format!(
        "Taint from {} under the {} model, up to {} hops, at most {} txs, outputs of at least {} sat followed.",
        t.source.target, t.model, t.hops, t.max_txs, t.min_sat
    );
    ("How much of this value do later outputs carry?", asked)
}

/// The key numbers: the source, and where its taint sits.
pub fn summary(
    out: &mut String,
    t: &TaintView,
    card: impl Fn(&mut String, &str, &str, bool) -> fmt::Result,
) -> fmt::Result {
    let source = t.source.tainted_sat;
    writeln!(out, "<div class=\"cards\">")?;
    card(out, &format!("{} BTC", btc(source)), &format!("tainted at the source ({})", t.model), false)?;
    card(out, &t.outputs.len().to_string(), "outputs carrying taint", false)?;
    card(
        out,
        &format!("{} BTC", btc(t.frontier_tainted_sat)),
        "in the frontier: unspent, or where the walk ended",
        false,
    )?;
    card(out, &format!("{} BTC", btc(t.fees_tainted_sat)), "paid as fees", false)?;
    let balanced = t.frontier_tainted_sat + t.fees_tainted_sat == source;
    let books = if balanced { "frontier + fees = source, to the satoshi" } else { "frontier + fees exceed the source" };
    card(out, if balanced { "balanced" } else { "grows" }, books, !balanced && t.model != "poison")?;
    if t.truncated {
        card(out, "truncated", &format!("stopped at --max-txs {}", t.max_txs), true)?;
    }
    writeln!(out, "</div>")?;
    if !t.by_category.is_empty() {
        writeln!(out, "<p>Reaching tagged addresses:")?;
        for c in &t.by_category {
            write!(out, " {} {} BTC ({});", esc(&c.category), btc(c.tainted_sat), share(c.tainted_sat, source))?;
        }
        writeln!(out, "</p>")?;
    }
    Ok(())
}

/// Every tainted output, most taint first.
pub fn tables(out: &mut String, t: &TaintView) -> fmt::Result {
    writeln!(out, "<h2>Tainted outputs, most taint first</h2>")?;
    if t.outputs.is_empty() {
        return writeln!(out, "<p class=\"muted\">None.</p>");
    }
    let mut order: Vec<_> = t.outputs.iter().collect();
    order.sort_by_key(|o| (std::cmp::Reverse(o.tainted_sat), o.hop));
    let columns = [
        ("#", true),
        ("Output", false),
        ("Address", false),
        ("Value (BTC)", true),
        ("Tainted (BTC)", true),
        ("Of the source", true),
        ("Spent", false),
        ("Hop", true),
        ("Block: height, time", false),
    ];
    table_head(out, &columns)?;
    for (i, o) in order.iter().enumerate() {
        writeln!(
            out,
            "<tr><td class=\"num\">{}</td><td>{}:{}</td><td>{}</td>{}{}<td class=\"num\">{}</td><td>{}</td>\
             <td class=\"num\">{}</td><td class=\"small\">{} &middot; {}</td></tr>",
            i + 1,
            short_txid(&o.txid),
            o.vout,
            who(o.address.as_deref(), &o.label, &o.tags),
            btc_cell(o.value_sat),
            btc_cell(o.tainted_sat),
            share(o.tainted_sat, t.source.tainted_sat),
            if o.spent { "yes" } else { "no" },
            o.hop,
            o.height,
            esc(&o.time),
        )?;
    }
    writeln!(out, "</table>")
}
