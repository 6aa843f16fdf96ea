//! Computing a case's answer again from its file alone: the node's copies of the outputs the
//! file names are written into a scratch [`Excerpt`] of the index, the file's tags into a scratch
//! tag store, and the recorded command runs on them with the same code that answered it. The
//! answer must come out the same, field for field; the first field that differs is named.

use std::collections::BTreeMap;

use clap::Parser;
use indexer::network::Network;
use indexer::storage::excerpt::Excerpt;

use super::verify::VerifyError;
use super::CaseReport;
use crate::chain::Chain;
use crate::cli::{Cli, Format};
use crate::cmd::Job;
use crate::config::Settings;
use crate::render::{render, Style};
use crate::tags::pack::{Entry, Pack};
use crate::tags::{Subject, TagStore};

/// The scratch database's cache: an excerpt is small.
const CACHE_BYTES: usize = 16 << 20;

/// Runs the report's command on the excerpt and compares its answer with the recorded one.
pub fn recompute(report: &CaseReport, excerpt: &Excerpt, network: Network) -> Result<(), VerifyError> {
    let scratch = tempfile::Builder::new()
        .prefix("chaintrail-verify")
        .tempdir()
        .map_err(|e| VerifyError::Incomplete(format!("cannot make a scratch directory: {e}")))?;
    let index = scratch.path().join("index");
    let store = excerpt.write(&index, CACHE_BYTES).map_err(|e| VerifyError::Incomplete(e.to_string()))?;
    let failed = |e: crate::error::QueryError| VerifyError::Incomplete(e.to_string());
    let tags = match report.index.tags {
        true => Some(tag_store(report, &scratch.path().join("tags"), network)?),
        false => None,
    };
    let chain = Chain::new(store, Some(network)).map_err(failed)?.with_tags(tags);
    let mut line = vec!["query".to_string(), "--db".into(), index.display().to_string()];
    line.extend(report.command.iter().cloned());
    let cli = Cli::try_parse_from(&line).map_err(|e| VerifyError::Malformed {
        what: "command",
        text: format!("{} ({})", report.command.join(" "), e.kind()),
    })?;
    let settings = Settings::resolve(&cli).map_err(|e| VerifyError::Incomplete(e.to_string()))?;
    let job = Job::prepare(&cli.command, &settings).map_err(|e| VerifyError::Incomplete(e.to_string()))?;
    let answer = job.run(&chain).map_err(failed)?;
    let text = render(&answer, Format::Json, &Style::default()).map_err(|e| VerifyError::Incomplete(e.to_string()))?;
    let computed: serde_json::Value = serde_json::from_str(&text).expect("the JSON renderer writes JSON");
    if let Some((field, recorded, computed)) = first_difference(&report.answer, &computed, "answer") {
        return Err(VerifyError::Answer { field, recorded, computed });
    }
    let Some(recorded) = &report.requests else { return Ok(()) };
    let computed = super::requests::compute(&chain, &recorded.asked, &report.answer).map_err(failed)?;
    let as_json = |r: &super::requests::Requests| serde_json::to_value(r).expect("plain data");
    match first_difference(&as_json(recorded), &as_json(&computed), "requests") {
        None => Ok(()),
        Some((field, recorded, computed)) => Err(VerifyError::Answer { field, recorded, computed }),
    }
}

/// A tag store holding the report's tags, one pack per pack title.
fn tag_store(report: &CaseReport, dir: &std::path::Path, network: Network) -> Result<TagStore, VerifyError> {
    let failed = |e: crate::tags::store::TagStoreError| VerifyError::Incomplete(format!("scratch tag store: {e}"));
    let store = TagStore::open_write(dir, network).map_err(failed)?;
    let mut packs: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    for tagged in &report.tags_used {
        let script = hex::decode(&tagged.script_hex)
            .map_err(|_| VerifyError::Malformed { what: "tagged script", text: tagged.script_hex.clone() })?;
        for tag in &tagged.tags {
            let entry = Entry { subject: Subject::Script(script.clone()), tag: tag.clone(), line: 0 };
            packs.entry(tag.pack.clone()).or_default().push(entry);
        }
    }
    for tagged in &report.tx_tags_used {
        let txid: bitcoin::Txid = tagged
            .txid
            .parse()
            .map_err(|_| VerifyError::Malformed { what: "tagged txid", text: tagged.txid.clone() })?;
        for tag in &tagged.tags {
            let subject = Subject::Tx(bitcoin::hashes::Hash::to_byte_array(txid));
            packs.entry(tag.pack.clone()).or_default().push(Entry { subject, tag: tag.clone(), line: 0 });
        }
    }
    for (title, entries) in packs {
        let pack = Pack { title, file: "case file".into(), creator: None, entries, skipped: 0 };
        store.import(&pack).map_err(failed)?;
    }
    Ok(store)
}

/// The first place two JSON values differ, as a path (`answer.destinations[2].address`) with
/// each side's value; `None` when they are equal.
pub fn first_difference(
    recorded: &serde_json::Value,
    computed: &serde_json::Value,
    path: &str,
) -> Option<(String, String, String)> {
    use serde_json::Value;
    let shown = |v: Option<&Value>| v.map_or_else(|| "nothing".to_string(), |v| v.to_string());
    match (recorded, computed) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            keys.into_iter().find_map(|k| {
                let at = format!("{path}.{k}");
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => first_difference(x, y, &at),
                    (x, y) => Some((at, shown(x), shown(y))),
                }
            })
        }
        (Value::Array(a), Value::Array(b)) => (0..a.len().max(b.len())).find_map(|i| {
            let at = format!("{path}[{i}]");
            match (a.get(i), b.get(i)) {
                (Some(x), Some(y)) => first_difference(x, y, &at),
                (x, y) => Some((at, shown(x), shown(y))),
            }
        }),
        (a, b) if a == b => None,
        (a, b) => Some((path.to_string(), a.to_string(), b.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_first_difference_is_named_by_its_path() {
        let a = json!({"destinations": [{"address": "x", "traced_sat": 5}, {"address": "y"}], "source_sat": 9});
        assert_eq!(first_difference(&a, &a.clone(), "answer"), None);
        let mut b = a.clone();
        b["destinations"][1]["address"] = json!("z");
        b["source_sat"] = json!(10);
        assert_eq!(
            first_difference(&a, &b, "answer"),
            Some(("answer.destinations[1].address".into(), "\"y\"".into(), "\"z\"".into()))
        );
        let mut c = a.clone();
        c["destinations"].as_array_mut().unwrap().pop();
        assert_eq!(
            first_difference(&a, &c, "answer"),
            Some(("answer.destinations[1]".into(), "{\"address\":\"y\"}".into(), "nothing".into()))
        );
    }
}
