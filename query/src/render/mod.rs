//! Turns a [`Report`] into text in the chosen format. Nothing here writes anywhere: the output
//! module does.

mod cluster;
mod csv;
mod exposure;
mod graph;
mod table;
mod table_flow;
mod tags;
mod taint;
mod verify;

use std::fmt;

use crate::cli::{Draw, Format};
use crate::error::UsageError;
use crate::model::{Body, Report};

/// How tables and pictures are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Tables print whole txids (else their first 16 digits).
    pub full_txids: bool,
    /// What the boxes of a picture are.
    pub draw: Draw,
    /// Pictures keep every hop on one row instead of wrapping long ones into rows.
    pub one_row: bool,
}

impl Default for Style {
    fn default() -> Self {
        Style { full_txids: false, draw: Draw::Txs, one_row: false }
    }
}

/// The text of a report's body in `format`, ending with a newline.
pub fn render(report: &Report, format: Format, style: &Style) -> Result<String, UsageError> {
    let mut out = String::new();
    let written = match (format, &report.body) {
        (Format::Json, body) => {
            out = json(body);
            Ok(())
        }
        (Format::Table, body) => table::write(&mut out, body, style),
        // Svg and png are the dot text, which the output module has Graphviz draw.
        (Format::Dot | Format::Svg | Format::Png, Body::Trace(t)) => {
            graph::dot(&mut out, &graph::Flow::of_trace(t), style.draw, style.one_row)
        }
        (Format::Dot | Format::Svg | Format::Png, Body::Path(p)) => {
            graph::dot(&mut out, &graph::Flow::of_path(p), style.draw, style.one_row)
        }
        (Format::Graphml, Body::Trace(t)) => graph::graphml(&mut out, &graph::Flow::of_trace(t)),
        (Format::Graphml, Body::Path(p)) => graph::graphml(&mut out, &graph::Flow::of_path(p)),
        (Format::Csv, body) => {
            out = csv::write(body)?;
            Ok(())
        }
        (Format::Dot | Format::Graphml | Format::Svg | Format::Png, body) => {
            return Err(UsageError::GraphFormat { format: format.name(), command: body.command() })
        }
    };
    written.expect("formatting into a String cannot fail");
    Ok(out)
}

fn json(body: &Body) -> String {
    let mut out = Vec::new();
    write_json(&mut out, body).expect("writing into memory cannot fail");
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// Writes a report's body as pretty-printed JSON to `out` as it goes, without building the text
/// first: a trace of hundreds of thousands of transactions is written in one pass. Fails only
/// when `out` does.
pub fn write_json(out: &mut impl std::io::Write, body: &Body) -> std::io::Result<()> {
    let written = match body {
        Body::Tx(v) => serde_json::to_writer_pretty(&mut *out, v),
        Body::Address(v) => serde_json::to_writer_pretty(&mut *out, v),
        Body::Trace(v) => serde_json::to_writer_pretty(&mut *out, v),
        Body::Path(v) => serde_json::to_writer_pretty(&mut *out, v),
        Body::Cluster(v) => serde_json::to_writer_pretty(&mut *out, v),
        Body::Why(v) => serde_json::to_writer_pretty(&mut *out, v),
        Body::Clusters(v) => serde_json::to_writer_pretty(&mut *out, v),
        Body::Exposure(v) => serde_json::to_writer_pretty(&mut *out, v),
        Body::Taint(v) => serde_json::to_writer_pretty(&mut *out, v),
        Body::TagImport(v) => serde_json::to_writer_pretty(&mut *out, v),
        Body::AddressTags(v) => serde_json::to_writer_pretty(&mut *out, v),
        Body::TagList(v) => serde_json::to_writer_pretty(&mut *out, v),
        Body::TagRemove(v) => serde_json::to_writer_pretty(&mut *out, v),
        Body::Verify(v) => serde_json::to_writer_pretty(&mut *out, v),
        Body::Key(v) => serde_json::to_writer_pretty(&mut *out, v),
        Body::Report(v) => serde_json::to_writer_pretty(&mut *out, v),
    };
    // Result types hold only strings, numbers, booleans and lists: only the writer can fail.
    written.map_err(std::io::Error::from)?;
    out.write_all(b"\n")
}

/// Text escaped for markup content and attribute values: GraphML, dot's HTML-like labels and
/// the case report's HTML (`&#39;` for the apostrophe is valid in all three).
pub fn escape_markup(s: &str) -> String {
    let mut escaped = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// The first characters of a txid, for labels where the whole one does not fit.
fn short_txid(txid: &str) -> &str {
    txid.get(..12).unwrap_or(txid)
}

/// Writes `n` spaces.
fn pad(out: &mut String, n: usize) -> fmt::Result {
    for _ in 0..n {
        out.push(' ');
    }
    Ok(())
}

#[cfg(test)]
mod samples;
#[cfg(test)]
mod table_tests;
#[cfg(test)]
mod tests;
