//! `query report --out DIR <trace|path|exposure|taint ...>`: runs the command while the store
//! notes what it reads, then writes its case file into a new or empty directory: `report.json`
//! (the answer, the index tip, every output it was computed from, the clusters and tags used, the
//! case's particulars, a digest and optionally a signature: see [`crate::report`]) and
//! `report.html`.
//!
//! The command is recorded as the arguments that reproduce the answer, rebuilt from the parsed
//! ones with every option spelled out (defaults and the config file's `max_txs` included), so
//! that `query --db DB <command...>` gives the same answer on the same index whatever the
//! defaults or the config file say. Global options (`--db`, `--format`, ...) are left out.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use super::{exposure, path, taint, trace, Job};
use crate::chain::{Chain, Resolver};
use crate::cli::{ExposureArgs, Follow, Format, PathArgs, ReportArgs, ReportCommand, TaintArgs, TraceArgs};
use crate::config::Settings;
use crate::error::{QueryError, Result, UsageError};
use crate::model::{btc, Body, Report, ReportView};
use crate::output;
use crate::render::{render, Style};
use crate::report::hops::{self, Evidence};
use crate::report::html::{self, Page, Picture};
use crate::report::{requests, sign, BlockRef, CaseInfo, CaseReport, FORMAT};

/// The case file's data.
pub const REPORT_JSON: &str = "report.json";
/// The case file's page.
pub const REPORT_HTML: &str = "report.html";
/// The deposits and holders of a forward trace or taint, as CSV.
pub const REQUESTS_CSV: &str = "requests.csv";

/// The Graphviz program that draws the picture.
const DOT: &str = "dot";

#[derive(Debug)]
pub struct Request {
    out: PathBuf,
    inner: Box<Job>,
    command: Vec<String>,
    case: CaseInfo,
    sign: Option<ed25519_dalek::SigningKey>,
}

/// What `created` is measured by.
pub const CLOCK: &str = "the clock of the machine that made the file, not checked";

impl Request {
    /// Checks the command's own arguments as that command does, and that `--out` is a new or
    /// empty directory.
    pub fn prepare(args: &ReportArgs, settings: &Settings) -> Result<Request, UsageError> {
        let out = args.out.clone().ok_or(UsageError::ReportNoOut)?;
        let inner = match &args.command {
            ReportCommand::Trace(a) => Job::Trace(trace::Request::prepare(&a.into(), settings)?),
            ReportCommand::Path(a) => Job::Path(path::Request::prepare(&a.into(), settings)?),
            ReportCommand::Exposure(a) => Job::Exposure(exposure::Request::prepare(&a.into(), settings)?),
            ReportCommand::Taint(a) => Job::Taint(taint::Request::prepare(&a.into(), settings)?),
        };
        check_out(&out)?;
        let sign = args.sign.as_deref().map(sign::read_secret).transpose()?;
        let text = |t: &Option<String>| t.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(String::from);
        let case = CaseInfo {
            id: text(&args.case_id),
            analyst: text(&args.analyst),
            note: text(&args.note),
            created: String::new(),
            clock: CLOCK.into(),
        };
        Ok(Request { out, inner: Box::new(inner), command: command_line(&args.command, settings), case, sign })
    }

    pub fn run(&self, chain: &Chain) -> Result<Report> {
        // What the command reads is what the case file carries.
        chain.store().record();
        let answer = self.inner.run(chain);
        let json = answer.as_ref().ok().map(answer_json).transpose();
        let requests = match (&answer, &json) {
            (Ok(a), Ok(Some(json))) => {
                requests::Asked::of(&a.body).map(|asked| requests::compute(chain, &asked, json)).transpose()
            }
            _ => Ok(None),
        };
        let reads = chain.store().take_reads();
        let (answer, requests) = (answer?, requests?);
        let json = json?.expect("an answer has its JSON");
        let mut notes = answer.notes.clone();
        let evidence = hops::gather(chain, &reads)?;
        let (case, times) = self.case(chain, json, evidence, requests)?;
        let picture = match drawing(&answer) {
            Some(dot) => draw(DOT, &dot, &answer),
            None => Picture::Missing("this answer has no picture".into()),
        };
        if let Picture::Missing(why) = &picture {
            notes.push(format!("{REPORT_HTML} has no picture of the flow: {why}"));
        }
        let page =
            html::page(&Page { case: &case, body: &answer.body, times: &times, picture: &picture, notes: &notes });
        let mut json = serde_json::to_string_pretty(&case).expect("a report holds only JSON values");
        json.push('\n');
        let csv = case.requests.as_ref().map(|r| requests::csv(r, case.tip.height));
        write_case(&self.out, &json, &page, csv.as_deref())?;
        let view = ReportView {
            report: self.out.join(REPORT_JSON).display().to_string(),
            html: self.out.join(REPORT_HTML).display().to_string(),
            digest: case.digest.clone(),
            hops: case.hops.len() as u64,
            tip: case.tip.clone(),
        };
        Ok(Report { body: Body::Report(view), notes })
    }

    /// The sealed (and signed) report of an answer, and the times of the blocks it names.
    fn case(
        &self,
        chain: &Chain,
        answer: serde_json::Value,
        evidence: Evidence,
        requests: Option<requests::Requests>,
    ) -> Result<(CaseReport, std::collections::BTreeMap<u32, String>)> {
        let Evidence { hops, scripts_used, clusters_used, tags_used, tx_tags_used, index, mut times } = evidence;
        let tip = chain.tip_height().ok_or_else(|| QueryError::Corrupt("the index has no blocks".into()))?;
        let block = Resolver::new(chain).block(tip)?;
        times.insert(tip, block.time);
        let case = CaseReport {
            format: FORMAT,
            tool: format!("chaintrail query {}", env!("CARGO_PKG_VERSION")),
            command: self.command.clone(),
            network: chain.network().core_name().to_string(),
            tip: BlockRef { height: tip, hash: block.hash },
            case: CaseInfo { created: crate::model::utc_now(), ..self.case.clone() },
            index,
            hops,
            scripts_used,
            clusters_used,
            tags_used,
            tx_tags_used,
            answer,
            requests,
            digest: String::new(),
            signature: None,
        };
        let mut case = case.seal();
        if let Some(key) = &self.sign {
            case.signature = Some(sign::sign(key, &case.digest));
        }
        Ok((case, times))
    }
}

/// The answer as the JSON `--format json` prints.
fn answer_json(answer: &Report) -> Result<serde_json::Value> {
    let text = render(answer, Format::Json, &Style::default())?;
    Ok(serde_json::from_str(&text).expect("the JSON renderer writes JSON"))
}

/// The dot text of the answer's picture: a trace's or path's txs, or an exposure's entities.
fn drawing(answer: &Report) -> Option<String> {
    match &answer.body {
        Body::Trace(_) | Body::Path(_) => render(answer, Format::Dot, &Style::default()).ok(),
        Body::Exposure(e) => Some(crate::report::exposure::dot(e)),
        _ => None,
    }
}

/// The picture Graphviz's `program` draws from dot text; without Graphviz, why there is none.
/// A trace or path Graphviz cannot lay out in rows is drawn on one row.
pub fn draw(program: &str, dot: &str, answer: &Report) -> Picture {
    match output::draw_or_flatten(program, dot, answer, &Style::default(), Format::Svg) {
        Ok((svg, _)) => Picture::Svg(String::from_utf8_lossy(&svg).into_owned()),
        Err(QueryError::Graphviz { problem, .. }) => Picture::Missing(format!("drawing it {problem}")),
        Err(e) => Picture::Missing(e.to_string()),
    }
}

/// Refuses an `--out` that exists and is not an empty directory: a case file is never
/// overwritten.
fn check_out(dir: &Path) -> Result<(), UsageError> {
    let refuse = |problem: String| UsageError::ReportDir { dir: dir.display().to_string(), problem };
    match fs::read_dir(dir) {
        Ok(entries) => {
            let mut names: Vec<String> =
                entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
            if names.is_empty() {
                return Ok(());
            }
            names.sort();
            let more = if names.len() > 3 { format!(" and {} more", names.len() - 3) } else { String::new() };
            names.truncate(3);
            Err(refuse(format!("is not empty (it holds {}{more})", names.join(", "))))
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(_) if dir.is_file() => Err(refuse("is a file, not a directory".into())),
        Err(e) => Err(refuse(format!("cannot be read ({e})"))),
    }
}

/// Creates the directory and writes the files, never replacing one.
fn write_case(dir: &Path, json: &str, page: &str, csv: Option<&str>) -> Result<()> {
    let failed = |path: &Path, e: std::io::Error| QueryError::ReportWrite {
        path: path.display().to_string(),
        problem: e.to_string(),
    };
    fs::create_dir_all(dir).map_err(|e| failed(dir, e))?;
    let files = [(REPORT_JSON, Some(json)), (REPORT_HTML, Some(page)), (REQUESTS_CSV, csv)];
    for (name, text) in files.into_iter().filter_map(|(n, t)| Some((n, t?))) {
        let path = dir.join(name);
        let mut file = OpenOptions::new().write(true).create_new(true).open(&path).map_err(|e| failed(&path, e))?;
        file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(|e| failed(&path, e))?;
    }
    Ok(())
}

/// The command's arguments as typed after `query`, with every option that shapes its answer.
pub fn command_line(command: &ReportCommand, settings: &Settings) -> Vec<String> {
    match command {
        ReportCommand::Trace(a) => trace_line(a, settings),
        ReportCommand::Path(a) => path_line(a, settings),
        ReportCommand::Exposure(a) => exposure_line(a, settings),
        ReportCommand::Taint(a) => taint_line(a, settings),
    }
}

fn trace_line(a: &TraceArgs, settings: &Settings) -> Vec<String> {
    let mut line = words(&["trace", a.direction.name(), a.target.trim()]);
    option(&mut line, "--hops", a.hops);
    option(&mut line, "--min-value", amount(a.min_value));
    match (a.top, a.follow) {
        (Some(n), _) => option(&mut line, "--top", n),
        (None, Follow::All) => option(&mut line, "--follow", "all"),
        (None, Follow::Largest) => option(&mut line, "--follow", "largest"),
    }
    option(&mut line, "--max-txs", a.max_txs.unwrap_or(settings.trace_max_txs));
    for address in &a.stop_at_address {
        option(&mut line, "--stop-at-address", address.trim());
    }
    if a.stop_at_tagged {
        line.push("--stop-at-tagged".into());
    }
    let categories: Vec<&str> = a.stop_at_category.iter().map(|c| c.trim()).filter(|c| !c.is_empty()).collect();
    if !categories.is_empty() {
        option(&mut line, "--stop-at-category", categories.join(","));
    }
    line
}

fn path_line(a: &PathArgs, settings: &Settings) -> Vec<String> {
    let mut line = words(&["path", a.from.trim(), a.to.trim()]);
    option(&mut line, "--max-hops", a.max_hops);
    option(&mut line, "--min-value", amount(a.min_value));
    option(&mut line, "--max-txs", a.max_txs.unwrap_or(settings.path_max_txs));
    line
}

fn exposure_line(a: &ExposureArgs, settings: &Settings) -> Vec<String> {
    let mut line = words(&["exposure", a.target.trim()]);
    option(&mut line, "--direction", a.direction.name());
    option(&mut line, "--hops", a.hops);
    option(&mut line, "--max-txs", a.max_txs.unwrap_or(settings.trace_max_txs));
    line
}

fn taint_line(a: &TaintArgs, settings: &Settings) -> Vec<String> {
    let mut line = words(&["taint", a.target.trim()]);
    option(&mut line, "--model", a.model.unwrap_or(crate::engine::TaintModel::Haircut).name());
    if a.compare {
        line.push("--compare".into());
    }
    option(&mut line, "--hops", a.hops);
    option(&mut line, "--max-txs", a.max_txs.unwrap_or(settings.trace_max_txs));
    option(&mut line, "--min-sat", format!("{}sat", a.min_sat.max(1)));
    line
}

fn words(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

fn option(line: &mut Vec<String>, name: &str, value: impl ToString) {
    line.push(name.to_string());
    line.push(value.to_string());
}

/// An amount as `--min-value` reads it back exactly: `0`, or BTC without trailing zeros
/// (`10btc`, `0.00005btc`).
fn amount(sats: u64) -> String {
    if sats == 0 {
        return "0".into();
    }
    let text = btc(sats);
    format!("{}btc", text.trim_end_matches('0').trim_end_matches('.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::parse_amount;

    #[test]
    fn amounts_read_back_exactly() {
        for sats in [0, 1, 5000, 150_000_000, 1_000_000_000, 2_100_000_000_000_000, 123_456_789] {
            assert_eq!(parse_amount(&amount(sats)), Ok(sats), "{}", amount(sats));
        }
        assert_eq!(amount(1_000_000_000), "10btc");
        assert_eq!(amount(5000), "0.00005btc");
    }
}
