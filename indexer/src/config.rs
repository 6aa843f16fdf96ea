//! The indexer's settings: command-line flags over environment variables over a TOML file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use serde::Deserialize;

use crate::network::Network;
pub use crate::node::settings::{default_cookie, resolve_rpc, RpcArgs};
use crate::node::settings::{rpc_config, FileRpc};
use crate::node::RpcConfig;
use crate::progress::ProgressStyle;
use crate::stages::clusters::ClusterRules;
use crate::stages::StageConfig;
use crate::storage::store::default_db_dir;

#[derive(Debug, Parser)]
#[command(
    name = "indexer",
    version,
    about = "Index a Bitcoin Core node's blocks into a RocksDB database for tracing funds"
)]
pub struct Args {
    /// TOML configuration file (see config/*.toml); flags and environment override it.
    #[arg(long, env = "CHAINTRAIL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Chain the node must be on.
    #[arg(long, env = "CHAINTRAIL_NETWORK", value_enum)]
    pub network: Option<Network>,
    #[command(flatten)]
    pub rpc: RpcArgs,
    /// Database directory [default: ~/.local/share/chaintrail/<network>].
    #[arg(long, env = "CHAINTRAIL_DB")]
    pub db: Option<PathBuf>,
    /// Index up to the node's current tip, then exit.
    #[arg(long)]
    pub once: bool,
    /// Threads fetching blocks from the node [default: 4].
    #[arg(long)]
    pub fetch_workers: Option<usize>,
    /// Blocks below the tip whose undo data is kept for reorgs [default: 100].
    #[arg(long)]
    pub undo_depth: Option<u32>,
    /// How often to poll the node for new blocks, in milliseconds [default: 1000].
    #[arg(long)]
    pub poll_ms: Option<u64>,
    /// Catching up more blocks than this, or more than 100 times as many transactions, uses
    /// bulk-load settings [default: 1000].
    #[arg(long)]
    pub bulk_threshold: Option<u32>,
    /// Transactions per write batch during bulk load [default: 10000].
    #[arg(long)]
    pub batch_txs: Option<u64>,
    /// Longest stretch of bulk load between flushes to disk, in seconds: what a hard kill can
    /// lose; 0 flushes after every batch [default: 60].
    #[arg(long)]
    pub flush_secs: Option<u64>,
    /// Memory for RocksDB in MiB: its block cache, which also holds the memtables (up to half of it, at most 256 MiB) [default: 512].
    #[arg(long)]
    pub cache_mb: Option<usize>,
    /// Compact the database once a bulk load finishes.
    #[arg(long)]
    pub compact_after_bulk: bool,
    /// Measure the node's serving rate: fetch and decode blocks up to its tip, write nothing.
    #[arg(long)]
    pub fetch_only: bool,
    /// Rebuild a derived stage from the rows already indexed, without the node, then exit.
    #[arg(long, value_enum, value_name = "STAGE")]
    pub rebuild_stage: Option<crate::storage::schema::StageId>,
    /// Check the database, without the node and without writing (also while an indexer runs on
    /// it): read every row of every table, verifying RocksDB's checksums, and decode it; print
    /// each table's rows and exit 0, or name the first corrupt row or file and exit 1.
    #[arg(long, conflicts_with_all = ["fetch_only", "rebuild_stage"])]
    pub check: bool,
    /// Where blocks come from: REST when the node serves it (auto), or always JSON-RPC.
    #[arg(long, value_enum)]
    pub feed: Option<FeedChoice>,
    /// Do not build clusters (who controls which addresses). Turned back on later, they catch
    /// up from the indexed rows without the node.
    #[arg(long)]
    pub no_clusters: bool,
    /// Also merge each transaction's change output into its inputs' cluster (see
    /// docs/heuristics.md). Clusters built without it must be rebuilt:
    /// `--rebuild-stage clusters --cluster-change`.
    #[arg(long)]
    pub cluster_change: bool,
    /// Progress display: a bar on a terminal, log lines otherwise.
    #[arg(long, value_enum, default_value_t = ProgressStyle::Auto)]
    pub progress: ProgressStyle,
}

/// Which block feed to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FeedChoice {
    /// REST (binary blocks and spent outputs) when the node serves it, else JSON-RPC.
    Auto,
    /// JSON-RPC only.
    Rpc,
}

/// The TOML file. Sections other binaries read are accepted and ignored here.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    network: Option<Network>,
    db: Option<PathBuf>,
    #[serde(default)]
    rpc: FileRpc,
    #[serde(default)]
    indexer: FileIndexer,
    #[allow(dead_code)]
    query: Option<toml::Table>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileIndexer {
    fetch_workers: Option<usize>,
    undo_depth: Option<u32>,
    poll_ms: Option<u64>,
    bulk_threshold: Option<u32>,
    batch_txs: Option<u64>,
    flush_secs: Option<u64>,
    feed: Option<FeedChoice>,
    cache_mb: Option<usize>,
    compact_after_bulk: Option<bool>,
    clusters: Option<bool>,
    cluster_change: Option<bool>,
}

/// Everything the indexer runs with, resolved.
#[derive(Debug, Clone)]
pub struct Config {
    pub network: Network,
    pub db: PathBuf,
    pub rpc: RpcConfig,
    pub once: bool,
    pub fetch_workers: usize,
    pub fetch_window: u32,
    pub undo_depth: u32,
    pub poll: Duration,
    pub bulk_threshold: u32,
    pub batch_txs: u64,
    /// Bulk load flushes at least this often.
    pub flush_every: Duration,
    pub cache_bytes: usize,
    pub compact_after_bulk: bool,
    pub fetch_only: bool,
    pub feed: FeedChoice,
    /// A derived stage to rebuild from the indexed rows before anything else (then exit).
    pub rebuild: Option<crate::storage::schema::StageId>,
    /// Check every row of the database, then exit.
    pub check: bool,
    /// Which derived stages run, and how.
    pub stages: StageConfig,
    pub progress: ProgressStyle,
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
}

impl Config {
    pub fn resolve(args: Args) -> anyhow::Result<Config> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let Some(network) = args.network.or(file.network) else {
            bail!("no network given: pass --network or set `network` in the config file");
        };
        let rpc = rpc_config(args.rpc, file.rpc, network)?;
        let f = file.indexer;
        let fetch_workers = args.fetch_workers.or(f.fetch_workers).unwrap_or(4);
        if fetch_workers == 0 || fetch_workers > 64 {
            bail!("--fetch-workers must be between 1 and 64");
        }
        let undo_depth = args.undo_depth.or(f.undo_depth).unwrap_or(100);
        if undo_depth < 6 {
            bail!("--undo-depth must be at least 6");
        }
        Ok(Config {
            network,
            db: match args.db.or(file.db) {
                Some(db) => db,
                None => default_db_dir(network.core_name())?,
            },
            rpc,
            once: args.once,
            fetch_workers,
            fetch_window: 16,
            undo_depth,
            poll: Duration::from_millis(args.poll_ms.or(f.poll_ms).unwrap_or(1000).max(10)),
            bulk_threshold: args.bulk_threshold.or(f.bulk_threshold).unwrap_or(1000),
            batch_txs: args.batch_txs.or(f.batch_txs).unwrap_or(10_000).max(1),
            flush_every: Duration::from_secs(args.flush_secs.or(f.flush_secs).unwrap_or(60)),
            cache_bytes: args.cache_mb.or(f.cache_mb).unwrap_or(512) << 20,
            compact_after_bulk: args.compact_after_bulk || f.compact_after_bulk.unwrap_or(false),
            fetch_only: args.fetch_only,
            feed: args.feed.or(f.feed).unwrap_or(FeedChoice::Auto),
            rebuild: args.rebuild_stage,
            check: args.check,
            stages: StageConfig {
                clusters: (!args.no_clusters && f.clusters.unwrap_or(true))
                    .then(|| ClusterRules { change: args.cluster_change || f.cluster_change.unwrap_or(false) }),
            },
            progress: args.progress,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::RpcAuth;

    fn parse(args: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("indexer").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn flags_override_the_file_and_defaults_fill_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "network = \"signet\"\ndb = \"/data/x\"\n[rpc]\nurl = \"http://10.0.0.1:1\"\ncookie = \"/c\"\n[indexer]\nundo_depth = 200\n[query]\nmax_txs = 5\n").unwrap();
        let config = Config::resolve(parse(&["--config", file.to_str().unwrap(), "--db", "/other"])).unwrap();
        assert_eq!(config.network, Network::Signet);
        assert_eq!(config.db, PathBuf::from("/other"));
        assert_eq!(config.rpc.url, "http://10.0.0.1:1");
        assert!(matches!(config.rpc.auth, RpcAuth::Cookie(ref c) if c == Path::new("/c")));
        assert_eq!(config.undo_depth, 200);
        assert_eq!(config.fetch_workers, 4);
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "network = \"regtest\"\n[rpc]\npasword = \"x\"\n").unwrap();
        let err = Config::resolve(parse(&["--config", file.to_str().unwrap()])).unwrap_err();
        assert!(format!("{err:#}").contains("unknown field `pasword`"), "{err:#}");
    }

    #[test]
    fn default_rpc_url_follows_the_network_and_password_is_redacted() {
        let config = Config::resolve(parse(&["--network", "regtest", "--rpc-cookie", "/x", "--db", "/d"])).unwrap();
        assert_eq!(config.rpc.url, "http://127.0.0.1:18443");
        let auth = RpcAuth::UserPass { user: "u".into(), password: "secret".into() };
        assert!(!format!("{auth:?}").contains("secret"));
    }

    #[test]
    fn every_example_config_parses_for_its_network() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
        let mut seen = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let config = Config::resolve(parse(&["--config", path.to_str().unwrap()])).unwrap();
            assert!(matches!(config.rpc.auth, RpcAuth::Cookie(_)));
            assert!(config.rpc.url.ends_with(&config.network.default_rpc_port().to_string()));
            seen.push(config.network);
        }
        seen.sort_by_key(|n| n.core_name());
        assert_eq!(seen, vec![Network::Main, Network::Regtest, Network::Signet, Network::Testnet4]);
    }

    #[test]
    fn clusters_are_on_without_change_unless_the_flags_or_the_file_say_otherwise() {
        let base = ["--network", "regtest", "--rpc-cookie", "/x", "--db", "/d"];
        let stages = |extra: &[&str]| Config::resolve(parse(&[&base[..], extra].concat())).unwrap().stages;
        assert_eq!(stages(&[]).clusters, Some(ClusterRules { change: false }));
        assert_eq!(stages(&["--cluster-change"]).clusters, Some(ClusterRules { change: true }));
        assert_eq!(stages(&["--no-clusters"]).clusters, None);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[indexer]\ncluster_change = true\n").unwrap();
        assert_eq!(stages(&["--config", file.to_str().unwrap()]).clusters, Some(ClusterRules { change: true }));
        std::fs::write(&file, "[indexer]\nclusters = false\n").unwrap();
        assert_eq!(stages(&["--config", file.to_str().unwrap()]).clusters, None);
    }

    #[test]
    fn the_rpc_connection_alone_resolves_from_flags_over_the_file_else_the_network_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "network = \"main\"\n[rpc]\nurl = \"http://10.0.0.1:1\"\ncookie = \"/c\"\n").unwrap();
        let rpc = resolve_rpc(RpcArgs::default(), Some(&file), Network::Regtest).unwrap();
        assert_eq!(rpc.url, "http://10.0.0.1:1");
        assert!(matches!(rpc.auth, RpcAuth::Cookie(ref c) if c == Path::new("/c")));
        let flags = RpcArgs { rpc_url: Some("http://h:2".into()), rpc_cookie: Some("/k".into()), rpc_user: None };
        let rpc = resolve_rpc(flags, Some(&file), Network::Regtest).unwrap();
        assert_eq!(rpc.url, "http://h:2");
        assert!(matches!(rpc.auth, RpcAuth::Cookie(ref c) if c == Path::new("/k")));
        let rpc = resolve_rpc(RpcArgs::default(), None, Network::Signet).unwrap();
        assert_eq!(rpc.url, "http://127.0.0.1:38332");
        assert!(matches!(rpc.auth, RpcAuth::Cookie(ref c) if c.ends_with(".bitcoin/signet/.cookie")));
    }

    #[test]
    fn a_missing_network_is_a_clear_error() {
        let err = Config::resolve(parse(&["--db", "/d"])).unwrap_err();
        assert!(err.to_string().contains("no network given"));
    }
}

/// The config file on hostile text: arbitrary strings, example files with a character changed or
/// cut short, and known keys with arbitrary values. Resolving returns `Ok` or `Err`, never panics.
#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;
    use crate::storage::schema::proptests::cases;

    const EXAMPLES: [&str; 4] = [
        include_str!("../../config/mainnet.toml"),
        include_str!("../../config/regtest.toml"),
        include_str!("../../config/signet.toml"),
        include_str!("../../config/testnet4.toml"),
    ];

    fn resolve(text: &str) -> anyhow::Result<Config> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("indexer.toml");
        std::fs::write(&path, text)?;
        let args = Args::try_parse_from(["indexer", "--config", path.to_str().expect("UTF-8"), "--rpc-cookie", "/c"])?;
        Config::resolve(args)
    }

    /// An example file with one character replaced, or cut short, or extended.
    fn near_example() -> impl Strategy<Value = String> {
        (0..EXAMPLES.len(), any::<usize>(), any::<char>(), 0..3u8, "\\PC{0,8}").prop_map(|(i, at, c, how, tail)| {
            let mut chars: Vec<char> = EXAMPLES[i].chars().collect();
            let at = at % chars.len();
            match how {
                0 => chars[at] = c,
                1 => chars.truncate(at),
                _ => chars.extend(tail.chars()),
            }
            chars.into_iter().collect()
        })
    }

    fn known_keys() -> impl Strategy<Value = String> {
        let line = prop_oneof![
            Just("[indexer]".to_string()),
            Just("[rpc]".to_string()),
            Just("network = \"regtest\"".to_string()),
            "(network|db|feed|url|cookie|user|password) = \"\\PC{0,12}\"",
            "(fetch_workers|undo_depth|poll_ms|bulk_threshold|batch_txs|flush_secs|cache_mb) = -?[0-9]{1,22}",
            "(compact_after_bulk|clusters|cluster_change) = (true|false|1|\"yes\")",
        ];
        proptest::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n"))
    }

    #[test]
    fn the_examples_resolve() {
        for e in EXAMPLES {
            assert!(resolve(e).is_ok(), "{e}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]

        #[test]
        fn the_config_file_never_panics_on_arbitrary_text(s in prop_oneof![".*", "\\PC*"]) {
            let _ = resolve(&s);
        }

        #[test]
        fn the_config_file_never_panics_on_near_valid_text(s in prop_oneof![near_example(), known_keys()]) {
            if let Ok(config) = resolve(&s) {
                prop_assert!((1..=64).contains(&config.fetch_workers) && config.undo_depth >= 6);
                prop_assert!(config.batch_txs >= 1 && config.poll >= Duration::from_millis(10));
            }
        }
    }
}
