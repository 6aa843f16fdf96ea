//! The one module that writes: a report's text to standard output, its notes to standard error.

use std::io::{ErrorKind, Write};

use anyhow::Context;

use crate::cli::Format;
use crate::model::Report;
use crate::render::{render, Style};

/// Writes a report. A reader that stops early (`| head`) is not an error.
pub fn emit(report: &Report, format: Format, style: &Style) -> anyhow::Result<()> {
    let text = render(report, format, style)?;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
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
