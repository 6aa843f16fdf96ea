//! The parts of `report.html` that depend on the command: the question and the key numbers, the
//! tables of where the money went (a trace's destinations, a path's end, an exposure's entities
//! and tagged outputs), and the tables of record: every hop and every tag used.

use std::collections::BTreeMap;
use std::fmt::{self, Write};

use super::html::{btc_cell, esc, share, short_txid, table_head, who, Page};
use crate::model::{btc, Body, DestinationView, ExposureView, PathView, TagView, TraceView};

/// The question the answer is to, and one line saying exactly what was asked.
pub fn question(body: &Body) -> (&'static str, String) {
    match body {
        Body::Trace(t) => {
            let q =
                if t.direction == "backward" { "Where did the money come from?" } else { "Where did the money go?" };
            let mut asked = format!("Trace {} from {}, up to {} hops", t.direction, t.root, t.hops);
            if t.min_value_sat > 0 {
                asked.push_str(&format!(", edges of at least {} BTC", btc(t.min_value_sat)));
            }
            match (t.follow, t.top) {
                (_, Some(n)) => asked.push_str(&format!(", following the {n} largest of each tx")),
                ("largest", _) => asked.push_str(", following the largest of each tx"),
                _ => {}
            }
            asked.push_str(&format!(", at most {} txs.", t.max_txs));
            (q, asked)
        }
        Body::Path(p) => (
            "How did the money get from one to the other?",
            format!("Shortest path from {} to {}, up to {} hops.", p.from, p.to, p.max_hops),
        ),
        Body::Exposure(e) => {
            let q = if e.direction == "in" {
                "How much of what it received came from tagged entities?"
            } else {
                "How much of what it sent reached tagged entities?"
            };
            (q, format!("Exposure {} of {}, up to {} hops, at most {} txs.", e.direction, e.target, e.hops, e.max_txs))
        }
        Body::Taint(t) => super::taint::question(t),
        other => ("Case report", format!("query {}", other.command())),
    }
}

/// The key numbers, as cards, and what they add up from.
pub fn summary(out: &mut String, p: &Page) -> fmt::Result {
    writeln!(out, "<section id=\"summary\">")?;
    match p.body {
        Body::Trace(t) => trace_summary(out, p, t)?,
        Body::Path(v) => path_summary(out, v)?,
        Body::Exposure(e) => exposure_summary(out, e)?,
        Body::Taint(t) => super::taint::summary(out, t, card)?,
        _ => {}
    }
    writeln!(out, "</section>")
}

/// For an exchange or a court: the deposits at each tagged entity and the holders at the tip,
/// with the taint under every model.
pub fn requests(out: &mut String, p: &Page) -> fmt::Result {
    let Some(r) = &p.case.requests else { return Ok(()) };
    let tip = p.case.tip.height;
    writeln!(out, "<section id=\"requests\">\n<h2>For a freeze or disclosure request</h2>")?;
    writeln!(
        out,
        "<p>Taint from <code>{}</code> ({} BTC), up to {} hops, under all four models \
         (<code>{}</code>); also in <code>requests.csv</code>. A deposit is an output paying a tagged \
         entity where the taint reached it from outside that entity, counted as exposure counts. \
         State as of block {tip} ({}).</p>",
        esc(&r.asked.target),
        btc(r.source_sat),
        r.asked.hops,
        esc(&super::html::command_text(&r.command)),
        esc(&p.date(tip))
    )?;
    let models = [("Poison", true), ("Haircut", true), ("FIFO", true), ("LIFO", true)];
    let cells = |m: &crate::model::ByModel| {
        [m.poison, m.haircut, m.fifo, m.lifo].iter().map(|v| btc_cell(*v)).collect::<String>()
    };
    writeln!(out, "<h3>Deposits at tagged entities</h3>")?;
    if r.deposits.is_empty() {
        writeln!(out, "<p class=\"muted\">None: the taint reached no tagged entity within {} hops.</p>", r.asked.hops)?;
    } else {
        let mut columns = vec![
            ("Entity", false),
            ("Address", false),
            ("Output (txid:vout)", false),
            ("Time (UTC)", false),
            ("Amount (BTC)", true),
        ];
        columns.extend(models);
        columns.push(("At the tip", false));
        table_head(out, &columns)?;
        for d in &r.deposits {
            let state = if d.spent { "moved on by the entity" } else { "unspent" };
            writeln!(
                out,
                "<tr><td><span class=\"tag\">{}</span> <span class=\"muted\">{}</span></td><td class=\"id\"><code>{}</code></td>\
                 <td class=\"id\"><code>{}:{}</code></td><td class=\"small\">{}</td>{}{}<td>{}</td></tr>",
                esc(&d.entity),
                esc(&d.category),
                esc(d.address.as_deref().unwrap_or("-")),
                esc(&d.txid),
                d.vout,
                esc(&super::html::when(&d.time)),
                btc_cell(d.value_sat),
                cells(&d.tainted_sat),
                state
            )?;
        }
        writeln!(out, "</table>")?;
    }
    writeln!(out, "<h3>Where the taint sits at the tip: {} unspent outputs</h3>", r.holders.len())?;
    if !r.holders.is_empty() {
        let mut columns =
            vec![("Address", false), ("Output (txid:vout)", false), ("Hop", true), ("Amount (BTC)", true)];
        columns.extend(models);
        table_head(out, &columns)?;
        for h in r.holders.iter().take(super::requests::PAGE_HOLDERS) {
            let who = match &h.entity {
                Some(e) => format!(
                    "<span class=\"tag\">{}</span> <code>{}</code>",
                    esc(e),
                    esc(h.address.as_deref().unwrap_or("-"))
                ),
                None => format!("<code>{}</code>", esc(h.address.as_deref().unwrap_or("-"))),
            };
            writeln!(
                out,
                "<tr><td class=\"id\">{who}</td><td class=\"id\"><code>{}:{}</code></td><td class=\"num\">{}</td>{}{}</tr>",
                esc(&h.txid),
                h.vout,
                h.hop,
                btc_cell(h.value_sat),
                cells(&h.tainted_sat)
            )?;
        }
        writeln!(out, "</table>")?;
        if r.holders.len() > super::requests::PAGE_HOLDERS {
            writeln!(
                out,
                "<p class=\"muted\">The {} largest by haircut taint; all {} are in report.json and requests.csv.</p>",
                super::requests::PAGE_HOLDERS,
                r.holders.len()
            )?;
        }
    }
    if !r.diverging.is_empty() {
        writeln!(
            out,
            "<p>The models part where outside value joins the taint, at {} transaction(s): {}.</p>",
            r.diverging.len(),
            r.diverging.iter().take(20).map(|t| format!("<code>{}</code>", esc(t))).collect::<Vec<_>>().join(", ")
        )?;
    }
    writeln!(out, "</section>")
}

fn card(out: &mut String, value: &str, what: &str, warn: bool) -> fmt::Result {
    let class = if warn { "card warn" } else { "card" };
    writeln!(
        out,
        "<div class=\"{class}\"><div class=\"n\">{}</div><div class=\"k\">{}</div></div>",
        esc(value),
        esc(what)
    )
}

fn trace_summary(out: &mut String, p: &Page, t: &TraceView) -> fmt::Result {
    let backward = t.direction == "backward";
    writeln!(out, "<div class=\"cards\">")?;
    let source = if backward { "traced back (source)" } else { "traced (source)" };
    card(out, &format!("{} BTC", btc(t.source_sat)), source, false)?;
    card(out, &t.txs.len().to_string(), &format!("transactions, hops 0–{} reached", t.hops_reached), false)?;
    let ends = if backward { "origins: where branches end" } else { "destinations: where branches end" };
    card(out, &t.destinations.len().to_string(), ends, false)?;
    if !backward {
        card(out, &format!("{} BTC", btc(t.fees_sat)), "paid in fees on the way", false)?;
    }
    card(out, &p.case.tags_used.len().to_string(), "tagged addresses on the way", false)?;
    if t.truncated {
        card(out, "truncated", &format!("stopped at --max-txs {}", t.max_txs), true)?;
    }
    writeln!(out, "</div>")
}

/// Where a trace ended by state, and the tagged addresses it passed through or ended at.
fn trace_ends(out: &mut String, p: &Page, t: &TraceView) -> fmt::Result {
    let backward = t.direction == "backward";
    writeln!(out, "<section id=\"ends\">\n<div class=\"split\">\n<div>")?;
    writeln!(out, "<h2>Where it {}, by why each branch ends</h2>", if backward { "came from" } else { "ended" })?;
    by_state(out, t)?;
    writeln!(out, "</div>\n<div>\n<h2>Tagged addresses</h2>")?;
    if p.case.requests.is_some() {
        writeln!(
            out,
            "<p class=\"muted\">Gross figures: an output the trace passed through counts whole, and an entity's own \
             moves count again. The figure per entity, at first arrival, is under \
             <a href=\"#requests\">For a freeze or disclosure request</a>.</p>"
        )?;
    }
    let tagged = tagged_rows(p, t);
    if tagged.is_empty() {
        writeln!(
            out,
            "<p class=\"muted\">None of the addresses in this trace has a tag (query tags import adds them).</p>"
        )?;
    } else {
        let columns = [("Entity", false), ("Address", false), ("Where", false), ("Value (BTC)", true), ("Share", true)];
        table_head(out, &columns)?;
        for ((address, role), (tag, value)) in &tagged {
            let category = tag
                .category
                .as_deref()
                .map(|c| format!(" <span class=\"muted\">{}</span>", esc(c)))
                .unwrap_or_default();
            writeln!(
                out,
                "<tr><td><span class=\"tag\">{}</span>{category}</td><td class=\"id\"><code>{}</code></td>\
                 <td>{}</td>{}<td class=\"num\">{}</td></tr>",
                esc(&tag.label),
                esc(address),
                esc(role),
                btc_cell(*value),
                share(*value, t.source_sat)
            )?;
        }
        writeln!(out, "</table>")?;
    }
    writeln!(out, "</div>\n</div>\n</section>")
}

/// The tagged addresses of a trace, by address and role (the money passed through it, or a
/// branch ends there): the best tag and the value (paid through it, or traced to it).
fn tagged_rows(p: &Page, t: &TraceView) -> BTreeMap<(String, String), (TagView, u64)> {
    let mut rows: BTreeMap<(String, String), (TagView, u64)> = BTreeMap::new();
    let places =
        t.edges.iter().map(|e| (e.address.as_deref(), "passed through (whole output)".to_string(), e.value_sat));
    let ends = t.destinations.iter().map(|d| {
        let role = format!("ends here: {}", d.state.replace('_', " "));
        (d.address.as_deref(), role, d.traced_sat.unwrap_or(d.value_sat))
    });
    for (address, role, value) in places.chain(ends) {
        let Some(address) = address else { continue };
        if let Some(tag) = p.tags_of(Some(address)).into_iter().next() {
            rows.entry((address.to_string(), role)).or_insert((tag, 0)).1 += value;
        }
    }
    rows
}

/// A trace's destinations grouped by state, largest traced value first, with the fees and the
/// total, which add up to the source.
fn by_state(out: &mut String, t: &TraceView) -> fmt::Result {
    let mut states: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
    for d in &t.destinations {
        let entry = states.entry(d.state).or_default();
        entry.0 += 1;
        entry.1 += d.traced_sat.unwrap_or(0);
    }
    let mut rows: Vec<(&str, (usize, u64))> = states.into_iter().collect();
    rows.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then(a.0.cmp(b.0)));
    table_head(out, &[("State", false), ("Count", true), ("Traced (BTC)", true), ("Share", true)])?;
    for (state, (count, traced)) in &rows {
        writeln!(
            out,
            "<tr><td>{}</td><td class=\"num\">{count}</td>{}<td class=\"num\">{}</td></tr>",
            state_badge(state),
            btc_cell(*traced),
            share(*traced, t.source_sat)
        )?;
    }
    if t.fees_sat > 0 {
        writeln!(
            out,
            "<tr><td>fees</td><td></td>{}<td class=\"num\">{}</td></tr>",
            btc_cell(t.fees_sat),
            share(t.fees_sat, t.source_sat)
        )?;
    }
    writeln!(
        out,
        "<tr class=\"total\"><td>total</td><td class=\"num\">{}</td>{}<td class=\"num\">{}</td></tr>",
        t.destinations.len(),
        btc_cell(t.source_sat),
        share(t.source_sat, t.source_sat)
    )?;
    writeln!(out, "</table>")
}

fn state_badge(state: &str) -> String {
    format!("<span class=\"state {}\">{}</span>", esc(state), esc(&state.replace('_', " ")))
}

fn path_summary(out: &mut String, v: &PathView) -> fmt::Result {
    writeln!(out, "<div class=\"cards\">")?;
    match v.hops {
        Some(h) => card(out, &h.to_string(), "hops (spend edges) on the path", false)?,
        None => card(out, "not found", &format!("within {} hops", v.max_hops), true)?,
    }
    card(out, &v.txs.len().to_string(), "transactions on the path", false)?;
    let reached: u64 = v.destinations.iter().map(|d| d.value_sat).sum();
    card(out, &format!("{} BTC", btc(reached)), &format!("paid to {} by the last tx", v.to), false)?;
    card(out, &v.visited_txs.to_string(), "transactions searched", v.truncated)?;
    writeln!(out, "</div>")
}

fn exposure_summary(out: &mut String, e: &ExposureView) -> fmt::Result {
    let sum = |list: &[crate::model::CategoryExposure]| list.iter().map(|c| c.value_sat).sum::<u64>();
    let (direct, indirect) = (sum(&e.direct), sum(&e.indirect));
    let verb = if e.direction == "in" { "received" } else { "sent" };
    writeln!(out, "<div class=\"cards\">")?;
    card(out, &format!("{} BTC", btc(e.total_sat)), &format!("{verb} (total)"), false)?;
    card(out, &format!("{} BTC", btc(direct)), &format!("direct, {}", share(direct, e.total_sat)), false)?;
    card(out, &format!("{} BTC", btc(indirect)), &format!("indirect, {}", share(indirect, e.total_sat)), false)?;
    card(
        out,
        &format!("{} BTC", btc(e.unattributed_sat)),
        &format!("unattributed, {}", share(e.unattributed_sat, e.total_sat)),
        false,
    )?;
    if e.direction == "out" {
        card(out, &format!("{} BTC", btc(e.fees_sat)), "paid in fees on the way", false)?;
    }
    if e.truncated {
        card(out, "truncated", &format!("stopped at --max-txs {}", e.max_txs), true)?;
    }
    writeln!(out, "</div>")
}

/// What the picture section is called.
pub fn picture_title(body: &Body) -> &'static str {
    match body {
        Body::Exposure(_) => "Entities reached",
        _ => "The flow",
    }
}

/// How to read the picture.
pub fn picture_caption(body: &Body) -> &'static str {
    match body {
        Body::Exposure(_) => {
            "The target on the left, the tagged entities on the right (dashed: reached through untagged \
             addresses), and what stayed unattributed; arrows grow with the value. The outputs where \
             value was attributed are in the table below."
        }
        _ => {
            "Transactions are boxes (short txid, time, height, hop), left to right by hop; where each \
             branch ends is an oval per address, coloured by why it ends. Arrows carry the value and the \
             address paid, and grow with the value. Tagged addresses are led by their label."
        }
    }
}

/// The tables of where the money went.
pub fn details(out: &mut String, p: &Page) -> fmt::Result {
    match p.body {
        Body::Trace(t) => {
            trace_ends(out, p, t)?;
            let title = if t.direction == "backward" { "Origins" } else { "Destinations" };
            writeln!(out, "<section id=\"destinations\">\n<h2>{title}: where every branch ends, largest first</h2>")?;
            destinations(out, p, &t.destinations, Some(t.source_sat))?;
            joins(out, &t.joins, "the traced value is diluted there")?;
        }
        Body::Path(v) => {
            writeln!(
                out,
                "<section id=\"destinations\">\n<h2>Outputs of the last transaction reaching {}</h2>",
                esc(&v.to)
            )?;
            destinations(out, p, &v.destinations, None)?;
        }
        Body::Exposure(e) => {
            writeln!(out, "<section id=\"attributions\">")?;
            super::exposure::tables(out, e)?;
        }
        Body::Taint(t) => {
            writeln!(out, "<section id=\"tainted\">")?;
            super::taint::tables(out, t)?;
            joins(out, &t.joins, "the taint models part there and only there")?;
        }
        _ => return Ok(()),
    }
    writeln!(out, "</section>")
}

/// Where value from outside the followed flow joins it: each tx, what the flow brings in, what
/// joins, and the inputs that bring it.
fn joins(out: &mut String, joins: &[crate::model::JoinView], why: &str) -> fmt::Result {
    if joins.is_empty() {
        return Ok(());
    }
    writeln!(out, "<h2 id=\"joins\">Where outside value joins the flow ({} transactions; {why})</h2>", joins.len())?;
    let columns = [
        ("Transaction", false),
        ("Hop", true),
        ("Time (UTC)", false),
        ("Followed in (BTC)", true),
        ("Joining (BTC)", true),
        ("Joining inputs: the outputs they spend", false),
    ];
    table_head(out, &columns)?;
    for j in joins {
        let inputs: Vec<String> = j
            .inputs
            .iter()
            .map(|i| format!("<code>{}:{}</code> {} BTC", esc(&i.txid), i.vout, btc(i.value_sat)))
            .collect();
        writeln!(
            out,
            "<tr><td class=\"id\"><code>{}</code></td><td class=\"num\">{}</td><td class=\"small\">{}</td>{}{}<td class=\"small\">{}</td></tr>",
            esc(&j.txid),
            j.hop,
            esc(&super::html::when(&j.time)),
            btc_cell(j.followed_in_sat),
            btc_cell(j.joined_sat),
            inputs.join("<br>")
        )?;
    }
    writeln!(out, "</table>")
}

fn destinations(out: &mut String, p: &Page, list: &[DestinationView], source: Option<u64>) -> fmt::Result {
    if list.is_empty() {
        return writeln!(out, "<p class=\"muted\">None.</p>");
    }
    let mut order: Vec<&DestinationView> = list.iter().collect();
    order.sort_by_key(|d| std::cmp::Reverse(d.traced_sat.unwrap_or(d.value_sat)));
    let mut columns = vec![("#", true), ("Output", false), ("Address", false), ("Value (BTC)", true)];
    if source.is_some() {
        columns.extend([("Traced (BTC)", true), ("Share", true)]);
    }
    columns.extend([("State", false), ("Hop", true), ("Block: height, time", false)]);
    table_head(out, &columns)?;
    for (i, d) in order.iter().enumerate() {
        let port = match (d.vout, d.vin) {
            (Some(vout), _) => format!("{}:{vout}", short_txid(&d.txid)),
            (None, Some(vin)) => format!("{} input {vin}", short_txid(&d.txid)),
            (None, None) => short_txid(&d.txid),
        };
        let tags = if d.tags.is_empty() { p.tags_of(d.address.as_deref()) } else { d.tags.clone() };
        let tags = tags.as_slice();
        let traced = match (source, d.traced_sat) {
            (Some(source), Some(t)) => format!("{}<td class=\"num\">{}</td>", btc_cell(t), share(t, source)),
            (Some(_), None) => "<td></td><td></td>".into(),
            _ => String::new(),
        };
        writeln!(
            out,
            "<tr><td class=\"num\">{}</td><td>{port}</td><td>{}</td>{}{traced}<td>{}</td><td class=\"num\">{}</td>\
             <td class=\"small\">{} &middot; {}</td></tr>",
            i + 1,
            who(d.address.as_deref(), &d.label, tags),
            btc_cell(d.value_sat),
            state_badge(d.state),
            d.hop,
            d.height,
            esc(&p.date(d.height))
        )?;
    }
    writeln!(out, "</table>")
}

/// Every output the answer rests on, with the whole txids and block hashes of the record.
pub fn hops(out: &mut String, p: &Page) -> fmt::Result {
    let hops = &p.case.hops;
    writeln!(out, "<section id=\"hops\">\n<h2>Hops: the {} outputs this answer rests on</h2>", hops.len())?;
    writeln!(
        out,
        "<p class=\"small muted\">As the index had them at the tip: each output with its value, address and \
         block, and the input that spent it where the answer follows the money through it. \
         <code>query verify</code> checks each against a node.</p>"
    )?;
    let columns = [
        ("#", true),
        ("Transaction : output", false),
        ("Value (BTC)", true),
        ("Address", false),
        ("Block", false),
        ("Spent by : input", false),
    ];
    table_head(out, &columns)?;
    for (i, h) in hops.iter().enumerate() {
        let output = match h.vout {
            Some(vout) => format!("<code>{}:{vout}</code>", esc(&h.txid)),
            None => format!("<code>{}</code> <span class=\"muted\">coinbase: newly mined coins</span>", esc(&h.txid)),
        };
        let value = h.value_sat.map(btc_cell).unwrap_or_else(|| "<td class=\"num\">-</td>".into());
        let address = match (&h.address, &h.script_hex) {
            (Some(a), _) => who(Some(a), "", &p.tags_of(Some(a))),
            (None, Some(script)) => {
                let name = crate::chain::script_label(&hex::decode(script).unwrap_or_default());
                who(None, &name, &p.tags_of(Some(&name)))
            }
            (None, None) => String::new(),
        };
        let spent = match &h.spent_by {
            Some(s) => format!(
                "<code>{}:{}</code><br><span class=\"small muted\">height {} &middot; {}</span>",
                esc(&s.txid),
                s.vin,
                s.block.height,
                esc(&p.date(s.block.height))
            ),
            None => String::new(),
        };
        writeln!(
            out,
            "<tr><td class=\"num\">{}</td><td class=\"id\">{output}</td>{value}<td>{address}</td>\
             <td class=\"id small\">height {} &middot; {}<br><code>{}</code></td><td class=\"id\">{spent}</td></tr>",
            i + 1,
            h.block.height,
            esc(&p.date(h.block.height)),
            esc(&h.block.hash)
        )?;
    }
    writeln!(out, "</table>\n</section>")
}

/// The tags of every tagged address the answer shows.
pub fn tags_used(out: &mut String, p: &Page) -> fmt::Result {
    writeln!(out, "<section id=\"tags\">\n<h2>Tags used</h2>")?;
    if p.case.tags_used.is_empty() {
        return writeln!(out, "<p class=\"muted\">None of the addresses in this answer has a tag.</p>\n</section>");
    }
    let columns = ["Address", "Label", "Category", "Source", "Confidence", "Pack"].map(|c| (c, false));
    table_head(out, &columns)?;
    for tagged in &p.case.tags_used {
        for tag in &tagged.tags {
            writeln!(
                out,
                "<tr><td class=\"id\"><code>{}</code></td><td><span class=\"tag\">{}</span></td><td>{}</td>\
                 <td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&tagged.address),
                esc(&tag.label),
                esc(tag.category.as_deref().unwrap_or("")),
                esc(&tag.source),
                esc(&tag.confidence),
                esc(&tag.pack)
            )?;
        }
    }
    writeln!(out, "</table>\n</section>")
}
