//! Traces and paths as graphs: Graphviz `dot` (render with `dot -Tsvg`) and GraphML (for Gephi).
//! Txs are nodes, spend edges are edges pointing the way the money went.

use std::fmt::{self, Write};

use super::short_txid;
use crate::model::{btc, EdgeView, PathView, TraceView, TxNode};

/// The part of a trace or path a graph shows.
pub struct Graph<'a> {
    /// `trace` or `path`: the graph's id.
    kind: &'static str,
    /// One line saying what the graph is.
    title: String,
    nodes: &'a [TxNode],
    edges: &'a [EdgeView],
}

impl<'a> Graph<'a> {
    pub fn of_trace(t: &'a TraceView) -> Self {
        let truncated = if t.truncated { " (truncated)" } else { "" };
        Graph {
            kind: "trace",
            title: format!("trace {} from {}, hops 0..={}{truncated}", t.direction, t.root, t.hops),
            nodes: &t.txs,
            edges: &t.edges,
        }
    }

    pub fn of_path(p: &'a PathView) -> Self {
        let outcome = match p.hops {
            Some(h) => format!("{h} hop(s)"),
            None => "not found".into(),
        };
        Graph {
            kind: "path",
            title: format!("path from {} to {}: {outcome}", p.from, p.to),
            nodes: &p.nodes,
            edges: &p.edges,
        }
    }
}

/// A dot string literal.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A dot label of several lines.
fn label(lines: &[String]) -> String {
    quoted(&lines.join("\n")).replace('\n', "\\n")
}

pub fn dot(out: &mut String, g: &Graph) -> fmt::Result {
    writeln!(out, "digraph {} {{", g.kind)?;
    writeln!(out, "  label={};", quoted(&g.title))?;
    writeln!(out, "  labelloc=t;")?;
    writeln!(out, "  rankdir=LR;")?;
    writeln!(out, "  node [shape=box, fontname=\"monospace\", fontsize=10];")?;
    writeln!(out, "  edge [fontname=\"monospace\", fontsize=9];")?;
    for n in g.nodes {
        let lines = [format!("{}...", short_txid(&n.txid)), format!("height {}", n.height), format!("hop {}", n.hop)];
        let style = if n.stopped {
            ", color=red"
        } else if n.hop == 0 {
            ", style=bold"
        } else {
            ""
        };
        writeln!(out, "  {} [label={}, tooltip={}{style}];", quoted(&n.txid), label(&lines), quoted(&n.txid))?;
    }
    for e in g.edges {
        let lines = [format!("{} BTC", btc(e.value_sat)), e.label.clone()];
        let tooltip = format!("{}:{} -> {}:{}", e.from_txid, e.vout, e.to_txid, e.vin);
        writeln!(
            out,
            "  {} -> {} [label={}, tooltip={}];",
            quoted(&e.from_txid),
            quoted(&e.to_txid),
            label(&lines),
            quoted(&tooltip)
        )?;
    }
    writeln!(out, "}}")
}

/// Text escaped for XML content and attribute values.
fn xml(s: &str) -> String {
    let mut escaped = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// GraphML attribute keys: (id, for, type).
const KEYS: [(&str, &str, &str); 10] = [
    ("label", "node", "string"),
    ("txid", "node", "string"),
    ("height", "node", "int"),
    ("block_hash", "node", "string"),
    ("hop", "node", "int"),
    ("stopped", "node", "boolean"),
    ("vout", "edge", "int"),
    ("vin", "edge", "int"),
    ("value_sat", "edge", "long"),
    ("address", "edge", "string"),
];

fn data(out: &mut String, key: &str, value: &str) -> fmt::Result {
    writeln!(out, "      <data key=\"{key}\">{}</data>", xml(value))
}

pub fn graphml(out: &mut String, g: &Graph) -> fmt::Result {
    writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
    writeln!(out, "<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"http://graphml.graphdrawing.org/xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd\">")?;
    writeln!(out, "  <!-- {} -->", xml(&g.title).replace("--", "- -"))?;
    for (id, domain, kind) in KEYS {
        writeln!(out, "  <key id=\"{id}\" for=\"{domain}\" attr.name=\"{id}\" attr.type=\"{kind}\"/>")?;
    }
    writeln!(out, "  <key id=\"value_btc\" for=\"edge\" attr.name=\"value_btc\" attr.type=\"double\"/>")?;
    writeln!(out, "  <graph id=\"{}\" edgedefault=\"directed\">", g.kind)?;
    for n in g.nodes {
        writeln!(out, "    <node id=\"{}\">", xml(&n.txid))?;
        data(out, "label", &format!("{} @{}", short_txid(&n.txid), n.height))?;
        data(out, "txid", &n.txid)?;
        data(out, "height", &n.height.to_string())?;
        data(out, "block_hash", &n.block_hash)?;
        data(out, "hop", &n.hop.to_string())?;
        data(out, "stopped", if n.stopped { "true" } else { "false" })?;
        writeln!(out, "    </node>")?;
    }
    for (i, e) in g.edges.iter().enumerate() {
        writeln!(out, "    <edge id=\"e{i}\" source=\"{}\" target=\"{}\">", xml(&e.from_txid), xml(&e.to_txid))?;
        data(out, "vout", &e.vout.to_string())?;
        data(out, "vin", &e.vin.to_string())?;
        data(out, "value_sat", &e.value_sat.to_string())?;
        data(out, "value_btc", &btc(e.value_sat))?;
        data(out, "address", &e.label)?;
        writeln!(out, "    </edge>")?;
    }
    writeln!(out, "  </graph>")?;
    writeln!(out, "</graphml>")
}
