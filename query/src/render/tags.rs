//! Tables for the tag commands: what an import did, the tags of an address, a page of tags, and
//! a removed pack.

use std::fmt::{self, Write};

use super::table::{fields, txid, Table};
use super::Style;
use crate::model::{AddressTagsView, TagDetailView, TagImportView, TagListView, TagRemoveView};

pub fn import(out: &mut String, v: &TagImportView) -> fmt::Result {
    writeln!(out, "Tag store {} ({})", v.store, v.network)?;
    let mut t =
        Table::new(&[("PACK", false), ("FILE", false), ("IMPORTED", true), ("SKIPPED", true), ("DUPLICATES", true)]);
    for p in &v.packs {
        t.row(vec![
            p.title.clone(),
            p.file.clone(),
            p.imported.to_string(),
            p.skipped.to_string(),
            p.duplicates.to_string(),
        ]);
    }
    t.row(vec![
        "total".into(),
        String::new(),
        v.total.imported.to_string(),
        v.total.skipped.to_string(),
        v.total.duplicates.to_string(),
    ]);
    t.write(out)
}

fn columns() -> Vec<(&'static str, bool)> {
    vec![
        ("LABEL", false),
        ("CATEGORY", false),
        ("CONFIDENCE", false),
        ("ABUSE", false),
        ("PACK", false),
        ("SOURCE", false),
    ]
}

fn cells(tag: &TagDetailView) -> Vec<String> {
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    vec![
        tag.tag.label.clone(),
        or_dash(&tag.tag.category),
        format!("{} ({})", tag.tag.confidence, tag.confidence_level),
        or_dash(&tag.abuse),
        tag.tag.pack.clone(),
        tag.tag.source.clone(),
    ]
}

pub fn address(out: &mut String, v: &AddressTagsView) -> fmt::Result {
    fields(out, &[("Address", v.address.clone()), ("Tags", v.tags.len().to_string())])?;
    if v.tags.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    let mut t = Table::new(&columns());
    for tag in &v.tags {
        t.row(cells(tag));
    }
    t.write(out)
}

pub fn list(out: &mut String, v: &TagListView, style: &Style) -> fmt::Result {
    let mut cols = vec![("ADDRESS OR TXID", false)];
    cols.extend(columns());
    let mut t = Table::new(&cols);
    for tagged in &v.tags {
        let id = tagged.txid.as_deref().map(|id| txid(id, style));
        let subject = tagged.address.clone().or(id).or_else(|| tagged.script_hex.clone());
        let mut row = vec![subject.unwrap_or_default()];
        row.extend(cells(&tagged.tag));
        t.row(row);
    }
    t.write(out)?;
    if let Some(cursor) = &v.next_cursor {
        writeln!(out, "Next page: add --after {cursor}")?;
    }
    Ok(())
}

pub fn remove(out: &mut String, v: &TagRemoveView) -> fmt::Result {
    writeln!(out, "Removed pack '{}' and its {} tag(s)", v.pack, v.removed)
}
