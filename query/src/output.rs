//! The one module that writes: a report's text (or, for `--format svg` and `png`, the picture
//! Graphviz draws from its dot text) to standard output, its notes to standard error.

use std::io::{BufWriter, ErrorKind, IsTerminal, Read, Write};
use std::process::{Command, Stdio};

use anyhow::Context;

use crate::cli::Format;
use crate::error::QueryError;
use crate::model::Report;
use crate::render::{render, write_json, Style};

/// The Graphviz program that lays out and draws dot text.
const DOT: &str = "dot";

/// Writes a report. A reader that stops early (`| head`) is not an error. JSON is written as it
/// is produced; other formats are rendered first.
pub fn emit(report: &Report, format: Format, style: &Style) -> anyhow::Result<()> {
    let bytes = match format {
        Format::Json => None,
        Format::Svg | Format::Png => {
            if format == Format::Png && std::io::stdout().is_terminal() {
                anyhow::bail!("--format png writes a binary picture: redirect it to a file (> trace.png)");
            }
            let (picture, flattened) = draw_or_flatten(DOT, &render(report, format, style)?, report, style, format)?;
            if flattened {
                eprintln!("note: Graphviz could not lay the picture out in rows: it is drawn on one row");
            }
            Some(picture)
        }
        _ => Some(render(report, format, style)?.into_bytes()),
    };
    let mut stdout = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = match &bytes {
        Some(bytes) => stdout.write_all(bytes),
        None => write_json(&mut stdout, &report.body),
    };
    match written.and_then(|()| stdout.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::BrokenPipe => return Ok(()),
        Err(e) => return Err(e).context("cannot write to standard output"),
    }
    let mut stderr = std::io::stderr().lock();
    for note in &report.notes {
        // Notes are advisory: failing to show one must not fail the query.
        let _ = writeln!(stderr, "note: {note}");
    }
    Ok(())
}

/// A line for the person running a command that goes on (`serve` saying where it listens), on
/// standard error.
pub fn say(line: &str) {
    // Advisory, like notes: failing to show it must not stop the command.
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Has Graphviz's `program` draw dot text as `format` (`svg` or `png`): the dot text goes to its
/// standard input, the picture comes from its standard output.
/// Has Graphviz draw `dot`, the picture of `report` in `style`; when it fails on a picture
/// wrapped into rows (its layout of arrows across rows is fragile on wide traces: `trouble in
/// init_rank`), draws the same picture on one row instead. Says whether it did.
pub(crate) fn draw_or_flatten(
    program: &str,
    dot: &str,
    report: &Report,
    style: &Style,
    format: Format,
) -> Result<(Vec<u8>, bool), QueryError> {
    match draw(program, dot, format) {
        Ok(picture) => Ok((picture, false)),
        Err(e) => match one_row(report, style, dot) {
            Some(flat) => Ok((draw(program, &flat, format)?, true)),
            None => Err(e),
        },
    }
}

/// The picture of `report` on one row, or `None` when `wrapped`, its dot text in `style`, had one
/// row already (or the answer has no such picture).
pub(crate) fn one_row(report: &Report, style: &Style, wrapped: &str) -> Option<String> {
    let flat = render(report, Format::Dot, &Style { one_row: true, ..*style }).ok()?;
    (flat != wrapped).then_some(flat)
}

pub(crate) fn draw(program: &str, dot: &str, format: Format) -> Result<Vec<u8>, QueryError> {
    let fail = |problem: String| QueryError::Graphviz { format: format.name(), problem };
    let spawned = Command::new(program)
        .arg(format!("-T{}", format.name()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(fail(format!(
                "needs Graphviz's {program} program, which was not found: install graphviz (apt-get install graphviz), or use --format dot and render it elsewhere"
            )))
        }
        Err(e) => return Err(fail(format!("could not run Graphviz's {program}: {e}"))),
    };
    let mut stdin = child.stdin.take().expect("stdin was piped");
    let mut stderr = child.stderr.take().expect("stderr was piped");
    // Feed and drain at once, so neither side waits on a full pipe.
    let (written, said, output) = std::thread::scope(|s| {
        let feeding = s.spawn(move || stdin.write_all(dot.as_bytes()));
        let complaining = s.spawn(move || {
            let mut said = String::new();
            stderr.read_to_string(&mut said).map(|_| said)
        });
        let output = child.wait_with_output();
        (feeding.join(), complaining.join(), output)
    });
    let output = output.map_err(|e| fail(format!("could not read Graphviz's {program} output: {e}")))?;
    let said = said.ok().and_then(Result::ok).unwrap_or_default();
    if !output.status.success() {
        let first = said.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("no message");
        return Err(fail(format!("failed in Graphviz's {program} ({}): {first}", output.status)));
    }
    if let Ok(Err(e)) = written {
        return Err(fail(format!("could not hand the picture to Graphviz's {program}: {e}")));
    }
    Ok(output.stdout)
}
