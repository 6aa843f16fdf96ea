//! The command line: global options, one subcommand per question, and the limits on their values.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use indexer::network::Network;
use serde::Deserialize;

use crate::engine::{Direction, TaintModel};

/// Largest `--hops` / `--max-hops`.
pub const MAX_HOPS: u32 = 100;
/// `--max-txs` of a trace when neither the flag nor the config file sets it.
pub const DEFAULT_TRACE_MAX_TXS: u64 = 10_000;
/// Largest `--max-txs` of a trace.
pub const HARD_TRACE_MAX_TXS: u64 = 1_000_000;
/// `--max-txs` (transactions visited) of a path search by default.
pub const DEFAULT_PATH_MAX_TXS: u64 = 1_000_000;
/// Largest `--max-txs` of a path search.
pub const HARD_PATH_MAX_TXS: u64 = 20_000_000;
/// Largest `--limit` of the address command.
pub const MAX_LIMIT: u64 = 10_000;
/// Most clusters `query clusters --top` lists.
pub const MAX_TOP: u64 = 10_000;
/// `--max-utxos` of the address command by default.
pub const DEFAULT_MAX_UTXOS: u64 = 10_000;
/// Largest `--max-utxos`.
pub const HARD_MAX_UTXOS: u64 = 1_000_000;
/// `--hops` of a trace or exposure by default.
pub const DEFAULT_HOPS: u32 = 3;
/// `--hops` of taint by default.
pub const DEFAULT_TAINT_HOPS: u32 = 10;
/// `--max-hops` of a path search by default.
pub const DEFAULT_PATH_MAX_HOPS: u32 = 30;
/// `--limit` (entries per page) by default.
pub const DEFAULT_LIMIT: u64 = 100;
/// Largest `--top` of a trace.
pub const MAX_FOLLOW_TOP: u32 = 1000;
/// `--min-sat` of taint by default.
pub const DEFAULT_MIN_SAT: u64 = 1;

const GLOBAL: &str = "Global options";

const ABOUT: &str = "Answer investigators' questions from a chaintrail database: transactions, \
addresses, where money went (trace), how it got from one place to another (path), which \
addresses one owner controls (cluster, clusters), how much reached or came from tagged entities \
(exposure), how much of a source's value later outputs carry (taint), and whether a case report \
still holds on a live node (verify).";

const TRACE_HELP: &str = "Hop numbering: hop 0 is the root set. For a txid it is that tx; for an \
outpoint <txid>:<vout>, forward it is the tx that spent that output (only that output is \
followed) and backward the tx that created it; for an address, forward it is every tx spending \
an output paid to the address and backward every tx paying it. Forward, a tx spending an output \
of a hop-k tx is at hop k+1; backward, a tx whose output a hop-k tx spends is at hop k+1. Each tx \
is reported once, at its smallest hop. Edges always point the way money flows (from the paying \
tx's output to the spending tx's input), and every edge between two reported txs is listed.";

const PATH_HELP: &str = "The path starts at a tx in the forward hop-0 set of FROM and ends at a tx \
in the backward hop-0 set of TO (see `query trace --help`): for addresses, a tx spending from \
FROM and a tx paying TO. It follows spend edges forward, searching from both ends at once; `hops` \
in the result counts spend edges (0 when one tx does both).";

const CLUSTER_HELP: &str = "A cluster is a set of addresses taken to have one owner: addresses \
spent from together in one transaction (the multi-input heuristic; CoinJoins excepted), the \
P2PK, P2PKH and P2WPKH scripts of one public key, and, when the indexer ran with \
--cluster-change, each transaction's change output with its inputs. `heuristics` in the result \
says which rules built it. The cluster id is the address (or `script:<hex>`) of its earliest \
script: it stays the same as the cluster grows. Addresses are listed by balance, largest first; \
--after takes the `next_cursor` of the previous page. With --why A B, the chain of transactions \
that put A and B in one cluster, each link naming the two addresses it joined and why. \
Clusters are built by the indexer unless it runs with --no-clusters.";

const EXPOSURE_HELP: &str = "Out (the default) measures what the target sent: for an address, \
its share of every tx spending from it (the share of its inputs in the tx's input total), less \
what those txs paid back to it; for a txid, its outputs. In measures what it received: for an \
address, every output paying it, less the share its own inputs funded; for a txid, its inputs. \
That value is followed as proportional flows: a flow reaching an output goes to the output's \
entity if the output's address (or its cluster) is tagged, and stops there; otherwise it goes on \
into the tx that spent the output (out) or made it (in) and is split over that tx's outputs and \
fee (out) or inputs (in) in proportion to their values. Hop 1 is the target's counterparties \
(direct exposure); deeper tagged entities are indirect. Flows ending at an unspent output, a \
coinbase, the last hop or the --max-txs cap are unattributed. Amounts are whole satoshis: direct \
+ indirect + unattributed + fees = total, exactly. Rules in docs/exposure.md.";

const TAINT_HELP: &str = "The source's outputs are wholly tainted, at hop 0: every output of a \
txid, the one output of <txid>:<vout>, or every output ever paid to an address. Txs spending \
tainted outputs are taken in chain order; a tx's hop is one more than the smallest hop of the \
tainted outputs it spends, and the model passes its tainted inputs on to its outputs and fee. \
poison: every output of a tx with a tainted input, and its fee, are wholly tainted. haircut: each \
output and the fee carry the tainted input value in proportion to their values, in whole \
satoshis (largest remainder, the fee last on ties). fifo: the inputs are laid end to end in input \
order and the outputs take slices of that line in output order, the fee last; an output's taint \
is the tainted part of its slice, and where the taint sits inside it is kept for the next tx. \
lifo: the same with the inputs laid from the last to the first. Tainted value in an output that \
is unspent, OP_RETURN, of a tx at hop --hops, below --min-sat, or spent by a tx past --max-txs \
stays there: that is the frontier. For haircut, fifo and lifo the source equals frontier plus \
fees to the satoshi; poison adds up to more. Rules in the query README, section Taint.";

#[cfg(feature = "verify")]
const VERIFY_HELP: &str = "No index is opened: the node is asked over RPC, with the indexer's \
connection settings (--rpc-url, --rpc-cookie or --rpc-user; CHAINTRAIL_RPC_URL, \
CHAINTRAIL_RPC_COOKIE, CHAINTRAIL_RPC_USER, CHAINTRAIL_RPC_PASSWORD; the config file's [rpc] \
table), defaulting to the report's network's port and cookie. The node needs no txindex: the \
report names every block. Checked in order, stopping at the first failure: the report's format \
version; its digest; that the node is on the report's network; then each hop: its block is still \
the best chain's at its height, its transaction is in that block, its output has the stated \
value, script and address; then each hop's spending input: in the best chain's block at its \
height, spending exactly that output. Exit codes: 0 every hop holds (a summary is printed), 1 \
the first hop that no longer holds (its txid and why: reorged away, value differs, ...), a \
digest mismatch, a node on another network or that cannot answer, 2 a missing, unreadable or \
malformed report file or bad connection settings.";
const REPORT_HELP: &str = "Runs the command given after `report` (with the same arguments) and \
writes its case file into --out DIR, which must be new or empty: report.json holds the command \
with every option that shaped the answer, the network, the indexed tip (height and hash), every \
output the answer rests on (txid, output, value, script, address, block height and hash, and the \
input that spent it), the tags it shows, the answer itself as --format json prints it, and \
`digest`, the SHA-256 of all of that as compact JSON with sorted keys; report.html shows the same \
as one self-contained page with a picture of the flow (drawn by Graphviz's dot when installed). \
Prints where it wrote them. The format and how to recompute the digest: docs/reports.md.";

#[cfg(feature = "serve")]
const SERVE_HELP: &str = "Endpoints (GET, JSON bodies exactly as --format json prints them): \
/api/v1/tx/{txid}, address/{address}, trace/{forward|backward}/{target}, path?from=&to=, \
cluster/{address}, exposure/{target}, taint/{target}?model=, tags/{address}, tip, health and \
openapi.json (the OpenAPI 3 description, with every parameter). Parameters are the command's \
flags with underscores (max_txs=, min_value=, ...); lists are comma-separated; ?format=csv, dot \
or graphml where the command offers it. Errors are {\"error\": \"...\"}: 400 for bad input, \
404 for an unknown transaction or an address the chain never paid, 401 without the token, 413 \
for an answer over --max-response-mb. Binding anything but a loopback address needs \
--token-file; with one, every request needs `Authorization: Bearer <token>`. Each request is \
answered from one state of the index: the server catches up with the indexer every \
--refresh-ms between requests. Traces, paths, taint and exposure run at most \
--heavy-concurrency at once; lookups never wait for them. Details: the query README, section Serve.";

const AFTER_HELP: &str = "The database is opened read-only as a follower of the indexer: queries \
work while it runs and never write. Exit codes: 0 success, 1 the database cannot answer \
(missing or foreign database, unknown transaction, an address the chain never paid to cluster or \
exposure, clusters never built, a tag store in use or of another network, an unknown pack), 2 \
usage errors (bad flags, malformed txid or address, an address of another network, a bad config \
file, an invalid or unreadable tag pack).";

#[derive(Debug, Parser)]
#[command(name = "query", version, about = ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    /// TOML configuration file shared with the indexer (its [query] table is read here).
    #[arg(long, global = true, env = "CHAINTRAIL_CONFIG", value_name = "FILE", help_heading = GLOBAL)]
    pub config: Option<PathBuf>,
    /// Database directory [default: ~/.local/share/chaintrail/<network>].
    #[arg(long, global = true, env = "CHAINTRAIL_DB", value_name = "DIR", help_heading = GLOBAL)]
    pub db: Option<PathBuf>,
    /// Chain the database must index; also picks the default database directory.
    #[arg(long, global = true, env = "CHAINTRAIL_NETWORK", value_enum, value_name = "NET", help_heading = GLOBAL)]
    pub network: Option<Network>,
    /// Tag store directory [default: ~/.local/share/chaintrail/tags/<network>, or `tags` in the
    /// config file's [query] table].
    #[arg(long, global = true, env = "CHAINTRAIL_TAGS", value_name = "DIR", help_heading = GLOBAL)]
    pub tags: Option<PathBuf>,
    /// Output format [default: json, or `format` in the config file's [query] table].
    #[arg(long, global = true, value_enum, help_heading = GLOBAL)]
    pub format: Option<Format>,
    /// Tables: print whole txids (they are cut to their first 16 digits by default; any unique
    /// prefix of 8 or more digits is accepted as input).
    #[arg(long, visible_alias = "wide", global = true, help_heading = GLOBAL)]
    pub full: bool,
    /// Pictures (dot, graphml, svg, png): draw transactions as boxes joined by payments, or
    /// addresses as boxes joined through transactions drawn as small dots.
    #[arg(long, global = true, value_enum, default_value_t = Draw::Txs, value_name = "WHAT", help_heading = GLOBAL)]
    pub draw: Draw,
    #[command(subcommand)]
    pub command: Command,
}

/// How results are written to standard output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One JSON document.
    Json,
    /// Aligned columns for people; amounts in BTC.
    Table,
    /// A Graphviz digraph (trace and path only): `dot -Tsvg`.
    Dot,
    /// GraphML for Gephi and similar tools (trace and path only).
    Graphml,
    /// Comma-separated values with a header row (RFC 4180), amounts in satoshis and BTC: tx
    /// inputs and outputs, address history, trace and path edges and destinations, tainted
    /// outputs.
    Csv,
    /// An SVG picture (trace and path only), drawn by Graphviz's `dot`, which must be installed.
    Svg,
    /// A PNG picture (trace and path only), drawn by Graphviz's `dot`, which must be installed.
    Png,
}

/// What the boxes of a picture are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Draw {
    /// Transactions are boxes; payments are arrows labelled with address and value.
    Txs,
    /// Addresses are boxes; transactions are small dots between them.
    Addresses,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Table => "table",
            Format::Dot => "dot",
            Format::Graphml => "graphml",
            Format::Csv => "csv",
            Format::Svg => "svg",
            Format::Png => "png",
        }
    }

    /// Whether the format draws a graph, and so only suits trace and path.
    pub fn is_graph(self) -> bool {
        matches!(self, Format::Dot | Format::Graphml | Format::Svg | Format::Png)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// One transaction: its block, inputs (previous outputs) and outputs (and what spent them).
    Tx(TxArgs),
    /// One address: balance, totals, first/last seen, cluster, unspent outputs and paged history
    /// (with those of the other scripts of its public key).
    Address(AddressArgs),
    /// Follow the money forward (where did it go) or backward (where did it come from).
    #[command(after_help = TRACE_HELP)]
    Trace(TraceArgs),
    /// The shortest flow of funds from one address, transaction or outpoint to another.
    #[command(after_help = PATH_HELP)]
    Path(PathArgs),
    /// The cluster (addresses of one owner) an address belongs to, or why two addresses share one.
    #[command(after_help = CLUSTER_HELP)]
    Cluster(ClusterArgs),
    /// The largest clusters, by number of addresses.
    Clusters(ClustersArgs),
    /// How much of what an address or tx sent (or received) reached (or came from) tagged
    /// entities, by category.
    #[command(after_help = EXPOSURE_HELP)]
    Exposure(ExposureArgs),
    /// How much of a source's value each later output carries, under a taint model (poison,
    /// haircut, fifo, lifo).
    #[command(after_help = TAINT_HELP)]
    Taint(TaintArgs),
    /// The tag store: import TagPacks and CSV files of attributions, show an address's tags,
    /// list them, remove a pack.
    Tags(TagsArgs),
    /// Write a case file of a trace, path, exposure or taint: report.json (the answer, the index tip,
    /// every output it rests on, the tags used and a digest) and report.html to read it.
    #[command(after_help = REPORT_HELP)]
    Report(ReportArgs),
    /// Make a key pair for signing case files (`report --sign`, `verify --signer`).
    Keys(KeysArgs),
    /// Re-check a case report against a live node: its digest and signature, each output it was
    /// computed from, and its answer, computed again from those outputs alone.
    #[cfg(feature = "verify")]
    #[command(after_help = VERIFY_HELP)]
    Verify(VerifyArgs),
    /// Answer the same questions over HTTP (JSON under /api/v1/) until stopped with Ctrl-C or
    /// SIGTERM, following the indexer as it commits blocks.
    #[cfg(feature = "serve")]
    #[command(after_help = SERVE_HELP)]
    Serve(ServeArgs),
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Tx(_) => "tx",
            Command::Address(_) => "address",
            Command::Trace(_) => "trace",
            Command::Path(_) => "path",
            Command::Cluster(_) => "cluster",
            Command::Clusters(_) => "clusters",
            Command::Exposure(_) => "exposure",
            Command::Taint(_) => "taint",
            Command::Tags(_) => "tags",
            Command::Keys(_) => "keys",
            #[cfg(feature = "verify")]
            Command::Verify(_) => "verify",
            #[cfg(feature = "serve")]
            Command::Serve(_) => "serve",
            Command::Report(_) => "report",
        }
    }

    /// Whether the command answers without the index (`verify` asks a node).
    pub fn needs_no_index(&self) -> bool {
        if matches!(self, Command::Keys(_)) {
            return true;
        }
        #[cfg(feature = "verify")]
        if matches!(self, Command::Verify(_)) {
            return true;
        }
        false
    }
}

#[derive(Debug, Args)]
pub struct TxArgs {
    /// Transaction id (64 hex digits, as block explorers show it).
    pub txid: String,
}

#[derive(Debug, Args)]
pub struct AddressArgs {
    /// The address, of the database's network.
    pub address: String,
    /// History events per page. Allowed: 1..=10000.
    #[arg(long, default_value_t = DEFAULT_LIMIT, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=MAX_LIMIT))]
    pub limit: u64,
    /// Continue the history after this point: the cursor printed with the previous page
    /// (`next_cursor` in JSON, like `c1520f0`).
    #[arg(long, value_name = "CURSOR")]
    pub after: Option<String>,
    /// History from this block height on.
    #[arg(long, value_name = "HEIGHT", conflicts_with = "from_date")]
    pub from_height: Option<u32>,
    /// History up to this block height (inclusive).
    #[arg(long, value_name = "HEIGHT", conflicts_with = "to_date")]
    pub to_height: Option<u32>,
    /// History from this UTC date on (`2024-01-31` or `2024-01-31T12:00:00Z`), by block time.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub from_date: Option<i64>,
    /// History up to this UTC date (a day includes all of it), by block time.
    #[arg(long, value_name = "DATE", value_parser = parse_end_date)]
    pub to_date: Option<i64>,
    /// List at most this many unspent outputs (the count and balance always cover all of them)
    /// [default: 10000, or 20 in tables]. Allowed: 0..=1000000.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(0..=HARD_MAX_UTXOS))]
    pub max_utxos: Option<u64>,
}

/// Which outputs (backward: inputs) of each tx a trace follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Follow {
    /// Every one (of at least --min-value).
    All,
    /// Only the largest: the main flow.
    Largest,
}

#[derive(Debug, Args)]
pub struct TraceArgs {
    /// forward: where the money went; backward: where it came from.
    #[arg(value_enum)]
    pub direction: Direction,
    /// A txid, an outpoint <txid>:<vout>, or an address.
    pub target: String,
    /// Report txs at hops 0 through N (inclusive); hop 0 is the root set. Allowed: 1..=100.
    #[arg(long, default_value_t = DEFAULT_HOPS, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=MAX_HOPS as i64))]
    pub hops: u32,
    /// Skip (neither follow nor list) spend edges carrying less than this: satoshis (`5000sat`) or BTC (`1.5`, `2btc`, `0.1BTC`).
    #[arg(long, default_value = "0", value_name = "AMOUNT", value_parser = parse_amount)]
    pub min_value: u64,
    /// all: follow every output (backward: input); largest: only each tx's largest, the main
    /// flow.
    #[arg(long, value_enum, default_value_t = Follow::All, conflicts_with = "top")]
    pub follow: Follow,
    /// Follow only the N largest outputs (backward: inputs) of each tx. Allowed: 1..=1000.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=MAX_FOLLOW_TOP as i64))]
    pub top: Option<u32>,
    /// Stop after this many txs, keeping the largest flows, and report the result as truncated
    /// [default: 10000, or `max_txs` in the config file; at most 1000000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=HARD_TRACE_MAX_TXS))]
    pub max_txs: Option<u64>,
    /// End the branches through outputs paying this address (backward: inputs spending from it);
    /// the tx's other outputs (inputs) are still followed. Repeatable.
    #[arg(long = "stop-at-address", value_name = "ADDR")]
    pub stop_at_address: Vec<String>,
    /// Also stop at every tagged address (see `query tags`).
    #[arg(long)]
    pub stop_at_tagged: bool,
    /// Also stop at addresses with a tag of these categories (or abuses), comma-separated, e.g.
    /// `exchange,mixing_service`.
    #[arg(long, value_name = "CATEGORIES", value_delimiter = ',')]
    pub stop_at_category: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PathArgs {
    /// Where the money starts: a txid, an outpoint <txid>:<vout>, or an address.
    pub from: String,
    /// Where it ends: a txid, an outpoint <txid>:<vout>, or an address.
    pub to: String,
    /// Longest path searched, in spend edges. Allowed: 1..=100.
    #[arg(long, default_value_t = DEFAULT_PATH_MAX_HOPS, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=MAX_HOPS as i64))]
    pub max_hops: u32,
    /// Ignore spend edges carrying less than this: satoshis (`5000sat`) or BTC (`1.5`,
    /// `2btc`).
    #[arg(long, default_value = "0", value_name = "AMOUNT", value_parser = parse_amount)]
    pub min_value: u64,
    /// Give up (reported as truncated) after visiting this many txs
    /// [default: 1000000, or `path_max_txs` in the config file; at most 20000000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=HARD_PATH_MAX_TXS))]
    pub max_txs: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// The address whose cluster to show; with --why, the two addresses to connect.
    #[arg(required = true, value_name = "ADDRESS")]
    pub addresses: Vec<String>,
    /// Show the chain of transactions that put two addresses in one cluster.
    #[arg(long, conflicts_with_all = ["limit", "after"])]
    pub why: bool,
    /// Addresses per page. Allowed: 1..=10000.
    #[arg(long, default_value_t = DEFAULT_LIMIT, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=MAX_LIMIT))]
    pub limit: u64,
    /// Continue after this point: the cursor printed with the previous page (`next_cursor`).
    #[arg(long, value_name = "CURSOR")]
    pub after: Option<String>,
}

#[derive(Debug, Args)]
pub struct ClustersArgs {
    /// How many clusters to list. Allowed: 1..=10000.
    #[arg(long, default_value_t = 20, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=MAX_TOP))]
    pub top: u64,
}

/// Which value `query exposure` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExposureDirection {
    /// What the target sent, and where it went.
    Out,
    /// What the target received, and where it came from.
    In,
}

impl ExposureDirection {
    pub fn name(self) -> &'static str {
        match self {
            ExposureDirection::Out => "out",
            ExposureDirection::In => "in",
        }
    }

    /// The way the engine follows spend edges.
    pub fn traversal(self) -> Direction {
        match self {
            ExposureDirection::Out => Direction::Forward,
            ExposureDirection::In => Direction::Backward,
        }
    }
}

#[derive(Debug, Args)]
pub struct ExposureArgs {
    /// An address or a txid.
    pub target: String,
    /// out: what the target sent and who it reached; in: what it received and who it came from.
    #[arg(long, value_enum, default_value_t = ExposureDirection::Out)]
    pub direction: ExposureDirection,
    /// Follow flows through txs up to N hops away and check who they reach for tags (hop 0: the
    /// target's own txs and counterparties, as in trace and taint; 0 gives direct exposure
    /// only). Allowed: 0..=100.
    #[arg(long, default_value_t = DEFAULT_HOPS, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=MAX_HOPS as i64))]
    pub hops: u32,
    /// Split flows over at most this many txs past the target's own; what is left is
    /// unattributed [default: 10000, or `max_txs` in the config
    /// file; at most 1000000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=HARD_TRACE_MAX_TXS))]
    pub max_txs: Option<u64>,
}

#[derive(Debug, Args)]
pub struct TaintArgs {
    /// A txid (all its outputs), an outpoint <txid>:<vout>, or an address (every output ever paid
    /// to it).
    pub target: String,
    /// How a tx passes taint from its inputs to its outputs and fee (with --compare, the model
    /// listed in full: haircut when left out).
    #[arg(long, value_enum, required_unless_present = "compare")]
    pub model: Option<TaintModel>,
    /// Also follow the taint under all four models and list every output's taint, each
    /// category's and the txs where they part, side by side.
    #[arg(long)]
    pub compare: bool,
    /// Follow taint through txs up to hop N (the source tx is hop 0, as in trace and exposure);
    /// the outputs of hop-N txs end it. Allowed: 1..=100.
    #[arg(long, default_value_t = DEFAULT_TAINT_HOPS, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=MAX_HOPS as i64))]
    pub hops: u32,
    /// Handle at most this many txs past the source; taint reaching more is left where it is and
    /// the result is truncated [default: 10000, or `max_txs` in the config file; at most 1000000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=HARD_TRACE_MAX_TXS))]
    pub max_txs: Option<u64>,
    /// Do not follow outputs carrying less taint than this (they are still listed): satoshis
    /// (`5000sat`) or BTC (`0.001`, `1btc`).
    #[arg(long, default_value = "1sat", value_name = "AMOUNT", value_parser = parse_amount)]
    pub min_sat: u64,
}

/// `query report --out DIR <command>`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Write report.json and report.html into this directory, which is created and must be new or
    /// empty. Required; may also follow the command's own arguments.
    #[arg(long, global = true, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The case's id, recorded in the file (and covered by its digest).
    #[arg(long = "case", global = true, value_name = "ID")]
    pub case_id: Option<String>,
    /// Who makes the file, recorded in it.
    #[arg(long, global = true, value_name = "NAME")]
    pub analyst: Option<String>,
    /// A note recorded in the file (e.g. the victim and the loss).
    #[arg(long, global = true, value_name = "TEXT")]
    pub note: Option<String>,
    /// Sign the file's digest with this secret key file (made by `query keys new`).
    #[arg(long, global = true, value_name = "KEYFILE")]
    pub sign: Option<PathBuf>,
    #[command(subcommand)]
    pub command: ReportCommand,
}

/// The commands `query report` writes case files of, with their own arguments.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Follow the money forward or backward (see `query trace --help`).
    #[command(after_help = TRACE_HELP)]
    Trace(TraceArgs),
    /// The shortest flow of funds between two points (see `query path --help`).
    #[command(after_help = PATH_HELP)]
    Path(PathArgs),
    /// Exposure to tagged entities (see `query exposure --help`).
    #[command(after_help = EXPOSURE_HELP)]
    Exposure(ExposureArgs),
    /// How much of a source's value later outputs carry (see `query taint --help`).
    #[command(after_help = TAINT_HELP)]
    Taint(TaintArgs),
}

const TAGS_IMPORT_HELP: &str = "Each file is one pack, imported in one batch: a GraphSense TagPack \
(.yaml, .yml) or a CSV file (.csv) with the header address,label,category,source,confidence \
(category and confidence may be left out; its rows are Bitcoin tags of the store's network, and \
its pack title is the file's name). A TagPack's header fields (label, source, confidence, \
category, abuse, ...) are inherited by every tag that does not set them. Each tag needs label, \
source and currency, and exactly one of address or tx_hash; confidence is one of override, \
ownership, manual_transaction, service_api, authority_data, trusted_provider, service_data, \
forensic, untrusted_transaction, web_crawl, heuristic, unknown (the default); network defaults \
to currency. Any invalid tag refuses every file given, before anything is written (exit 2). \
Tags of another currency, or addresses of another network, are counted as skipped; tags the \
store already has (same address or txid, label and source) as duplicates. The network is \
--network's or the config file's, else the index's (--db).";

/// `query tags ...`.
#[derive(Debug, Args)]
pub struct TagsArgs {
    #[command(subcommand)]
    pub command: TagsCommand,
}

#[derive(Debug, Subcommand)]
pub enum TagsCommand {
    /// Import TagPacks (YAML) or CSV files into the tag store, one pack per file.
    #[command(after_help = TAGS_IMPORT_HELP)]
    Import(TagsImportArgs),
    /// The tags of one address.
    Show(TagsShowArgs),
    /// Every tag (address tags first, then transaction tags), one page at a time.
    List(TagsListArgs),
    /// Remove a pack and exactly the tags it brought.
    Remove(TagsRemoveArgs),
}

#[derive(Debug, Args)]
pub struct TagsImportArgs {
    /// TagPack (.yaml, .yml) or CSV (.csv) files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TagsShowArgs {
    /// The address, of the tag store's network.
    pub address: String,
}

#[derive(Debug, Args)]
pub struct TagsListArgs {
    /// Only tags of this category (e.g. exchange, mixing_service).
    #[arg(long, value_name = "C")]
    pub category: Option<String>,
    /// Only tags of this source.
    #[arg(long, value_name = "S")]
    pub source: Option<String>,
    /// Tags per page. Allowed: 1..=10000.
    #[arg(long, default_value_t = DEFAULT_LIMIT, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=MAX_LIMIT))]
    pub limit: u64,
    /// Continue after this point: the cursor printed with the previous page (`next_cursor`).
    #[arg(long, value_name = "CURSOR")]
    pub after: Option<String>,
}

#[derive(Debug, Args)]
pub struct TagsRemoveArgs {
    /// The title of the pack (a CSV pack's title is its file name).
    #[arg(long, value_name = "TITLE")]
    pub pack: String,
}

/// `query verify`.
#[cfg(feature = "verify")]
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The case report: its report.json, or the directory holding it.
    #[arg(value_name = "REPORT")]
    pub report: PathBuf,
    /// The key the file must be signed with: 64 hex digits, or a public key file (`<key>.pub`).
    /// Without it, a signature is checked and its key shown, and an unsigned file is said to be.
    #[arg(long, value_name = "PUBKEY|FILE")]
    pub signer: Option<String>,
    #[command(flatten)]
    pub rpc: indexer::node::settings::RpcArgs,
}

/// `query keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new Ed25519 key pair for signing case files: FILE (secret, readable by its owner
    /// only) and FILE.pub (the public key to give to whoever checks the files).
    New {
        /// The secret key file to create; never replaced.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

/// `query serve`.
#[cfg(feature = "serve")]
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on; port 0 picks a free one (the start line says which).
    #[arg(long, default_value = "127.0.0.1:3030", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// A file holding the token every request must send as `Authorization: Bearer <token>`
    /// (its content, trimmed). Required to listen on anything but loopback.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// How often to catch up with the indexer, in milliseconds. Allowed: 10..=60000.
    #[arg(long, default_value_t = 500, value_name = "MS", value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub refresh_ms: u64,
    /// Traces, paths, taint and exposure answered at once; more wait their turn. Allowed: 1..=64.
    #[arg(long, default_value_t = 2, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub heavy_concurrency: u32,
    /// Largest answer sent, in MiB; a larger one is refused with 413. Allowed: 1..=4096.
    #[arg(long, default_value_t = 64, value_name = "MB", value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub max_response_mb: u64,
    /// A trace, path, taint or exposure that runs longer stops there and answers what it found,
    /// marked `truncated` (the `Chaintrail-Truncated-By` header names the budget). Allowed:
    /// 100..=3600000.
    #[arg(long, default_value_t = 10_000, value_name = "MS", value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    pub time_budget_ms: u64,
}

/// Most satoshis there can be.
const MAX_SATS: u64 = 21_000_000 * 100_000_000;

/// An amount: whole satoshis (`5000sat`, `5000 sats`) or BTC (`1.5`, `2btc`, `0.1 BTC`, at
/// most 8 decimals). A bare whole number other than 0 is refused: `2` could be either.
pub fn parse_amount(s: &str) -> Result<u64, String> {
    let text = s.trim();
    let lower = text.to_ascii_lowercase();
    let bad = || format!("'{}' is not an amount: use satoshis (5000sat) or BTC (1.5, 2btc)", cut(text, 40));
    let (number, btc) = if let Some(n) = lower.strip_suffix("btc") {
        (n.trim_end(), true)
    } else if let Some(n) = lower.strip_suffix("sats").or_else(|| lower.strip_suffix("sat")) {
        (n.trim_end(), false)
    } else if lower.contains('.') || lower.bytes().all(|b| b == b'0') && !lower.is_empty() {
        (lower.as_str(), true)
    } else if !lower.is_empty() && lower.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "amount '{}' has no unit: write {text}sat for satoshis or {text}btc for bitcoins",
            cut(text, 40)
        ));
    } else {
        (lower.as_str(), false)
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !digits(whole) || !digits(fraction) {
        return Err(bad());
    }
    let sats = if btc {
        if fraction.len() > 8 {
            return Err(format!("'{}' has more than 8 decimals of BTC (1 satoshi is 0.00000001)", cut(text, 40)));
        }
        let whole: u64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| bad())? };
        let fraction: u64 = format!("{fraction:0<8}").parse().map_err(|_| bad())?;
        whole.checked_mul(100_000_000).and_then(|w| w.checked_add(fraction))
    } else {
        if !fraction.is_empty() {
            return Err(format!("'{}': satoshis are whole (for BTC, write {}btc)", cut(text, 40), number));
        }
        whole.parse().ok()
    };
    match sats {
        Some(sats) if sats <= MAX_SATS => Ok(sats),
        _ => Err(format!("'{}' is more than the 21 million BTC there can be", cut(text, 40))),
    }
}

/// The start of a UTC date or time (`2024-01-31` or `2024-01-31T12:00:00Z`), in seconds.
pub fn parse_date(s: &str) -> Result<i64, String> {
    date(s, false)
}

/// The end of a UTC date (the last second of the day) or a time, in seconds.
pub fn parse_end_date(s: &str) -> Result<i64, String> {
    date(s, true)
}

fn date(s: &str, end: bool) -> Result<i64, String> {
    let text = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp());
    }
    match chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(day) => {
            let start = day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc().timestamp();
            Ok(if end { start + 86_399 } else { start })
        }
        Err(_) => Err(format!("'{}' is not a date: use 2024-01-31 or 2024-01-31T12:00:00Z (UTC)", cut(text, 40))),
    }
}

/// At most `max` characters of `s`, with `...` when cut: long arguments stay readable in messages.
pub fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(max).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    #[test]
    fn amounts_take_satoshis_or_btc() {
        for (text, sats) in [
            ("0", 0),
            ("000", 0),
            ("5000sat", 5000),
            ("5000 sats", 5000),
            ("2BTC", 200_000_000),
            ("2btc", 200_000_000),
            ("1.5", 150_000_000),
            ("1.5 BTC", 150_000_000),
            ("0.00000001", 1),
            (".5", 50_000_000),
            ("21000000btc", MAX_SATS),
        ] {
            assert_eq!(parse_amount(text), Ok(sats), "{text}");
        }
        for bad in ["", "btc", "-1", "1.5sat", "1.123456789", "2 bitcoin", "21000001btc", "1e8", "1,5"] {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
        assert!(parse_amount("1.123456789").unwrap_err().contains("8 decimals"));
        assert_eq!(
            parse_amount("2").unwrap_err(),
            "amount '2' has no unit: write 2sat for satoshis or 2btc for bitcoins"
        );
    }

    #[test]
    fn dates_are_utc_days_or_times() {
        assert_eq!(parse_date("2009-01-03"), Ok(1_230_940_800));
        assert_eq!(parse_end_date("2009-01-03"), Ok(1_230_940_800 + 86_399));
        assert_eq!(parse_date("2009-01-03T18:15:05Z"), Ok(1_231_006_505));
        assert_eq!(parse_end_date("2009-01-03T18:15:05Z"), Ok(1_231_006_505));
        assert!(parse_date("03/01/2009").is_err());
    }

    #[test]
    fn long_text_is_cut() {
        assert_eq!(cut("abcdef", 3), "abc...");
        assert_eq!(cut("abc", 3), "abc");
    }

    #[test]
    fn follow_and_top_are_exclusive_and_amounts_parse_in_flags() {
        let cli = parse(&["trace", "forward", "t", "--min-value", "2BTC", "--follow", "largest"]).unwrap();
        let Command::Trace(t) = cli.command else { panic!("expected trace") };
        assert_eq!((t.min_value, t.follow, t.top), (200_000_000, Follow::Largest, None));
        let err = parse(&["trace", "forward", "t", "--follow", "largest", "--top", "2"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ArgumentConflict);
        let Command::Path(p) = parse(&["path", "a", "b", "--min-value", "1.5"]).unwrap().command else {
            panic!("expected path")
        };
        assert_eq!(p.min_value, 150_000_000);
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("query").chain(args.iter().copied()))
    }

    #[test]
    fn global_options_go_before_or_after_the_command() {
        let cli = parse(&["trace", "forward", "abc", "--format", "json", "--db", "/d"]).unwrap();
        assert_eq!(cli.format, Some(Format::Json));
        assert_eq!(cli.db, Some(PathBuf::from("/d")));
        let Command::Trace(t) = cli.command else { panic!("expected trace") };
        assert_eq!(t.direction, Direction::Forward);
        assert_eq!(t.hops, 3);
        assert_eq!(t.max_txs, None);
    }

    #[test]
    fn hops_out_of_range_is_a_usage_error_naming_the_range() {
        for bad in ["0", "10000"] {
            let err = parse(&["trace", "backward", "x", "--hops", bad]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ValueValidation);
            assert!(err.to_string().contains("1..=100"), "{err}");
        }
        let err = parse(&["path", "a", "b", "--max-hops", "101"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueValidation);
    }

    #[test]
    fn stop_addresses_repeat_and_path_defaults_apply() {
        let cli = parse(&["trace", "forward", "t", "--stop-at-address", "a", "--stop-at-address", "b"]).unwrap();
        let Command::Trace(t) = cli.command else { panic!("expected trace") };
        assert_eq!(t.stop_at_address, vec!["a".to_string(), "b".to_string()]);
        let cli = parse(&["path", "a", "b"]).unwrap();
        let Command::Path(p) = cli.command else { panic!("expected path") };
        assert_eq!((p.max_hops, p.min_value, p.max_txs), (30, 0, None));
    }

    #[test]
    fn cluster_takes_addresses_and_why_refuses_paging_flags() {
        let cli = parse(&["cluster", "--why", "a", "b"]).unwrap();
        let Command::Cluster(c) = cli.command else { panic!("expected cluster") };
        assert!(c.why);
        assert_eq!(c.addresses, ["a", "b"]);
        assert_eq!((c.limit, c.after), (100, None));
        let err = parse(&["cluster", "--why", "a", "b", "--limit", "5"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ArgumentConflict);
        assert_eq!(parse(&["cluster"]).unwrap_err().kind(), ErrorKind::MissingRequiredArgument);
        let Command::Clusters(c) = parse(&["clusters"]).unwrap().command else { panic!("expected clusters") };
        assert_eq!(c.top, 20);
        assert_eq!(parse(&["clusters", "--top", "0"]).unwrap_err().kind(), ErrorKind::ValueValidation);
    }

    #[test]
    fn tags_subcommands_parse_with_their_defaults() {
        let cli = parse(&["tags", "import", "a.yaml", "b.csv", "--tags", "/t"]).unwrap();
        assert_eq!(cli.tags, Some(PathBuf::from("/t")));
        let Command::Tags(TagsArgs { command: TagsCommand::Import(i) }) = cli.command else {
            panic!("expected import")
        };
        assert_eq!(i.files, [PathBuf::from("a.yaml"), PathBuf::from("b.csv")]);
        let Command::Tags(TagsArgs { command: TagsCommand::List(l) }) = parse(&["tags", "list"]).unwrap().command
        else {
            panic!("expected list")
        };
        assert_eq!((l.limit, l.category, l.after), (100, None, None));
        assert_eq!(parse(&["tags", "import"]).unwrap_err().kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(parse(&["tags", "remove"]).unwrap_err().kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(parse(&["tags", "list", "--limit", "0"]).unwrap_err().kind(), ErrorKind::ValueValidation);
    }

    #[test]
    fn report_takes_out_before_or_after_the_command_and_its_arguments() {
        for args in [
            &["report", "--out", "case", "trace", "forward", "t", "--hops", "20", "--min-value", "10btc"][..],
            &["report", "trace", "forward", "t", "--hops", "20", "--out", "case", "--min-value", "10btc"],
        ] {
            let Command::Report(r) = parse(args).unwrap().command else { panic!("expected report") };
            assert_eq!(r.out, Some(PathBuf::from("case")));
            let ReportCommand::Trace(t) = r.command else { panic!("expected trace") };
            assert_eq!(
                (t.direction, t.target.as_str(), t.hops, t.min_value),
                (Direction::Forward, "t", 20, 1_000_000_000)
            );
        }
        let Command::Report(r) = parse(&["report", "exposure", "t", "--direction", "in"]).unwrap().command else {
            panic!("expected report")
        };
        assert_eq!(r.out, None);
        assert!(matches!(r.command, ReportCommand::Exposure(ExposureArgs { direction: ExposureDirection::In, .. })));
        assert!(matches!(parse(&["report", "--out", "d", "path", "a", "b"]).unwrap().command, Command::Report(_)));
        assert_eq!(parse(&["report", "--out", "d"]).unwrap_err().kind(), ErrorKind::MissingSubcommand);
        assert_eq!(parse(&["trace", "forward", "t", "--out", "d"]).unwrap_err().kind(), ErrorKind::UnknownArgument);
    }

    #[test]
    fn exposure_defaults_to_out_and_takes_in() {
        let Command::Exposure(e) = parse(&["exposure", "t"]).unwrap().command else { panic!("expected exposure") };
        assert_eq!((e.direction, e.hops, e.max_txs), (ExposureDirection::Out, 3, None));
        let cli = parse(&["exposure", "t", "--direction", "in", "--hops", "7", "--max-txs", "5"]).unwrap();
        let Command::Exposure(e) = cli.command else { panic!("expected exposure") };
        assert_eq!((e.direction, e.hops, e.max_txs), (ExposureDirection::In, 7, Some(5)));
        assert_eq!(e.direction.traversal(), Direction::Backward);
        let err = parse(&["exposure", "t", "--direction", "sideways"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidValue);
        let Command::Exposure(e) = parse(&["exposure", "t", "--hops", "0"]).unwrap().command else { panic!() };
        assert_eq!(e.hops, 0, "hop 0 alone: direct exposure");
        assert_eq!(parse(&["exposure", "t", "--hops", "101"]).unwrap_err().kind(), ErrorKind::ValueValidation);
    }

    #[test]
    fn taint_needs_a_model_and_takes_amounts_for_min_sat() {
        let Command::Taint(t) = parse(&["taint", "t", "--model", "fifo"]).unwrap().command else {
            panic!("expected taint")
        };
        assert_eq!((t.model, t.hops, t.max_txs, t.min_sat), (Some(TaintModel::Fifo), 10, None, 1));
        let cli = parse(&["taint", "t", "--model", "haircut", "--hops", "25", "--max-txs", "7", "--min-sat", "0.001"]);
        let Command::Taint(t) = cli.unwrap().command else { panic!("expected taint") };
        assert_eq!((t.model, t.hops, t.max_txs, t.min_sat), (Some(TaintModel::Haircut), 25, Some(7), 100_000));
        assert_eq!(parse(&["taint", "t"]).unwrap_err().kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(parse(&["taint", "t", "--model", "fofi"]).unwrap_err().kind(), ErrorKind::InvalidValue);
        assert_eq!(
            parse(&["taint", "t", "--model", "lifo", "--hops", "101"]).unwrap_err().kind(),
            ErrorKind::ValueValidation
        );
    }
}
