//! Settings: command-line flags over environment variables over the TOML file shared with the
//! indexer (top-level `network` and `db`, and its `[query]` table), validated.

use std::path::{Path, PathBuf};

use indexer::network::Network;
use indexer::storage::store::default_db_dir;
use serde::Deserialize;

use crate::cli::{
    Cli, Command, Format, DEFAULT_PATH_MAX_TXS, DEFAULT_TRACE_MAX_TXS, HARD_PATH_MAX_TXS, HARD_TRACE_MAX_TXS,
};
use crate::error::UsageError;
use crate::render::Style;
use crate::tags::default_tags_dir;

/// Block cache of the follower when the config file does not set `cache_mb`.
const DEFAULT_CACHE_MB: usize = 128;
const MAX_CACHE_MB: usize = 64 * 1024;

/// The TOML file. The indexer's own sections are accepted as opaque tables.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    network: Option<Network>,
    db: Option<PathBuf>,
    #[allow(dead_code)]
    rpc: Option<toml::Table>,
    #[allow(dead_code)]
    indexer: Option<toml::Table>,
    #[serde(default)]
    query: FileQuery,
}

/// The `[query]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileQuery {
    /// Default output format (JSON when unset).
    format: Option<Format>,
    /// Block cache size in MiB.
    cache_mb: Option<usize>,
    /// Default `--max-txs` of a trace.
    max_txs: Option<u64>,
    /// Default `--max-txs` of a path search.
    path_max_txs: Option<u64>,
    /// Tag store directory (`--tags`).
    tags: Option<PathBuf>,
}

/// Everything a query runs with, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub db: PathBuf,
    /// The network the database must index, when one was given.
    pub network: Option<Network>,
    pub format: Format,
    /// How tables and pictures are drawn (`--full`, `--draw`).
    pub style: Style,
    pub cache_bytes: usize,
    /// Default cap on the txs of a trace (the command's `--max-txs` overrides it).
    pub trace_max_txs: u64,
    /// Default cap on the txs a path search visits.
    pub path_max_txs: u64,
    /// The tag store directory when one was given; see [`Settings::tags_dir`].
    pub tags: Option<PathBuf>,
    /// The config file, for the commands that read more of it (`verify`: its `[rpc]` table).
    pub config: Option<PathBuf>,
}

fn read_file(path: &Path) -> Result<FileConfig, UsageError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError::ConfigRead { path: shown.clone(), reason: e.to_string() })?;
    toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        let reason = match line {
            Some(line) => format!("line {line}: {}", e.message()),
            None => e.message().to_string(),
        };
        UsageError::Config { path: shown, reason }
    })
}

fn in_range(path: &Path, key: &str, value: u64, max: u64) -> Result<u64, UsageError> {
    if (1..=max).contains(&value) {
        Ok(value)
    } else {
        Err(UsageError::Config {
            path: path.display().to_string(),
            reason: format!("query.{key} must be between 1 and {max}"),
        })
    }
}

impl Settings {
    /// Resolves the settings from the command line, the environment (through clap) and the
    /// config file, if any.
    pub fn resolve(cli: &Cli) -> Result<Settings, UsageError> {
        let file = match &cli.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let file_path = cli.config.clone().unwrap_or_default();
        let network = cli.network.or(file.network);
        let db = match cli.db.clone().or(file.db) {
            Some(db) => db,
            // `verify` takes its network from the report and opens no index.
            None if network.is_none() && cli.command.needs_no_index() => PathBuf::new(),
            None => {
                let missing = match cli.command {
                    Command::Tags(_) => UsageError::NoTagsNetwork,
                    _ => UsageError::NoDatabase,
                };
                let network = network.ok_or(missing)?;
                default_db_dir(network.core_name()).map_err(|_| UsageError::NoDatabase)?
            }
        };
        let q = file.query;
        let cache_mb = match q.cache_mb {
            Some(mb) => in_range(&file_path, "cache_mb", mb as u64, MAX_CACHE_MB as u64)? as usize,
            None => DEFAULT_CACHE_MB,
        };
        let trace_max_txs = match q.max_txs {
            Some(n) => in_range(&file_path, "max_txs", n, HARD_TRACE_MAX_TXS)?,
            None => DEFAULT_TRACE_MAX_TXS,
        };
        let path_max_txs = match q.path_max_txs {
            Some(n) => in_range(&file_path, "path_max_txs", n, HARD_PATH_MAX_TXS)?,
            None => DEFAULT_PATH_MAX_TXS,
        };
        Ok(Settings {
            db,
            network,
            format: cli.format.or(q.format).unwrap_or(Format::Json),
            style: Style { full_txids: cli.full, draw: cli.draw, one_row: false },
            cache_bytes: cache_mb << 20,
            trace_max_txs,
            path_max_txs,
            tags: cli.tags.clone().or(q.tags),
            config: cli.config.clone(),
        })
    }

    /// The tag store directory of `network`: the one given (--tags, `CHAINTRAIL_TAGS`, `tags` in
    /// the config file's [query] table) or `~/.local/share/chaintrail/tags/<network>`; never
    /// inside the index.
    pub fn tags_dir(&self, network: Network) -> Result<PathBuf, UsageError> {
        let dir = match &self.tags {
            Some(dir) => dir.clone(),
            None => default_tags_dir(network).map_err(|e| UsageError::NoTagsDir(e.to_string()))?,
        };
        if dir.starts_with(&self.db) {
            return Err(UsageError::TagsInIndex { tags: dir.display().to_string(), db: self.db.display().to_string() });
        }
        Ok(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(["query"].iter().chain(args.iter()).copied()).unwrap()
    }

    fn write(dir: &tempfile::TempDir, text: &str) -> String {
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    }

    #[test]
    fn the_shared_file_is_read_and_flags_override_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            &dir,
            "network = \"regtest\"\ndb = \"/data/x\"\n[rpc]\nurl = \"http://h:1\"\n[indexer]\nundo_depth = 9\n\
             [query]\nformat = \"json\"\nmax_txs = 5\ncache_mb = 16\n",
        );
        let s = Settings::resolve(&cli(&["--config", &file, "tx", "t"])).unwrap();
        assert_eq!(s.db, PathBuf::from("/data/x"));
        assert_eq!(s.network, Some(Network::Regtest));
        assert_eq!(s.format, Format::Json);
        assert_eq!(s.trace_max_txs, 5);
        assert_eq!(s.path_max_txs, DEFAULT_PATH_MAX_TXS);
        assert_eq!(s.cache_bytes, 16 << 20);
        let s = Settings::resolve(&cli(&["--config", &file, "--db", "/o", "--format", "dot", "tx", "t"])).unwrap();
        assert_eq!((s.db, s.format), (PathBuf::from("/o"), Format::Dot));
    }

    #[test]
    fn unknown_keys_and_bad_values_in_the_file_are_refused_on_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(&dir, "db = \"/d\"\n[query]\nmax_tx = 5\n");
        let err = Settings::resolve(&cli(&["--config", &file, "tx", "t"])).unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("max_tx"), "{err}");
        assert!(!err.contains('\n'), "{err}");
        let file = write(&dir, "db = \"/d\"\n[query]\nmax_txs = 0\n");
        let err = Settings::resolve(&cli(&["--config", &file, "tx", "t"])).unwrap_err().to_string();
        assert!(err.contains("query.max_txs must be between 1 and 1000000"), "{err}");
    }

    #[test]
    fn every_example_config_is_read_with_its_query_section() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
        let mut networks = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let s = Settings::resolve(&cli(&["--config", path.to_str().unwrap(), "tx", "t"])).unwrap();
            assert_eq!(s.format, Format::Table, "{}", path.display());
            assert_eq!((s.trace_max_txs, s.path_max_txs, s.cache_bytes), (10_000, 1_000_000, 256 << 20));
            assert!(s.db.starts_with("/var/lib/chaintrail"));
            let tags = s.tags_dir(s.network.unwrap()).unwrap();
            assert_eq!(tags, Path::new("/var/lib/chaintrail/tags").join(s.network.unwrap().core_name()));
            networks.push(s.network.unwrap().core_name());
        }
        networks.sort();
        assert_eq!(networks, ["main", "regtest", "signet", "testnet4"]);
    }

    #[test]
    fn the_tag_store_dir_comes_from_the_flag_over_the_file_else_beside_the_default_index() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(&dir, "network = \"main\"\n[query]\ntags = \"/t/file\"\n");
        let s = Settings::resolve(&cli(&["--config", &file, "tx", "t"])).unwrap();
        assert_eq!(s.tags_dir(Network::Main).unwrap(), PathBuf::from("/t/file"));
        let s = Settings::resolve(&cli(&["--config", &file, "--tags", "/t/flag", "tx", "t"])).unwrap();
        assert_eq!(s.tags_dir(Network::Main).unwrap(), PathBuf::from("/t/flag"));
        let s = Settings::resolve(&cli(&["--network", "main", "tx", "t"])).unwrap();
        let default = s.tags_dir(Network::Main).unwrap();
        assert!(default.ends_with("chaintrail/tags/main"), "{}", default.display());
        assert_eq!(default.parent().unwrap().parent(), s.db.parent(), "beside the default index");
        let s = Settings::resolve(&cli(&["--db", "/d", "--tags", "/d/tags", "tx", "t"])).unwrap();
        assert!(matches!(s.tags_dir(Network::Main), Err(UsageError::TagsInIndex { .. })));
    }

    #[test]
    fn without_db_or_network_there_is_no_database() {
        let err = Settings::resolve(&cli(&["tx", "t"])).unwrap_err();
        assert!(matches!(err, UsageError::NoDatabase));
    }

    #[cfg(feature = "verify")]
    #[test]
    fn verify_needs_neither_db_nor_network_and_keeps_the_config_file() {
        let s = Settings::resolve(&cli(&["verify", "case/report.json"])).unwrap();
        assert_eq!((s.db, s.config), (PathBuf::new(), None));
        let dir = tempfile::tempdir().unwrap();
        let file = write(&dir, "[rpc]\nurl = \"http://h:1\"\n[query]\nformat = \"table\"\n");
        let s = Settings::resolve(&cli(&["--config", &file, "verify", "case"])).unwrap();
        assert_eq!((s.format, s.config), (Format::Table, Some(PathBuf::from(&file))));
    }
}
