//! GraphML (for Gephi and similar tools): every tx of a trace or path is a node, every spend edge
//! an edge, whatever `--draw` says.

use std::fmt::{self, Write};

use super::super::short_txid;
use super::{xml, Flow};
use crate::model::btc;

/// GraphML attribute keys: (id, for, type).
const KEYS: [(&str, &str, &str); 12] = [
    ("label", "node", "string"),
    ("txid", "node", "string"),
    ("height", "node", "int"),
    ("time", "node", "string"),
    ("block_hash", "node", "string"),
    ("hop", "node", "int"),
    ("stopped", "node", "boolean"),
    ("vout", "edge", "int"),
    ("vin", "edge", "int"),
    ("value_sat", "edge", "long"),
    ("value_btc", "edge", "double"),
    ("address", "edge", "string"),
];

fn data(out: &mut String, key: &str, value: &str) -> fmt::Result {
    writeln!(out, "      <data key=\"{key}\">{}</data>", xml(value))
}

pub fn graphml(out: &mut String, g: &Flow) -> fmt::Result {
    writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
    writeln!(out, "<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"http://graphml.graphdrawing.org/xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd\">")?;
    writeln!(out, "  <!-- {} -->", xml(&g.title).replace("--", "- -"))?;
    for (id, domain, kind) in KEYS {
        writeln!(out, "  <key id=\"{id}\" for=\"{domain}\" attr.name=\"{id}\" attr.type=\"{kind}\"/>")?;
    }
    writeln!(out, "  <graph id=\"{}\" edgedefault=\"directed\">", g.kind)?;
    for n in g.nodes {
        writeln!(out, "    <node id=\"{}\">", xml(&n.txid))?;
        data(out, "label", &format!("{} @{}", short_txid(&n.txid), n.height))?;
        data(out, "txid", &n.txid)?;
        data(out, "height", &n.height.to_string())?;
        data(out, "time", &n.time)?;
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
