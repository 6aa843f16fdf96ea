//! Answers investigators' questions from the indexer's database: transactions, addresses, traces
//! of where money went or came from, and the shortest flow of funds between two points.
//!
//! [`run`] resolves the settings, checks the arguments, opens the database read-only as a
//! follower of the indexer, runs the command and writes its report.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod budget;
pub mod chain;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod engine;
pub mod error;
pub mod model;
pub mod output;
pub mod parallel;
pub mod params;
pub mod render;
pub mod report;
#[cfg(feature = "serve")]
pub mod serve;
pub mod tags;
pub mod target;
pub mod usage;

#[cfg(test)]
mod fixture;
#[cfg(test)]
mod proptests;

use std::time::Instant;

use anyhow::Context;
use indexer::storage::store::StoreError;
use tracing::{debug, warn};

pub use cli::Cli;
pub use error::{exit_code, one_line};

use crate::chain::Chain;
use crate::cmd::Job;
use crate::config::Settings;
use crate::error::QueryError;
use crate::tags::TagStore;

/// Runs one command line to completion.
pub fn run(cli: &Cli) -> anyhow::Result<()> {
    let started = Instant::now();
    let settings = Settings::resolve(cli)?;
    #[cfg(feature = "serve")]
    if let cli::Command::Serve(args) = &cli.command {
        return serve::run(&settings, args);
    }
    let job = Job::prepare(&cli.command, &settings)?;
    if let Job::Tags(req) = &job {
        // The tag commands use the tag store alone: no index is opened.
        let report = req.run(&settings)?;
        output::emit(&report, settings.format, &settings.style)?;
        debug!(command = cli.command.name(), ms = started.elapsed().as_secs_f64() * 1e3, "done");
        return Ok(());
    }
    if let Job::Keys(req) = &job {
        let report = req.run()?;
        output::emit(&report, settings.format, &settings.style)?;
        return Ok(());
    }
    #[cfg(feature = "verify")]
    if let Job::Verify(req) = &job {
        // Verify checks a report against the node: no index is opened.
        let report = req.run()?;
        output::emit(&report, settings.format, &settings.style)?;
        debug!(command = cli.command.name(), ms = started.elapsed().as_secs_f64() * 1e3, "done");
        return Ok(());
    }
    let chain = open_index(&settings)?;
    let opened = started.elapsed();
    let report = job.run(&chain)?;
    let answered = started.elapsed();
    output::emit(&report, settings.format, &settings.style)?;
    debug!(
        command = cli.command.name(),
        open_ms = opened.as_secs_f64() * 1e3,
        answer_ms = (answered - opened).as_secs_f64() * 1e3,
        write_ms = (started.elapsed() - answered).as_secs_f64() * 1e3,
        "done"
    );
    Ok(())
}

/// Opens the index as a follower, with the tag store of its network.
pub(crate) fn open_index(settings: &Settings) -> anyhow::Result<Chain> {
    let chain = match Chain::open(&settings.db, settings.cache_bytes, settings.network) {
        Ok(chain) => chain,
        Err(e @ QueryError::Store(StoreError::Rocks(_))) => {
            return Err(e).with_context(|| format!("cannot open database {}", settings.db.display()))
        }
        Err(e) => return Err(e.into()),
    };
    let tags = open_tags(settings, chain.network());
    Ok(chain.with_tags(tags))
}

/// The tag store of the index's network, read-only, for the commands that show tags. None when
/// there is none yet; a store that cannot be opened is reported and left out, as tags only add
/// to the answers.
fn open_tags(settings: &Settings, network: indexer::network::Network) -> Option<TagStore> {
    let opened = settings
        .tags_dir(network)
        .map_err(QueryError::from)
        .and_then(|dir| TagStore::open_read(&dir, network).map_err(QueryError::from));
    match opened {
        Ok(store) => store,
        Err(e) => {
            warn!("answering without tags: {e}");
            None
        }
    }
}
