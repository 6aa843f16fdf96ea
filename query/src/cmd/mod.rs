//! The commands: each checks its arguments without the database ([`Job::prepare`]), then answers
//! from it ([`Job::run`]) with a [`Report`] for the output module to write.

pub mod address;
pub mod cluster;
mod clusters;
pub mod exposure;
pub(crate) mod history;
pub mod keys;
pub mod path;
mod report;
mod resolve;
pub mod tags;
pub mod taint;
pub mod trace;
pub mod tx;
#[cfg(feature = "verify")]
pub mod verify;

use crate::chain::Chain;
use crate::cli::{Command, Format};
use crate::config::Settings;
use crate::error::{Result, UsageError};
use crate::model::Report;

/// A command with its arguments checked, ready to run against the database.
#[derive(Debug)]
pub enum Job {
    Tx(tx::Request),
    Address(address::Request),
    Trace(trace::Request),
    Path(path::Request),
    Cluster(cluster::Request),
    Clusters(clusters::Request),
    Exposure(exposure::Request),
    Taint(taint::Request),
    /// Runs on the tag store alone (see [`tags::Request::run`]); against an open index it can
    /// only read (`show`, `list`).
    Tags(tags::Request),
    /// Needs neither the index nor a node (see [`keys::Request::run`]).
    Keys(keys::Request),
    /// Runs against a node, not the index (see [`verify::Request::run`]).
    #[cfg(feature = "verify")]
    Verify(Box<verify::Request>),
    /// Runs a trace, path or exposure and writes its case file.
    Report(Box<report::Request>),
}

impl Job {
    /// Checks the arguments that need no database: txid and address syntax, cursors, and
    /// whether the output format suits the command.
    pub fn prepare(command: &Command, settings: &Settings) -> Result<Job, UsageError> {
        let name = if matches!(command, Command::Cluster(c) if c.why) { "cluster --why" } else { command.name() };
        check_format(settings.format, name)?;
        Ok(match command {
            Command::Tx(args) => Job::Tx(tx::Request::prepare(&args.into())?),
            Command::Address(args) => Job::Address(address::Request::prepare(&args.into(), settings)?),
            Command::Trace(args) => Job::Trace(trace::Request::prepare(&args.into(), settings)?),
            Command::Path(args) => Job::Path(path::Request::prepare(&args.into(), settings)?),
            Command::Cluster(args) => Job::Cluster(cluster::Request::prepare(&args.params()?)?),
            Command::Clusters(args) => Job::Clusters(clusters::Request::prepare(args)?),
            Command::Exposure(args) => Job::Exposure(exposure::Request::prepare(&args.into(), settings)?),
            Command::Taint(args) => Job::Taint(taint::Request::prepare(&args.into(), settings)?),
            Command::Tags(args) => Job::Tags(tags::Request::prepare(args)?),
            Command::Keys(args) => Job::Keys(keys::Request::prepare(args)),
            #[cfg(feature = "verify")]
            Command::Verify(args) => Job::Verify(Box::new(verify::Request::prepare(args, settings)?)),
            Command::Report(args) => Job::Report(Box::new(report::Request::prepare(args, settings)?)),
            #[cfg(feature = "serve")]
            Command::Serve(_) => return Err(UsageError::NoAnswer("serve")),
        })
    }

    pub fn run(&self, chain: &Chain) -> Result<Report> {
        match self {
            Job::Tx(req) => req.run(chain),
            Job::Address(req) => req.run(chain),
            Job::Trace(req) => req.run(chain),
            Job::Path(req) => req.run(chain),
            Job::Cluster(req) => req.run(chain),
            Job::Clusters(req) => req.run(chain),
            Job::Exposure(req) => req.run(chain),
            Job::Taint(req) => req.run(chain),
            Job::Tags(req) => req.answer(chain.network(), chain.tags()),
            Job::Keys(req) => req.run(),
            #[cfg(feature = "verify")]
            Job::Verify(req) => req.run(),
            Job::Report(req) => req.run(chain),
        }
    }
}

/// Refuses a format the command (by name: `cluster --why` apart from `cluster`) cannot be
/// written in: pictures are of traces and paths, CSV of lists.
pub fn check_format(format: Format, command: &'static str) -> Result<(), UsageError> {
    if format.is_graph() && !matches!(command, "trace" | "path") {
        let command = command.split(' ').next().unwrap_or(command);
        return Err(UsageError::GraphFormat { format: format.name(), command });
    }
    let csv = matches!(command, "tx" | "address" | "trace" | "path" | "cluster" | "clusters" | "taint");
    if format == Format::Csv && !csv {
        return Err(UsageError::CsvFormat { command });
    }
    Ok(())
}

#[cfg(test)]
mod cluster_tests;
#[cfg(test)]
mod exposure_tests;
#[cfg(test)]
mod params_tests;
#[cfg(test)]
mod report_tests;
#[cfg(test)]
mod tags_tests;
#[cfg(test)]
mod taint_tests;
#[cfg(test)]
mod tests;
