//! Error types of the query library, and the exit code each kind of failure maps to.
//!
//! Two families: [`UsageError`] means the command line (or config file, or a tag pack being
//! imported) is wrong and the user must change it (exit code 2, like clap's own errors); [`QueryError`] means the arguments are
//! well-formed but the database cannot answer (exit code 1).

use indexer::storage::store::StoreError;

use crate::cli::cut;

/// Exit code for usage errors: bad flags, malformed arguments, a bad config file.
pub const EXIT_USAGE: u8 = 2;
/// Exit code for every other failure.
pub const EXIT_FAILURE: u8 = 1;
/// Most characters of user input quoted in a message; longer input is cut, ending in `...`.
pub const QUOTE_MAX: usize = 40;
/// The same for txids, outpoints and addresses, shown whole (the longest, a bech32 address, has 90
/// characters) so that a typo can be found in them.
pub const ID_QUOTE_MAX: usize = 90;

/// The command line or config file is wrong.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("malformed txid '{}': {}", cut(.0, ID_QUOTE_MAX), txid_problem(.0))]
    Txid(String),
    #[error("malformed outpoint '{}': expected <txid>:<vout>, a txid of 64 hexadecimal digits and an output number", cut(.0, ID_QUOTE_MAX))]
    Outpoint(String),
    #[error("malformed address '{}': {reason}", cut(input, ID_QUOTE_MAX))]
    Address { input: String, reason: String },
    #[error("address {address} is a {found} address, but the database indexes {expected}")]
    WrongNetwork { address: String, found: &'static str, expected: String },
    #[error("'{}' is not a txid (64 hexadecimal digits), an outpoint (<txid>:<vout>) or an address", cut(.0, ID_QUOTE_MAX))]
    Target(String),
    #[error("exposure takes an address or a txid, not an outpoint ('{}'): give the output's address or the txid (see 'query exposure --help')", cut(.0, ID_QUOTE_MAX))]
    ExposureOutpoint(String),
    #[error("malformed --after '{}': expected the next_cursor of a previous page (like c1520f0); to start at a height or date use --from-height or --from-date (see 'query address --help')", cut(.0, QUOTE_MAX))]
    Cursor(String),
    #[error("malformed --after '{}': expected the next_cursor (<balance>:<n>) of a previous cluster page (see 'query cluster --help')", cut(.0, QUOTE_MAX))]
    ClusterCursor(String),
    #[error("{0} (see 'query cluster --help')")]
    ClusterArgs(String),
    #[error("--format {format} is only for trace and path; use json or table for {command}")]
    GraphFormat { format: &'static str, command: &'static str },
    #[error(
        "--format csv is for tx, address, trace, path, cluster, clusters and taint; use json or table for {command}"
    )]
    CsvFormat { command: &'static str },
    #[error("no database given: pass --db or --network, or set `db` or `network` in the config file")]
    NoDatabase,
    #[error("cannot read config file {path}: {reason}")]
    ConfigRead { path: String, reason: String },
    #[error("invalid config file {path}: {reason}")]
    Config { path: String, reason: String },
    #[error(transparent)]
    Pack(#[from] crate::tags::PackError),
    #[error(
        "no network given for the tag store: pass --network (or --db of an index), or set `network` in the config file"
    )]
    NoTagsNetwork,
    #[error("cannot find a default tag store directory ({0}): pass --tags")]
    NoTagsDir(String),
    #[error(
        "tag store directory {tags} is inside the index {db}: the tag store needs a directory of its own (--tags)"
    )]
    TagsInIndex { tags: String, db: String },
    #[error("malformed --after '{}': expected the next_cursor of a previous page (see 'query tags list --help')", cut(.0, QUOTE_MAX))]
    TagsCursor(String),
    #[error("cannot read the case report {path}: {reason}")]
    ReportRead { path: String, reason: String },
    #[error("{path} is not a case report: {reason}")]
    ReportFormat { path: String, reason: String },
    /// How to reach the node (`verify`): a user without a password, a bad config file.
    #[error("{0}")]
    NodeSettings(String),
    #[error("report needs --out DIR, a new or empty directory to write report.json and report.html into (see 'query report --help')")]
    ReportNoOut,
    #[error("--out {dir} {problem}: give a new or empty directory, so that no case file is overwritten (see 'query report --help')")]
    ReportDir { dir: String, problem: String },
    /// A parameter outside the range the command allows (for parameters built without clap).
    #[error("{name} must be between {min} and {max} (got {got})")]
    Range { name: &'static str, min: String, max: String, got: String },
    /// `query serve`'s own settings: listening beyond loopback without a token, a bad token file.
    #[error("{0} (see 'query serve --help')")]
    Serve(String),
    /// A command that runs until stopped, asked to answer once.
    #[error("'query {0}' answers no single question: it runs until stopped")]
    NoAnswer(&'static str),
    /// A signing key or a signer that cannot be used (`keys new`, `report --sign`, `verify --signer`).
    #[error(transparent)]
    Sign(#[from] crate::report::sign::SignError),
    /// Two parameters that exclude each other.
    #[error("{a} and {b} cannot be given together")]
    Conflict { a: &'static str, b: &'static str },
    #[error("txid prefix {prefix} is ambiguous: it starts {matches}; give more digits")]
    AmbiguousTxid { prefix: String, matches: String },
    /// A parameter that must be given (for parameters built without clap).
    #[error("{name} is required: {hint}")]
    Missing { name: &'static str, hint: &'static str },
}

/// The database cannot answer: missing, foreign, corrupt, or it lacks what was asked for.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Usage(#[from] UsageError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Tags(#[from] crate::tags::TagStoreError),
    #[error("transaction {txid} is not in the index (indexed up to {tip})")]
    UnknownTx { txid: String, tip: String },
    #[error("no indexed transaction's txid starts with {prefix} (indexed up to {tip})")]
    UnknownTxPrefix { prefix: String, tip: String },
    #[error("transaction {txid} has no output {vout} (it has {count})")]
    NoSuchOutput { txid: String, vout: u32, count: u32 },
    #[error("database at {path} indexes '{found}', but the network asked for is '{expected}' (--network or `network` in the config file)")]
    NetworkMismatch { path: String, found: String, expected: String },
    #[error("address {address} has never been seen on the indexed chain (up to {tip})")]
    UnseenAddress { address: String, tip: String },
    #[error("the database has no clusters: run the indexer without --no-clusters to build them")]
    NoClusters,
    #[error("corrupt database: {0}")]
    Corrupt(String),
    /// `verify`: the report no longer holds, or the node cannot say.
    #[cfg(feature = "verify")]
    #[error(transparent)]
    Verify(Box<crate::report::verify::VerifyError>),
    /// `--format svg`/`png`: Graphviz's `dot` is missing or failed.
    #[error("--format {format} {problem}")]
    Graphviz { format: &'static str, problem: String },
    /// `query report`: a file of the case could not be written.
    #[error("cannot write {path}: {problem}")]
    ReportWrite { path: String, problem: String },
}

pub type Result<T, E = QueryError> = std::result::Result<T, E>;

#[cfg(feature = "verify")]
impl From<crate::report::verify::VerifyError> for QueryError {
    fn from(e: crate::report::verify::VerifyError) -> Self {
        QueryError::Verify(Box::new(e))
    }
}

/// What is wrong with a malformed txid: its length, or the first character that is no hex digit.
fn txid_problem(s: &str) -> String {
    let count = s.chars().count();
    if !(8..=64).contains(&count) {
        return format!("expected 64 hexadecimal digits (or a prefix of at least 8), got {count} characters");
    }
    match s.chars().find(|c| !c.is_ascii_hexdigit()) {
        Some(c) => format!("expected 64 hexadecimal digits, but '{}' is not one", c.escape_debug()),
        None => "expected 64 hexadecimal digits".to_string(),
    }
}

/// The process exit code for an error chain: 2 if any link is a usage error, else 1.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    let usage = err.chain().any(|cause| {
        cause.downcast_ref::<UsageError>().is_some()
            || matches!(cause.downcast_ref::<QueryError>(), Some(QueryError::Usage(_)))
    });
    if usage {
        EXIT_USAGE
    } else {
        EXIT_FAILURE
    }
}

/// An error chain on one line: causes joined by ": ", line breaks inside messages folded away.
pub fn one_line(err: &anyhow::Error) -> String {
    let text = format!("{err:#}");
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn usage_errors_exit_2_even_when_wrapped_and_others_exit_1() {
        let usage: anyhow::Error = UsageError::Txid("zz".into()).into();
        assert_eq!(exit_code(&usage.context("while parsing")), 2);
        let wrapped: anyhow::Result<()> = Err(QueryError::from(UsageError::NoDatabase)).context("opening");
        assert_eq!(exit_code(&wrapped.unwrap_err()), 2);
        let other: anyhow::Error = QueryError::Corrupt("x".into()).into();
        assert_eq!(exit_code(&other), 1);
    }

    #[test]
    fn one_line_folds_line_breaks_and_keeps_the_chain() {
        let err = anyhow::anyhow!("bad value\n  |\n1 | x = \n").context("invalid config file c.toml");
        assert_eq!(one_line(&err), "invalid config file c.toml: bad value | 1 | x =");
    }
}
