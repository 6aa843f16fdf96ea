//! Reading one pack of tags, a GraphSense TagPack (YAML) or a CSV of address tags, into the tags
//! the store takes. A pack is checked whole: any invalid entry refuses all of it, with an error
//! naming the file, the line and the field. Tags of other currencies or networks are counted as
//! skipped, not refused.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

use bitcoin::address::NetworkUnchecked;
use bitcoin::hashes::Hash;
use bitcoin::{Address, Txid};
use indexer::network::Network;
use serde::Deserialize;

use super::yaml::{self, Element, Value};
use super::{confidence_level, Subject, Tag, CONFIDENCE_LEVELS, DEFAULT_CONFIDENCE};

/// Longest pack title, in bytes.
pub const MAX_TITLE: usize = 1024;

/// A pack read and checked, ready to import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pack {
    /// The pack's name in the store: its `title`, or a CSV file's name.
    pub title: String,
    /// The file as given.
    pub file: String,
    pub creator: Option<String>,
    /// The tags to import, in file order.
    pub entries: Vec<Entry>,
    /// Tags of another currency or network, not imported.
    pub skipped: u64,
}

/// One tag and what it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub subject: Subject,
    pub tag: Tag,
    /// Where it is in the file.
    pub line: usize,
}

/// Why a pack is refused.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("cannot read tag pack {file}: {reason}")]
    Read { file: String, reason: String },
    #[error("{file}: unknown kind of pack: expected a TagPack (.yaml, .yml) or a CSV file (.csv) (see 'query tags import --help')")]
    Format { file: String },
    #[error("{file}: line {line}: {what} (see 'query tags import --help')")]
    Invalid { file: String, line: usize, what: String },
}

/// Reads a pack, choosing the format by the file's extension.
pub fn read(path: &Path, network: Network) -> Result<Pack, PackError> {
    let file = path.display().to_string();
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let kind = match ext.as_deref() {
        Some("yaml" | "yml") => Kind::Yaml,
        Some("csv") => Kind::Csv,
        _ => return Err(PackError::Format { file }),
    };
    let data = std::fs::read(path).map_err(|e| PackError::Read { file: file.clone(), reason: e.to_string() })?;
    match kind {
        Kind::Yaml => {
            let text = String::from_utf8(data).map_err(|e| {
                let line = e.as_bytes()[..e.utf8_error().valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
                PackError::Invalid { file: file.clone(), line, what: "the file is not UTF-8 text".into() }
            })?;
            parse_yaml(&file, &text, network)
        }
        Kind::Csv => parse_csv(&file, &data, network),
    }
}

enum Kind {
    Yaml,
    Csv,
}

/// How a field's value is written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Type {
    Text,
    Bool,
    TextList,
    TagList,
}

/// Fields only the header may set.
const HEADER_FIELDS: [(&str, Type); 6] = [
    ("title", Type::Text),
    ("creator", Type::Text),
    ("description", Type::Text),
    ("owner", Type::Text),
    ("is_public", Type::Bool),
    ("tags", Type::TagList),
];

/// Fields of a tag; the header may set any of them for every tag that does not.
const TAG_FIELDS: [(&str, Type); 15] = [
    ("label", Type::Text),
    ("source", Type::Text),
    ("currency", Type::Text),
    ("network", Type::Text),
    ("context", Type::Text),
    ("confidence", Type::Text),
    ("is_cluster_definer", Type::Bool),
    ("lastmod", Type::Text),
    ("category", Type::Text),
    ("abuse", Type::Text),
    ("address", Type::Text),
    ("tx_hash", Type::Text),
    ("actor", Type::Text),
    ("concepts", Type::TextList),
    ("tag_type", Type::Text),
];

/// A field's value with the line it is on.
#[derive(Debug, Clone)]
struct Field<'n> {
    node: &'n Element,
    line: usize,
}

/// The fields of one mapping (header or tag), checked against the schema; nulls left out.
type Fields<'n> = HashMap<&'static str, Field<'n>>;

/// Builds errors that name the file and, inside a tag, the tag's number.
struct Ctx<'f> {
    file: &'f str,
    /// "header" or "tag N".
    place: String,
}

impl Ctx<'_> {
    fn err(&self, line: usize, what: impl std::fmt::Display) -> PackError {
        PackError::Invalid { file: self.file.to_string(), line, what: format!("{}: {what}", self.place) }
    }
}

/// Checks a mapping's keys and value types. `header` allows the header-only fields.
fn fields<'n>(ctx: &Ctx, map: &'n Element, header: bool) -> Result<Fields<'n>, PackError> {
    let Value::Map(pairs) = &map.value else {
        return Err(ctx.err(map.line, format_args!("expected a mapping of fields, found {}", map.kind())));
    };
    let mut out = Fields::new();
    let mut seen: Vec<&str> = Vec::new();
    for (key, value) in pairs {
        let Some(name) = key.scalar() else {
            return Err(ctx.err(key.line, format_args!("a field name must be text, found {}", key.kind())));
        };
        let header_only: &[(&str, Type)] = if header { &HEADER_FIELDS } else { &[] };
        let Some(&(field, ty)) = TAG_FIELDS.iter().chain(header_only).find(|(f, _)| *f == name) else {
            if !header && HEADER_FIELDS.iter().any(|(f, _)| *f == name) {
                return Err(ctx.err(key.line, format_args!("field '{name}' belongs in the header, not in a tag")));
            }
            let names: Vec<&str> = TAG_FIELDS.iter().map(|f| f.0).collect();
            return Err(
                ctx.err(key.line, format_args!("unknown field '{}' (tag fields: {})", cut(name), names.join(", ")))
            );
        };
        if seen.contains(&field) {
            return Err(ctx.err(key.line, format_args!("field '{field}' is set twice")));
        }
        seen.push(field);
        check_type(ctx, field, ty, value)?;
        if !value.is_null() {
            out.insert(field, Field { node: value, line: value.line });
        }
    }
    Ok(out)
}

fn check_type(ctx: &Ctx, field: &str, ty: Type, value: &Element) -> Result<(), PackError> {
    if value.is_null() {
        return Ok(());
    }
    let ok = match (ty, &value.value) {
        (Type::Text, Value::Scalar { .. }) => true,
        (Type::Bool, Value::Scalar { .. }) => as_bool(value).is_some(),
        (Type::TextList, Value::Seq(items)) => items.iter().all(|i| i.scalar().is_some()),
        (Type::TagList, Value::Seq(_)) => true,
        _ => false,
    };
    if ok {
        return Ok(());
    }
    let expected = match ty {
        Type::Text => "text",
        Type::Bool => "true or false",
        Type::TextList => "a list of text",
        Type::TagList => "a list of tags",
    };
    let found = match value.scalar() {
        Some(text) => format!("'{}'", cut(text)),
        None => value.kind().to_string(),
    };
    Err(ctx.err(value.line, format_args!("field '{field}' must be {expected}, found {found}")))
}

fn as_bool(node: &Element) -> Option<bool> {
    match node.scalar()? {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// A tag's fields over the header's: what the tag sets, else what the header sets.
struct Merged<'a, 'n> {
    tag: &'a Fields<'n>,
    header: &'a Fields<'n>,
    line: usize,
}

impl<'n> Merged<'_, 'n> {
    fn get(&self, field: &str) -> Option<&Field<'n>> {
        self.tag.get(field).or_else(|| self.header.get(field))
    }

    /// A text field's trimmed value and line; empty text counts as unset.
    fn text(&self, field: &str) -> Option<(&'n str, usize)> {
        let f = self.get(field)?;
        let text = f.node.scalar()?.trim();
        (!text.is_empty()).then_some((text, f.line))
    }

    fn required(&self, ctx: &Ctx, field: &str) -> Result<(&'n str, usize), PackError> {
        self.text(field).ok_or_else(|| {
            ctx.err(self.line, format_args!("field '{field}' is missing (set it on the tag or in the header)"))
        })
    }

    fn owned(&self, field: &str) -> Option<String> {
        self.text(field).map(|(t, _)| t.to_string())
    }
}

/// Parses a TagPack.
pub fn parse_yaml(file: &str, text: &str, network: Network) -> Result<Pack, PackError> {
    let header_ctx = Ctx { file, place: "header".into() };
    let root = yaml::parse(text)
        .map_err(|e| PackError::Invalid {
            file: file.into(),
            line: e.line,
            what: format!("YAML syntax error: {}", e.reason),
        })?
        .ok_or_else(|| header_ctx.err(1, "the file holds no TagPack (it is empty)"))?;
    let header = fields(&header_ctx, &root, true)?;
    let header_text = |field: &str| -> Result<String, PackError> {
        match header.get(field).and_then(|f| f.node.scalar()).map(str::trim).filter(|t| !t.is_empty()) {
            Some(text) => Ok(text.to_string()),
            None => Err(header_ctx.err(root.line, format_args!("field '{field}' is missing"))),
        }
    };
    let title = header_text("title")?;
    if title.len() > MAX_TITLE {
        let line = header.get("title").map_or(root.line, |f| f.line);
        return Err(header_ctx.err(line, format_args!("field 'title' is longer than {MAX_TITLE} bytes")));
    }
    let creator = header_text("creator")?;
    if let Some(f) = header.get("confidence") {
        confidence(&header_ctx, f)?;
    }
    let Some(Value::Seq(tags)) = header.get("tags").map(|f| &f.node.value) else {
        return Err(header_ctx.err(root.line, "field 'tags' is missing (the list of tags)"));
    };
    let mut pack = Pack { title, file: file.into(), creator: Some(creator), entries: Vec::new(), skipped: 0 };
    for (i, node) in tags.iter().enumerate() {
        let ctx = Ctx { file, place: format!("tag {}", i + 1) };
        let own = fields(&ctx, node, false)?;
        let merged = Merged { tag: &own, header: &header, line: node.line };
        if let Some(entry) = tag_entry(&ctx, &merged, &pack.title, network)? {
            pack.entries.push(entry);
        } else {
            pack.skipped += 1;
        }
    }
    Ok(pack)
}

/// One tag of a TagPack; `None` when it is of another currency or network.
fn tag_entry(ctx: &Ctx, m: &Merged, pack: &str, network: Network) -> Result<Option<Entry>, PackError> {
    let (label, _) = m.required(ctx, "label")?;
    let (source, _) = m.required(ctx, "source")?;
    let (currency, _) = m.required(ctx, "currency")?;
    let chain = m.text("network").map_or(currency, |(n, _)| n);
    let (confidence, confidence_level) = match m.get("confidence") {
        Some(f) => confidence(ctx, f)?,
        None => (DEFAULT_CONFIDENCE.to_string(), confidence_level(DEFAULT_CONFIDENCE).unwrap_or(0)),
    };
    let subject = match (m.text("address"), m.text("tx_hash")) {
        (Some(_), Some(_)) => {
            return Err(ctx.err(m.line, "fields 'address' and 'tx_hash' are both set (a tag names exactly one)"))
        }
        (None, None) => return Err(ctx.err(m.line, "field 'address' is missing (a tag names an address or a tx_hash)")),
        _ if !is_btc(currency) || !is_btc(chain) => return Ok(None),
        (Some((address, line)), None) => match address_script(address, network) {
            Ok(Some(script)) => Subject::Script(script),
            Ok(None) => return Ok(None),
            Err(reason) => return Err(ctx.err(line, format_args!("field 'address': {reason}"))),
        },
        (None, Some((hash, line))) => match Txid::from_str(hash) {
            Ok(txid) if hash.len() == 64 => Subject::Tx(txid.to_byte_array()),
            _ => {
                let what =
                    format_args!("field 'tx_hash': malformed txid '{}': expected 64 hexadecimal digits", cut(hash));
                return Err(ctx.err(line, what));
            }
        },
    };
    let tag = Tag {
        label: label.to_string(),
        category: m.owned("category"),
        source: source.to_string(),
        confidence,
        confidence_level,
        pack: pack.to_string(),
        abuse: m.owned("abuse"),
        actor: m.owned("actor"),
        is_cluster_definer: m.get("is_cluster_definer").and_then(|f| as_bool(f.node)).unwrap_or(false),
    };
    Ok(Some(Entry { subject, tag, line: m.line }))
}

/// A confidence field's id and level; an error names the valid ids and the nearest one.
fn confidence(ctx: &Ctx, f: &Field) -> Result<(String, u8), PackError> {
    let id = f.node.scalar().unwrap_or_default().trim();
    match confidence_level(id) {
        Some(level) => Ok((id.to_string(), level)),
        None => Err(ctx.err(f.line, unknown_confidence(id))),
    }
}

fn unknown_confidence(id: &str) -> String {
    let names: Vec<&str> = CONFIDENCE_LEVELS.iter().map(|c| c.0).collect();
    let nearest = names.iter().min_by_key(|n| distance(n, id)).filter(|n| distance(n, id) <= 3);
    let hint = nearest.map(|n| format!("; did you mean '{n}'?")).unwrap_or_default();
    format!("field 'confidence': unknown confidence level '{}' (expected one of {}{hint})", cut(id), names.join(", "))
}

/// Levenshtein distance, for suggesting the nearest valid name.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(here + 1);
            prev = here;
        }
    }
    row[b.len()]
}

/// Whether a currency or network name is Bitcoin's.
fn is_btc(name: &str) -> bool {
    name.eq_ignore_ascii_case("btc")
}

/// The output script of an address of `network`; `None` for a valid address of another network.
fn address_script(address: &str, network: Network) -> Result<Option<Vec<u8>>, String> {
    let parsed = Address::<NetworkUnchecked>::from_str(address).map_err(|e| {
        format!("malformed address '{}': {}", cut(address), crate::target::address_problem(address, &e))
    })?;
    if !parsed.is_valid_for_network(network.bitcoin()) {
        return Ok(None);
    }
    Ok(Some(parsed.assume_checked().script_pubkey().into_bytes()))
}

/// At most 80 characters of a value, for messages.
fn cut(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_string(),
    }
}

/// Columns of a CSV pack; `category` and `confidence` may be left out.
const CSV_COLUMNS: [&str; 5] = ["address", "label", "category", "source", "confidence"];
const CSV_REQUIRED: [&str; 3] = ["address", "label", "source"];

#[derive(Debug, Deserialize)]
struct CsvRow {
    address: Option<String>,
    label: Option<String>,
    category: Option<String>,
    source: Option<String>,
    confidence: Option<String>,
}

/// Parses a CSV of Bitcoin address tags of the store's network (header
/// `address,label,category,source,confidence`). The pack's title is the file's name.
pub fn parse_csv(file: &str, data: &[u8], network: Network) -> Result<Pack, PackError> {
    let title = Path::new(file).file_name().map_or_else(|| file.to_string(), |n| n.to_string_lossy().into_owned());
    let csv_err = |e: csv::Error| {
        let line = e.position().map_or(1, |p| p.line() as usize);
        PackError::Invalid { file: file.into(), line, what: format!("CSV error: {e}") }
    };
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(data);
    let headers = reader.headers().map_err(csv_err)?.clone();
    check_csv_header(&Ctx { file, place: "header".into() }, &headers)?;
    let mut pack = Pack { title: title.clone(), file: file.into(), creator: None, entries: Vec::new(), skipped: 0 };
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(csv_err)? {
        let line = record.position().map_or(1, |p| p.line() as usize);
        let ctx = Ctx { file, place: format!("row {}", pack.entries.len() as u64 + pack.skipped + 1) };
        let row: CsvRow = record.deserialize(Some(&headers)).map_err(csv_err)?;
        match csv_entry(&ctx, line, row, &title, network)? {
            Some(entry) => pack.entries.push(entry),
            None => pack.skipped += 1,
        }
    }
    Ok(pack)
}

fn check_csv_header(ctx: &Ctx, headers: &csv::StringRecord) -> Result<(), PackError> {
    for (i, name) in headers.iter().enumerate() {
        if !CSV_COLUMNS.contains(&name) {
            let what = format_args!("unknown column '{}' (columns: {})", cut(name), CSV_COLUMNS.join(","));
            return Err(ctx.err(1, what));
        }
        if headers.iter().take(i).any(|n| n == name) {
            return Err(ctx.err(1, format_args!("column '{name}' appears twice")));
        }
    }
    match CSV_REQUIRED.iter().find(|c| !headers.iter().any(|h| h == **c)) {
        Some(missing) => {
            Err(ctx.err(1, format_args!("column '{missing}' is missing (columns: {})", CSV_COLUMNS.join(","))))
        }
        None => Ok(()),
    }
}

/// One CSV row's tag; `None` for an address of another network.
fn csv_entry(ctx: &Ctx, line: usize, row: CsvRow, pack: &str, network: Network) -> Result<Option<Entry>, PackError> {
    let nonempty = |v: Option<String>| v.filter(|s| !s.is_empty());
    let required = |field: &str, v: Option<String>| {
        nonempty(v).ok_or_else(|| ctx.err(line, format_args!("field '{field}' is missing")))
    };
    let address = required("address", row.address)?;
    let label = required("label", row.label)?;
    let source = required("source", row.source)?;
    let (confidence, confidence_level) = match nonempty(row.confidence) {
        Some(id) => match confidence_level(&id) {
            Some(level) => (id, level),
            None => return Err(ctx.err(line, unknown_confidence(&id))),
        },
        None => (DEFAULT_CONFIDENCE.to_string(), confidence_level(DEFAULT_CONFIDENCE).unwrap_or(0)),
    };
    let script = match address_script(&address, network) {
        Ok(Some(script)) => script,
        Ok(None) => return Ok(None),
        Err(reason) => return Err(ctx.err(line, format_args!("field 'address': {reason}"))),
    };
    let tag = Tag {
        label,
        category: nonempty(row.category),
        source,
        confidence,
        confidence_level,
        pack: pack.to_string(),
        abuse: None,
        actor: None,
        is_cluster_definer: false,
    };
    Ok(Some(Entry { subject: Subject::Script(script), tag, line }))
}
