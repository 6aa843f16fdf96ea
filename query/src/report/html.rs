//! `report.html`: a case report as one self-contained page, to read without the tool or a network:
//! what was asked and on which index, the key numbers, the flow as a picture, the tables of where
//! the money went and of every output the answer rests on, and the digest with how to check it.
//!
//! The page has no scripts and loads nothing: its style is inline and its picture is an inline
//! SVG that Graphviz drew. Every text from the answer or the tags is escaped.

use std::collections::BTreeMap;
use std::fmt::{self, Write};

use super::html_tables as tables;
use super::CaseReport;
use crate::model::{btc, Body, TagView};
pub use crate::render::escape_markup as esc;

/// The picture of the flow, or why the page has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Picture {
    /// An SVG document, as Graphviz writes it.
    Svg(String),
    /// The reason there is no picture.
    Missing(String),
}

/// Everything the page shows.
pub struct Page<'a> {
    pub case: &'a CaseReport,
    /// The answer, as the command returned it (`case.answer` is its JSON).
    pub body: &'a Body,
    /// The UTC time (ISO 8601) of the blocks the page dates, by height (the tip's among them).
    pub times: &'a BTreeMap<u32, String>,
    pub picture: &'a Picture,
    /// What the command noted for the reader.
    pub notes: &'a [String],
}

impl Page<'_> {
    /// The tags of an address the answer shows, best first; none when untagged.
    pub fn tags_of(&self, address: Option<&str>) -> Vec<TagView> {
        let Some(address) = address else { return Vec::new() };
        let tagged = self.case.tags_used.iter().find(|t| t.address == address);
        tagged.map(|t| t.tags.iter().map(TagView::from).collect()).unwrap_or_default()
    }

    /// `2024-01-31 12:00:00 UTC` for the block at `height`, or `-` when not known.
    pub fn date(&self, height: u32) -> String {
        self.times.get(&height).map(|t| when(t)).unwrap_or_else(|| "-".into())
    }
}

/// The whole page.
pub fn page(p: &Page) -> String {
    let mut out = String::with_capacity(64 * 1024 + p.case.hops.len() * 600);
    write_page(&mut out, p).expect("writing into a String cannot fail");
    out
}

fn write_page(out: &mut String, p: &Page) -> fmt::Result {
    let (question, asked) = tables::question(p.body);
    writeln!(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">")?;
    writeln!(out, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")?;
    writeln!(out, "<title>{}</title>", esc(&format!("Case report: {asked}")))?;
    writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>\n<main>")?;
    header(out, p, question, &asked)?;
    tables::summary(out, p)?;
    tables::requests(out, p)?;
    picture(out, p)?;
    tables::details(out, p)?;
    tables::hops(out, p)?;
    tables::tags_used(out, p)?;
    notes(out, p.notes)?;
    digest(out, p.case)?;
    writeln!(out, "</main>\n</body>\n</html>")
}

fn header(out: &mut String, p: &Page, question: &str, asked: &str) -> fmt::Result {
    let case = p.case;
    writeln!(out, "<header>")?;
    writeln!(out, "<p class=\"kicker\">chaintrail case report &middot; {}</p>", esc(&case.network))?;
    writeln!(out, "<h1>{}</h1>", esc(question))?;
    writeln!(out, "<p class=\"asked\">{}</p>", esc(asked))?;
    writeln!(out, "<dl class=\"facts\">")?;
    let info = &case.case;
    for (what, value) in [("Case", &info.id), ("Analyst", &info.analyst), ("Note", &info.note)] {
        if let Some(value) = value {
            writeln!(out, "<dt>{what}</dt><dd>{}</dd>", esc(value))?;
        }
    }
    writeln!(
        out,
        "<dt>Created</dt><dd>{} <span class=\"muted\">({})</span></dd>",
        esc(&when(&info.created)),
        esc(&info.clock)
    )?;
    match &case.signature {
        Some(s) => writeln!(
            out,
            "<dt>Signed</dt><dd>{} by key <code>{}</code> &middot; <code>query verify --signer {}</code> checks it</dd>",
            esc(&s.algorithm),
            esc(&s.public_key),
            esc(&s.public_key)
        )?,
        None => writeln!(out, "<dt>Signed</dt><dd class=\"warn\">not signed: anyone could have made this file (query report --sign)</dd>")?,
    }
    writeln!(out, "<dt>Command</dt><dd><code>{}</code></dd>", esc(&command_text(&case.command)))?;
    writeln!(out, "<dt>Network</dt><dd>{}</dd>", esc(&case.network))?;
    writeln!(
        out,
        "<dt>Index tip</dt><dd>height {} &middot; {} &middot; block <code>{}</code></dd>",
        case.tip.height,
        esc(&p.date(case.tip.height)),
        esc(&case.tip.hash)
    )?;
    writeln!(out, "<dt>Written by</dt><dd>{}</dd>", esc(&case.tool))?;
    writeln!(
        out,
        "<dt>Digest</dt><dd><code>{}</code> &middot; <a href=\"#digest\">how to check it</a></dd>",
        esc(&case.digest)
    )?;
    writeln!(out, "</dl>\n</header>")
}

/// The command as typed, for people: `query --db <index> trace forward ...`, quoted for a shell.
pub fn command_text(command: &[String]) -> String {
    let mut words = vec!["query".to_string(), "--db".into(), "<index>".into()];
    words.extend(command.iter().map(|w| shell_word(w)));
    words.join(" ")
}

/// A word as a POSIX shell reads it back: as is when it is plain, else in single quotes.
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_.:,/=+@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn picture(out: &mut String, p: &Page) -> fmt::Result {
    writeln!(out, "<section id=\"picture\">\n<h2>{}</h2>", tables::picture_title(p.body))?;
    match p.picture {
        Picture::Svg(svg) => {
            // A checkbox and its label toggle between fitting the page and full size, without scripts.
            writeln!(out, "<input type=\"checkbox\" id=\"zoom\" class=\"zoom\">")?;
            writeln!(out, "<label for=\"zoom\" class=\"zoom\" title=\"click to switch between fit and full size\">")?;
            writeln!(out, "<figure class=\"picture\">")?;
            out.push_str(inline_svg(svg));
            writeln!(out, "\n</figure>\n</label>")?;
            writeln!(
                out,
                "<p class=\"caption\">{} Click the picture to see it at full size, and again to fit it to \
                 the page.</p>",
                tables::picture_caption(p.body)
            )?;
        }
        Picture::Missing(why) => {
            writeln!(out, "<p class=\"note\" id=\"no-picture\">No picture: {}</p>", esc(why))?;
        }
    }
    writeln!(out, "</section>")
}

/// An SVG document without its XML declaration and doctype, to sit inside HTML.
pub fn inline_svg(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(start) => svg[start..].trim_end(),
        None => "",
    }
}

fn notes(out: &mut String, notes: &[String]) -> fmt::Result {
    if notes.is_empty() {
        return Ok(());
    }
    writeln!(out, "<section id=\"notes\">\n<h2>Notes</h2>\n<ul class=\"notes\">")?;
    for note in notes {
        writeln!(out, "<li>{}</li>", esc(note))?;
    }
    writeln!(out, "</ul>\n</section>")
}

/// The Python that recomputes the digest of `report.json`, as documented in `docs/reports.md`.
pub const RECOMPUTE: &str = "python3 -c 'import hashlib,json,sys; r=json.load(open(sys.argv[1])); \
r.pop(\"digest\"); print(hashlib.sha256(json.dumps(r,sort_keys=True,separators=(\",\",\":\"),\
ensure_ascii=False).encode()).hexdigest())' report.json";

fn digest(out: &mut String, case: &CaseReport) -> fmt::Result {
    writeln!(out, "<section id=\"digest\">\n<h2>Digest</h2>")?;
    writeln!(out, "<p class=\"digest\"><code>{}</code></p>", esc(&case.digest))?;
    writeln!(
        out,
        "<p>The SHA-256 of <code>report.json</code> without its <code>digest</code> field, written as \
         compact JSON with every object's keys sorted (UTF-8, no spaces). Any change to the command, \
         the tip, a hop, a tag or the answer changes it. To recompute it:</p>"
    )?;
    writeln!(out, "<pre>{}</pre>", esc(RECOMPUTE))?;
    writeln!(
        out,
        "<p><code>query verify report.json</code> recomputes it too, and checks every hop against a \
         Bitcoin Core node: each transaction in the block of that hash at that height, each output's \
         value and script, and each input that spent it. Format {}; see docs/reports.md.</p>",
        case.format
    )?;
    writeln!(out, "</section>")
}

/// An ISO 8601 time (`2024-01-31T12:00:00Z`) as `2024-01-31 12:00:00 UTC`.
pub fn when(time: &str) -> String {
    match time.strip_suffix('Z').and_then(|t| t.split_once('T')) {
        Some((day, clock)) => format!("{day} {clock} UTC"),
        None => time.to_string(),
    }
}

/// Opens a table with its header row; numeric columns (`true`) are right-aligned.
pub fn table_head(out: &mut String, columns: &[(&str, bool)]) -> fmt::Result {
    out.push_str("<table><tr>");
    for (name, numeric) in columns {
        let class = if *numeric { " class=\"num\"" } else { "" };
        write!(out, "<th{class}>{}</th>", esc(name))?;
    }
    writeln!(out, "</tr>")
}

/// Satoshis as BTC with 8 decimals, for tables.
pub fn btc_cell(sats: u64) -> String {
    format!("<td class=\"num\">{}</td>", btc(sats))
}

/// The first 16 digits of a txid and an ellipsis, the whole of it on hover.
pub fn short_txid(txid: &str) -> String {
    match txid.get(..16) {
        Some(head) if txid.len() > 16 => format!("<code title=\"{}\">{}…</code>", esc(txid), esc(head)),
        _ => format!("<code>{}</code>", esc(txid)),
    }
}

/// An address (or what an output pays when it has none) led by the labels of its tags.
pub fn who(address: Option<&str>, fallback: &str, tags: &[TagView]) -> String {
    let mut cell = String::new();
    for tag in tags {
        let category = tag.category.as_deref().map(|c| format!(" ({c})")).unwrap_or_default();
        let title =
            format!("{}{category}, source {}, confidence {}, pack {}", tag.label, tag.source, tag.confidence, tag.pack);
        cell.push_str(&format!("<span class=\"tag\" title=\"{}\">{}</span> ", esc(&title), esc(&tag.label)));
    }
    cell.push_str(&format!("<code class=\"address\">{}</code>", esc(address.unwrap_or(fallback))));
    cell
}

/// `part` as a percentage of `whole` with two decimals, rounded down (as the tables print it).
pub fn share(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    let hundredths = u128::from(part) * 10_000 / u128::from(whole);
    format!("{}.{:02}%", hundredths / 100, hundredths % 100)
}

const STYLE: &str = r#"
:root { --ink: #111827; --muted: #6b7280; --line: #e5e7eb; --accent: #1d4ed8; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 "Helvetica Neue", Helvetica, Arial, sans-serif; color: var(--ink);
  background: #f3f4f6; }
main { max-width: 1400px; margin: 0 auto; padding: 20px 28px 48px; background: #fff; min-height: 100vh; }
header { border-bottom: 3px solid var(--accent); padding-bottom: 12px; }
.kicker { margin: 0; text-transform: uppercase; letter-spacing: .08em; font-size: 12px; color: var(--muted); }
h1 { margin: 2px 0 4px; font-size: 26px; }
h2 { margin: 26px 0 8px; font-size: 18px; border-bottom: 1px solid var(--line); padding-bottom: 3px; }
h3 { margin: 14px 0 6px; font-size: 14px; }
.asked { margin: 0 0 10px; font-size: 15px; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 14px 0 4px; }
.card { border: 1px solid var(--line); border-left: 4px solid var(--accent); border-radius: 6px;
  padding: 6px 12px; min-width: 150px; }
.card .n { font-size: 19px; font-weight: 600; white-space: nowrap; }
.card .k { font-size: 12px; color: var(--muted); }
.card.warn { border-left-color: #b91c1c; }
.split { display: flex; flex-wrap: wrap; gap: 24px; }
.split > div { flex: 1 1 420px; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 8px; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f9fafb; font-size: 12px; color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.id code, td code.address { overflow-wrap: anywhere; }
tr.total td { font-weight: 600; border-top: 2px solid var(--line); }
.tag { display: inline-block; background: #ede9fe; color: #5b21b6; border: 1px solid #c4b5fd;
  border-radius: 4px; padding: 0 5px; font-size: 12px; font-weight: 600; }
.state { display: inline-block; border-radius: 4px; padding: 0 5px; font-size: 12px; background: #f3f4f6; }
.state.unspent { background: #dcfce7; color: #166534; }
.state.stopped { background: #fee2e2; color: #991b1b; }
.state.coinbase { background: #fef3c7; color: #92400e; }
.state.spent { background: #e0f2fe; color: #075985; }
.picture { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 8px; overflow: auto; }
.picture svg { display: block; max-width: 100%; height: auto; margin: 0 auto; }
input.zoom { display: none; }
label.zoom { display: block; cursor: zoom-in; }
input.zoom:checked + label.zoom { cursor: zoom-out; }
input.zoom:checked + label.zoom svg { max-width: none; }
p.caption { font-size: 12px; color: var(--muted); margin: 6px 0 0; }
.note { background: #fffbeb; border: 1px solid #fcd34d; border-radius: 6px; padding: 8px 12px; }
ul.notes li { margin: 2px 0; }
.muted { color: var(--muted); }
.small { font-size: 12px; }
p.digest code { font-size: 15px; font-weight: 600; overflow-wrap: anywhere; }
pre { background: #111827; color: #f9fafb; border-radius: 6px; padding: 10px 12px; white-space: pre-wrap;
  overflow-wrap: anywhere; font-size: 12px; }
@media print { body { background: #fff; } main { padding: 0; } .picture { overflow: visible; } }
"#;
