//! `query`: parse arguments, set up logging, run the command, report any error on one line.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;
use query::Cli;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e)
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                && e.render().to_string().contains("query tags") =>
        {
            eprintln!("error: no tags command given: use import, show, list or remove (see 'query tags --help')");
            return ExitCode::from(query::error::EXIT_USAGE);
        }
        Err(e) if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprintln!(
                "error: no command given: use tx, address, trace, path, cluster, clusters, exposure or tags (see 'query --help')"
            );
            return ExitCode::from(query::error::EXIT_USAGE);
        }
        Err(e) => {
            let text = e.render().to_string();
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("error: invalid arguments");
            eprintln!("{} (see 'query --help')", first.trim_end());
            return ExitCode::from(query::error::EXIT_USAGE);
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
            eprintln!("error: {}", query::one_line(&e));
            ExitCode::from(query::exit_code(&e))
        }
    }
}
