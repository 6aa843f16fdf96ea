//! Writes a [`Picture`] as dot text: styles, arrow widths, the title and legend, and the grid of
//! hops that keeps long chains within a page.
//!
//! The hops drawn are put in reading order (hop 0 first going forward; the farthest hop first
//! going backward, as the money flowed from there to the root). Up to [`MAX_COLUMNS`] of them
//! run left to right (`rankdir=LR`, the txs of one hop in one column); more are dealt into
//! `ceil(hops / MAX_COLUMNS)` rows of equal width, each a dashed `cluster_row<N>` stacked below
//! the one before. Arrows between rows (and any arrow pointing back to an earlier column) do not
//! constrain the columns (`constraint=false`), so each row starts again at the left.

use std::collections::{BTreeSet, HashMap};
use std::fmt::{self, Write};

use super::picture::{state_text, Look, Picture};
use super::{lines, quoted, xml};

/// The most hops drawn side by side before the picture wraps into rows.
pub const MAX_COLUMNS: usize = 6;

/// Legend entries on one line.
const LEGEND_ROW: usize = 4;

/// The border of tagged nodes.
const TAGGED: &str = "#7c3aed";

/// Where each hop goes.
struct Grid {
    /// The hops drawn, in reading order.
    order: Vec<u32>,
    cols: usize,
    rows: usize,
}

impl Grid {
    fn of(pic: &Picture, backward: bool, one_row: bool) -> Self {
        let hops: BTreeSet<u32> = pic.nodes.iter().filter(|n| n.column).map(|n| n.hop).collect();
        let mut order: Vec<u32> = hops.into_iter().collect();
        if backward {
            order.reverse();
        }
        let rows = if one_row { 1 } else { order.len().div_ceil(MAX_COLUMNS).max(1) };
        let cols = order.len().div_ceil(rows).max(1);
        Grid { order, cols, rows }
    }

    fn pos(&self, hop: u32) -> usize {
        self.order.iter().position(|&h| h == hop).unwrap_or(0)
    }

    fn row(&self, hop: u32) -> usize {
        self.pos(hop) / self.cols
    }

    /// The hops of a row, in reading order.
    fn hops(&self, row: usize) -> &[u32] {
        let start = (row * self.cols).min(self.order.len());
        &self.order[start..(start + self.cols).min(self.order.len())]
    }
}

/// `one_row`: every hop in one row, however many (for when Graphviz cannot lay the rows out).
pub fn write(
    out: &mut String,
    kind: &str,
    title: &[String],
    pic: &Picture,
    backward: bool,
    one_row: bool,
) -> fmt::Result {
    let grid = Grid::of(pic, backward, one_row);
    writeln!(out, "digraph {kind} {{")?;
    writeln!(out, "  graph [rankdir=LR, newrank=true, forcelabels=true, labelloc=t, labeljust=l, fontname=\"Helvetica\", nodesep=0.25, ranksep=0.5];")?;
    writeln!(out, "  label=<{}>;", heading(title, pic))?;
    writeln!(out, "  node [fontname=\"Helvetica\", fontsize=10];")?;
    writeln!(out, "  edge [fontname=\"Helvetica\", fontsize=9, color=\"#4b5563\", arrowsize=0.7];")?;
    for row in 0..grid.rows {
        let indent = if grid.rows > 1 {
            let hops = grid.hops(row);
            let (low, high) = (hops.iter().min().copied().unwrap_or(0), hops.iter().max().copied().unwrap_or(0));
            writeln!(out, "  subgraph cluster_row{row} {{")?;
            let hops = if low == high { format!("hop {low}") } else { format!("hops {low}–{high}") };
            writeln!(out, "    label=\"{hops}\"; style=dashed; color=\"#d1d5db\"; fontcolor=\"#6b7280\";")?;
            "    "
        } else {
            "  "
        };
        for node in pic.nodes.iter().filter(|n| grid.row(n.hop) == row) {
            write!(out, "{indent}")?;
            write_node(out, node)?;
        }
        for &hop in grid.hops(row) {
            let column: Vec<String> =
                pic.nodes.iter().filter(|n| n.column && n.hop == hop).map(|n| quoted(&n.id)).collect();
            if column.len() > 1 {
                writeln!(out, "{indent}{{rank=same; {};}}", column.join("; "))?;
            }
        }
        if grid.rows > 1 {
            write_spine(out, pic, grid.hops(row))?;
            writeln!(out, "  }}")?;
        }
    }
    write_edges(out, pic, &grid)?;
    writeln!(out, "}}")
}

fn write_node(out: &mut String, node: &super::picture::Vertex) -> fmt::Result {
    let paint = paint(node.look);
    write!(out, "{} [", quoted(&node.id))?;
    if node.label.is_empty() {
        write!(out, "label=\"\"")?;
    } else {
        write!(out, "label={}", lines(&node.label))?;
    }
    if !node.xlabel.is_empty() {
        write!(out, ", xlabel={}, fontsize=8", lines(&node.xlabel))?;
    }
    write!(out, ", tooltip={}, shape={}, style=\"{}\"", quoted(&node.tooltip), paint.shape, paint.style)?;
    write!(out, ", fillcolor=\"{}\", color=\"{}\"", paint.fill, paint.border)?;
    if let Some(width) = paint.width {
        write!(out, ", width={width}")?;
    }
    let red = matches!(node.look, Look::StopAddress | Look::StoppedTx | Look::StoppedDot);
    if node.tagged && !red && paint.width.is_none() {
        write!(out, ", color=\"{TAGGED}\", penwidth=2")?;
    } else if paint.pen != 1 {
        write!(out, ", penwidth={}", paint.pen)?;
    }
    writeln!(out, "];")
}

/// Invisible arrows from each column of a row to the next, which hold the columns in order
/// when the arrows drawn do not (txs joined only through txs left out, or through an address
/// drawn in another row).
fn write_spine(out: &mut String, pic: &Picture, hops: &[u32]) -> fmt::Result {
    let first = |hop: u32| pic.nodes.iter().find(|n| n.column && n.hop == hop);
    // With addresses drawn, an address sits between two columns of txs.
    let minlen = if pic.dots { 2 } else { 1 };
    for pair in hops.windows(2) {
        if let (Some(a), Some(b)) = (first(pair[0]), first(pair[1])) {
            writeln!(out, "    {} -> {} [style=invis, minlen={minlen}];", quoted(&a.id), quoted(&b.id))?;
        }
    }
    Ok(())
}

/// An arrow's width: 1 for nothing, up to 6 for the largest arrow of the picture.
pub fn pen_width(value_sat: u64, max_sat: u64) -> f64 {
    if max_sat == 0 {
        return 1.0;
    }
    1.0 + 5.0 * (value_sat as f64 / max_sat as f64).sqrt()
}

fn write_edges(out: &mut String, pic: &Picture, grid: &Grid) -> fmt::Result {
    let place: HashMap<&str, (usize, Option<usize>)> =
        pic.nodes.iter().map(|n| (n.id.as_str(), (grid.row(n.hop), n.column.then(|| grid.pos(n.hop))))).collect();
    let max_sat = pic.edges.iter().map(|e| e.value_sat).max().unwrap_or(0);
    for e in &pic.edges {
        let (from, to) = (place.get(e.from.as_str()), place.get(e.to.as_str()));
        let free = match (from, to) {
            (Some((r1, p1)), Some((r2, p2))) => r1 != r2 || matches!((p1, p2), (Some(a), Some(b)) if b <= a),
            _ => false,
        };
        write!(
            out,
            "  {} -> {} [label={}, tooltip={}",
            quoted(&e.from),
            quoted(&e.to),
            lines(&e.label),
            quoted(&e.tooltip)
        )?;
        write!(out, ", penwidth={:.2}", pen_width(e.value_sat, max_sat))?;
        if free {
            write!(out, ", constraint=false")?;
        }
        if e.dashed {
            write!(out, ", style=dashed")?;
        }
        writeln!(out, "];")?;
    }
    Ok(())
}

/// How a node looks.
struct Paint {
    shape: &'static str,
    style: &'static str,
    fill: &'static str,
    border: &'static str,
    pen: u8,
    /// Dots: their size, in inches.
    width: Option<&'static str>,
}

fn paint(look: Look) -> Paint {
    let (shape, style, fill, border, pen, width) = match look {
        Look::Root => ("box", "rounded,filled", "#dbeafe", "#1d4ed8", 2, None),
        Look::Tx => ("box", "rounded,filled", "#ffffff", "#374151", 1, None),
        Look::StoppedTx => ("box", "rounded,filled", "#fff1f2", "#b91c1c", 2, None),
        Look::RootDot => ("point", "filled", "#1d4ed8", "#1d4ed8", 1, Some("0.22")),
        Look::Dot => ("point", "filled", "#374151", "#374151", 1, Some("0.12")),
        Look::StoppedDot => ("point", "filled", "#b91c1c", "#b91c1c", 1, Some("0.16")),
        Look::Address => ("box", "filled", "#ffffff", "#374151", 1, None),
        Look::Unspent => ("ellipse", "filled", "#dcfce7", "#15803d", 1, None),
        Look::Spent => ("ellipse", "filled", "#e0f2fe", "#0369a1", 1, None),
        Look::Unspendable => ("ellipse", "filled", "#e5e7eb", "#6b7280", 1, None),
        Look::StopAddress => ("octagon", "filled", "#fee2e2", "#b91c1c", 2, None),
        Look::NotFollowed => ("ellipse", "filled,dashed", "#f3f4f6", "#6b7280", 1, None),
        Look::Coinbase => ("ellipse", "filled", "#fef3c7", "#b45309", 1, None),
        Look::LeftOut => ("box", "dashed", "#ffffff", "#6b7280", 1, None),
        Look::Joined => ("box", "filled,dashed", "#fef3c7", "#b45309", 1, None),
    };
    Paint { shape, style, fill, border, pen, width }
}

/// What the legend says of a look.
fn meaning(look: Look, cut_states: &[&'static str]) -> String {
    match look {
        Look::Root => "root tx (hop 0)".into(),
        Look::Tx => "tx: txid, time, height, hop".into(),
        Look::StoppedTx => "tx touching a stop address".into(),
        Look::RootDot => "● root tx".into(),
        Look::Dot => "● tx (hover: txid)".into(),
        Look::StoppedDot => "● tx touching a stop address".into(),
        Look::Address => "address paid and spent on".into(),
        Look::Unspent => "unspent: money sits here".into(),
        Look::Spent => "target output, spent later".into(),
        Look::Unspendable => "unspendable output (OP_RETURN)".into(),
        Look::StopAddress => "stop address: the branch ends".into(),
        Look::NotFollowed => {
            let why: Vec<&str> = cut_states.iter().map(|s| state_text(s)).collect();
            format!("not followed further: {}", why.join(", "))
        }
        Look::Coinbase => "coinbase: newly mined coins".into(),
        Look::LeftOut => "left out of this picture: see json or csv".into(),
        Look::Joined => "outside value joining the flow (not traced)".into(),
    }
}

/// The title lines and the legend of the styles used, as an HTML-like dot label.
fn heading(title: &[String], pic: &Picture) -> String {
    let used: BTreeSet<Look> = pic.nodes.iter().map(|n| n.look).collect();
    let mut cells: Vec<String> = used
        .iter()
        .map(|&look| {
            let p = paint(look);
            let fill = if p.width.is_some() { "#ffffff" } else { p.fill };
            format!(
                "<TD BGCOLOR=\"{fill}\" COLOR=\"{}\" BORDER=\"1\">{}</TD>",
                p.border,
                xml(&meaning(look, &pic.cut_states))
            )
        })
        .collect();
    if pic.nodes.iter().any(|n| n.tagged) {
        cells.push(format!("<TD COLOR=\"{TAGGED}\" BORDER=\"2\">tagged: best tag's label first</TD>"));
    }
    let span = cells.len().clamp(1, LEGEND_ROW);
    let mut html = String::from("<TABLE BORDER=\"0\" CELLSPACING=\"4\" CELLPADDING=\"3\">");
    for (i, line) in title.iter().enumerate() {
        let text = if i == 0 { format!("<B>{}</B>", xml(line)) } else { xml(line) };
        html.push_str(&format!("<TR><TD ALIGN=\"LEFT\" COLSPAN=\"{span}\">{text}</TD></TR>"));
    }
    for row in cells.chunks(LEGEND_ROW) {
        html.push_str(&format!("<TR>{}</TR>", row.concat()));
    }
    html.push_str("</TABLE>");
    html
}
