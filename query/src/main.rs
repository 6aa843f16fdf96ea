//! `query`: parse arguments, set up logging, run the command, report any error on one line.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;
use query::error::EXIT_USAGE;
use query::{usage, Cli};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    // For messages only: clap reads the arguments itself, and refuses those that are not UTF-8.
    let argv: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {}", usage::clap_line(&e, &argv));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match query::run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = query::exit_code(&e);
            let line = query::one_line(&e);
            let line = if code == EXIT_USAGE { usage::with_help(&line, &argv) } else { line };
            eprintln!("error: {line}");
            ExitCode::from(code)
        }
    }
}
