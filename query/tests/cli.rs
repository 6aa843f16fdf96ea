//! The `query` binary as users and scripts see it: exit codes, one-line errors, and output.
#![allow(clippy::unwrap_used)]

#[path = "../src/fixture.rs"]
mod fixture;

use std::path::{Path, PathBuf};
use std::process::Command;

use bitcoin::Txid;
use fixture::{address, out, path_str, script, TestChain};

/// The commands, as the one-line errors list them.
fn commands() -> String {
    let mut names =
        vec!["tx", "address", "trace", "path", "cluster", "clusters", "exposure", "taint", "tags", "report", "keys"];
    if cfg!(feature = "verify") {
        names.push("verify");
    }
    if cfg!(feature = "serve") {
        names.push("serve");
    }
    let (last, rest) = names.split_last().expect("commands");
    format!("{} or {last}", rest.join(", "))
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn query(args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_query"))
        .args(args)
        .env_remove("CHAINTRAIL_CONFIG")
        .env_remove("CHAINTRAIL_DB")
        .env_remove("CHAINTRAIL_NETWORK")
        .env_remove("CHAINTRAIL_TAGS")
        .output()
        .expect("run the query binary");
    Run {
        code: output.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 output"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 errors"),
    }
}

/// Runs against a database, asking for JSON unless the args choose a format.
fn query_db(db: &Path, args: &[&str]) -> Run {
    let db = path_str(db);
    let mut all = vec!["--db", db.as_str()];
    if !args.contains(&"--format") {
        all.extend(["--format", "json"]);
    }
    all.extend(args);
    query(&all)
}

fn assert_error(run: &Run, code: i32, says: &str) {
    assert_eq!(run.code, code, "stderr: {}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "one line: {:?}", run.stderr);
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    assert!(run.stderr.contains(says), "expected {says:?} in {}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

fn json(run: &Run) -> serde_json::Value {
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    serde_json::from_str(&run.stdout).expect("stdout is one JSON document")
}

/// coin -> a; a:0 -> b; a:1 and b:1 -> c; then a chain of 22 txs from c:0.
struct Fixture {
    _dir: Option<tempfile::TempDir>,
    db: PathBuf,
    a: Txid,
    c: Txid,
    last: Txid,
}

fn fixture() -> Fixture {
    let mut t = TestChain::new();
    let coin = t.coin(script(1), 100_000);
    let a = t.send(&[coin], &[(script(2), 40_000), (script(3), 50_000)]);
    let b = t.send(&[out(a, 0)], &[(script(4), 30_000), (script(5), 9_000)]);
    t.mine();
    let c = t.send(&[out(a, 1), out(b, 1)], &[(script(6), 58_000)]);
    let mut prev = out(c, 0);
    let mut last = c;
    for i in 0..22u32 {
        last = t.send(&[prev], &[(script(100 + i), 57_000 - u64::from(i) * 100)]);
        prev = out(last, 0);
    }
    t.mine();
    let (dir, db) = t.finish();
    Fixture { _dir: dir, db, a, c, last }
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    let f = fixture();
    assert_error(&query_db(&f.db, &["tx", "1234"]), 2, "malformed txid '1234'");
    assert_error(&query_db(&f.db, &["trace", "forward", &f.a.to_string(), "--hops", "0"]), 2, "1..=100");
    assert_error(&query_db(&f.db, &["trace", "forward", &f.a.to_string(), "--hops", "10000"]), 2, "1..=100");
    assert_error(&query_db(&f.db, &["address", "bcrt1qnotanaddress"]), 2, "malformed address 'bcrt1qnotanaddress'");
    let mainnet = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
    assert_error(&query_db(&f.db, &["address", mainnet]), 2, "is a mainnet address, but the database indexes regtest");
    assert_error(&query_db(&f.db, &["trace", "sideways", "x"]), 2, "invalid value 'sideways'");
    assert_error(&query_db(&f.db, &["--format", "dot", "tx", &f.a.to_string()]), 2, "only for trace and path");
    assert_error(&query(&["tx", &f.a.to_string()]), 2, "no database given");
    assert_error(&query(&[]), 2, "no command given");
    assert_error(&query(&["trace", "forward"]), 2, "trace needs <TARGET>");
}

/// A clap error as the binary prints it: exit 2, one line, and exactly this text.
fn assert_clap_error(args: &[&str], line: &str) {
    let run = query(args);
    assert_error(&run, 2, line);
    assert_eq!(run.stderr.trim_end(), format!("error: {line}"));
}

#[test]
fn missing_arguments_are_named_with_the_subcommand_help() {
    assert_clap_error(
        &["trace", "forward"],
        "trace needs <TARGET> (a txid, an outpoint <txid>:<vout>, or an address): query trace forward <TARGET> \
         (see 'query trace --help')",
    );
    assert_clap_error(
        &["path", "victim"],
        "path needs <TO> (where it ends: a txid, an outpoint <txid>:<vout>, or an address): query path victim <TO> \
         (see 'query path --help')",
    );
    let import = query(&["--network", "main", "tags", "import"]);
    assert_error(&import, 2, "tags import needs <FILE>... (TagPack (.yaml, .yml) or CSV (.csv) files)");
    assert!(import.stderr.trim_end().ends_with("(see 'query tags import --help')"), "{}", import.stderr);
    assert_clap_error(&[], &format!("no command given: use {} (see 'query --help')", commands()));
    assert_clap_error(&["tags"], "no tags command given: use import, show, list or remove (see 'query tags --help')");
}

#[test]
fn mistyped_values_commands_and_options_get_the_valid_ones_and_the_nearest() {
    assert_clap_error(
        &["trace", "forwards", "x"],
        "invalid value 'forwards' for <DIRECTION>: expected forward or backward; did you mean 'forward'? \
         (see 'query trace --help')",
    );
    assert_clap_error(
        &["trace", "forward", "x", "--format", "tabel"],
        "invalid value 'tabel' for --format <FORMAT>: expected json, table, dot, graphml, csv, svg or png; \
         did you mean 'table'? (see 'query trace --help')",
    );
    assert_clap_error(
        &["trace", "forward", "x", "--follow", "larges"],
        "invalid value 'larges' for --follow <FOLLOW>: expected all or largest; did you mean 'largest'? \
         (see 'query trace --help')",
    );
    assert_clap_error(
        &["--draw", "adresses", "path", "a", "b"],
        "invalid value 'adresses' for --draw <WHAT>: expected txs or addresses; did you mean 'addresses'? \
         (see 'query path --help')",
    );
    assert_clap_error(
        &["trase", "forward", "x"],
        &format!("unknown command 'trase': expected {}; did you mean 'trace'? (see 'query --help')", commands()),
    );
    assert_clap_error(
        &["tags", "lst"],
        "unknown tags command 'lst': expected import, show, list or remove; did you mean 'list'? \
         (see 'query tags --help')",
    );
    assert_clap_error(
        &["trace", "forward", "x", "--hop", "3"],
        "unknown option '--hop' for trace; did you mean '--hops'? (see 'query trace --help')",
    );
    assert_clap_error(
        &["tx", "x", "--format", "JSON"],
        "invalid value 'JSON' for --format <FORMAT>: expected json, table, dot, graphml, csv, svg or png; \
         did you mean 'json'? (see 'query tx --help')",
    );
}

#[test]
fn help_and_version_still_print_and_exit_0() {
    for args in [&["--help"][..], &["trace", "--help"], &["tags", "import", "-h"], &["help", "path"]] {
        let run = query(args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert!(run.stdout.contains("Usage: query"), "{args:?}: {}", run.stdout);
    }
    let version = query(&["--version"]);
    assert_eq!((version.code, version.stdout.trim()), (0, format!("query {}", env!("CARGO_PKG_VERSION")).as_str()));
}

#[test]
fn mistyped_addresses_say_checksum_mismatch_and_bech32_never_mentions_base58() {
    let f = fixture();
    let checksum = "checksum mismatch — a typo?";
    let bech32 = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt08q";
    for args in [&["address", bech32][..], &["trace", "forward", bech32], &["cluster", bech32]] {
        let run = query_db(&f.db, args);
        assert_error(&run, 2, &format!("malformed address '{bech32}': {checksum}"));
        assert!(!run.stderr.contains("base58"), "{}", run.stderr);
    }
    let run = query_db(&f.db, &["address", "bcrt1qnotanaddress"]);
    assert_error(&run, 2, "invalid character 'o'");
    assert!(!run.stderr.contains("base58"), "{}", run.stderr);
    assert_error(&query_db(&f.db, &["address", "1JoktQJhCzuCQkt3GnQ8Xddcq4mUgNyXEb"]), 2, checksum);
    assert_error(
        &query_db(&f.db, &["address", "0xdeadbeefdeadbeef"]),
        2,
        "not a Bitcoin address (expected base58 like 1..., 3..., m..., 2... or bech32 like bc1..., tb1..., bcrt1...)",
    );
    let txid = query_db(&f.db, &["tx", "1234"]);
    assert_error(
        &txid,
        2,
        "malformed txid '1234': expected 64 hexadecimal digits (or a prefix of at least 8), got 4 characters",
    );
    assert!(txid.stderr.trim_end().ends_with("(see 'query tx --help')"), "{}", txid.stderr);
}

#[test]
fn long_arguments_are_cut_in_errors() {
    let f = fixture();
    let long = "x".repeat(100_000);
    let hex = "a".repeat(100_000);
    for args in [
        &["trace", "forward", long.as_str()][..],
        &["trace", "forward", hex.as_str()],
        &["tx", long.as_str()],
        &["tx", hex.as_str()],
        &["address", long.as_str()],
        &["--format", long.as_str(), "tx", "x"],
        &["trace", "forward", "x", "--hops", long.as_str()],
    ] {
        let run = query_db(&f.db, args);
        assert_error(&run, 2, "...");
        assert!(
            run.stderr.len() < 300,
            "{} characters: {}",
            run.stderr.len(),
            run.stderr.chars().take(400).collect::<String>()
        );
    }
}

#[test]
fn database_and_lookup_failures_exit_1_with_one_line() {
    let f = fixture();
    let missing = f.db.join("nope");
    assert_error(&query(&["--db", &path_str(&missing), "tx", &f.a.to_string()]), 1, "no database at");
    let foreign = tempfile::tempdir().unwrap();
    std::fs::write(foreign.path().join("CURRENT"), "x").unwrap();
    assert_error(
        &query(&["--db", &path_str(foreign.path()), "tx", &f.a.to_string()]),
        1,
        "is not a chaintrail database",
    );
    let unknown = "ab".repeat(32);
    assert_error(&query_db(&f.db, &["tx", &unknown]), 1, &format!("transaction {unknown} is not in the index"));
    assert_error(
        &query_db(&f.db, &["--network", "signet", "tx", &f.a.to_string()]),
        1,
        "indexes 'regtest', but the network asked for is 'signet'",
    );
}

#[test]
fn tx_and_address_answer_in_json_by_default() {
    let f = fixture();
    let tx = json(&query(&["--db", &path_str(&f.db), "tx", &f.a.to_string()]));
    assert_eq!(tx["txid"], f.a.to_string());
    assert_eq!(tx["height"], 2);
    assert_eq!(tx["outputs"][1]["spent_by"]["txid"], f.c.to_string());
    let addr = json(&query_db(&f.db, &["address", &address(2)]));
    assert_eq!((addr["balance_sat"].as_u64(), addr["tx_count"].as_u64()), (Some(0), Some(2)));
    let unseen = query_db(&f.db, &["address", &address(999)]);
    assert_eq!(json(&unseen)["balance_sat"], 0);
    assert!(unseen.stderr.contains("note: address") && unseen.stderr.contains("never been seen"), "{}", unseen.stderr);
}

#[test]
fn a_txid_prefix_as_tables_print_it_is_accepted_as_input() {
    let f = fixture();
    let a = f.a.to_string();
    for prefix in [a[..8].to_string(), format!("{}…", &a[..16]), a[..8].to_uppercase()] {
        assert_eq!(json(&query_db(&f.db, &["tx", &prefix]))["txid"], a, "{prefix}");
    }
    let trace = json(&query_db(&f.db, &["trace", "forward", &format!("{}…:1", &a[..16]), "--hops", "1"]));
    assert_eq!(trace["root"], format!("{a}:1"));
    let table = query_db(&f.db, &["--format", "table", "tx", &a[..8]]);
    assert!(table.stdout.contains(&a[..16]), "{}", table.stdout);
    let unknown = if a.starts_with("00000000") { "ffffffff" } else { "00000000" };
    assert_error(
        &query_db(&f.db, &["tx", unknown]),
        1,
        &format!("no indexed transaction's txid starts with {unknown}"),
    );
    assert_error(&query_db(&f.db, &["tx", &a[..7]]), 2, "(or a prefix of at least 8)");
}

#[test]
fn trace_reports_hops_edges_and_truncation() {
    let f = fixture();
    let t = json(&query_db(&f.db, &["trace", "forward", &f.a.to_string(), "--hops", "2"]));
    let hops: Vec<(String, u64)> = t["txs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["txid"].as_str().unwrap().to_string(), n["hop"].as_u64().unwrap()))
        .collect();
    assert_eq!(hops.len(), 4);
    assert_eq!(hops[0], (f.a.to_string(), 0));
    assert!(hops.contains(&(f.c.to_string(), 1)), "c spends a directly: hop 1, not 2");
    assert_eq!(t["edges"].as_array().unwrap().len(), 4);
    assert_eq!(t["truncated"], false);
    let run = query_db(&f.db, &["trace", "forward", &f.a.to_string(), "--hops", "30", "--max-txs", "5"]);
    let t = json(&run);
    assert_eq!(t["truncated"], true);
    assert_eq!(t["txs"].as_array().unwrap().len(), 5);
    assert!(run.stderr.contains("truncated"), "{}", run.stderr);
    let t = json(&query_db(&f.db, &["trace", "forward", &f.a.to_string(), "--min-value", "45000sat", "--hops", "1"]));
    assert_eq!(t["txs"][1]["txid"], f.c.to_string());
    assert_eq!(t["txs"].as_array().unwrap().len(), 2);
}

#[test]
fn path_is_found_at_depth_23_from_address_to_address() {
    let f = fixture();
    // address 1 is spent by a; address 121 is paid by the last tx: a -> c -> 22 more.
    let p = json(&query_db(&f.db, &["path", &address(1), &address(121)]));
    assert_eq!(p["found"], true);
    assert_eq!(p["hops"], 23);
    let txs = p["txs"].as_array().unwrap();
    assert_eq!(
        (txs[0].as_str().unwrap(), txs[23].as_str().unwrap()),
        (f.a.to_string().as_str(), f.last.to_string().as_str())
    );
    assert_eq!(p["edges"].as_array().unwrap().len(), 23);
    let p = json(&query_db(&f.db, &["path", &f.a.to_string(), &f.last.to_string(), "--max-hops", "22"]));
    assert_eq!(p["found"], false);
}

#[test]
fn table_dot_and_graphml_are_written_for_a_trace() {
    let f = fixture();
    let target = format!("{}:1", f.a);
    let table = query_db(&f.db, &["--format", "table", "trace", "forward", &target, "--hops", "1"]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(table.stdout.starts_with(&format!("Trace forward from {target}: 2 txs, 1 edge,")), "{}", table.stdout);
    assert!(table.stdout.contains("0.00058000"), "{}", table.stdout);
    let dot = query_db(&f.db, &["trace", "forward", &target, "--hops", "1", "--format", "dot"]);
    assert!(dot.stdout.starts_with("digraph trace {"), "{}", dot.stdout);
    // One payment between the two txs; the other arrows lead to where the branches end.
    let payments =
        dot.stdout.lines().filter(|l| l.contains("\" -> \"") && !l.contains("address:") && !l.contains("invis"));
    assert_eq!(payments.count(), 1, "{}", dot.stdout);
    assert!(dot.stdout.contains("\" -> \"address:"), "{}", dot.stdout);
    let svg = query_db(&f.db, &["trace", "forward", &target, "--hops", "1", "--format", "svg"]);
    assert_eq!(svg.code, 0, "{}", svg.stderr);
    assert!(svg.stdout.contains("<svg"), "{}", svg.stdout);
    let graphml = query_db(&f.db, &["trace", "backward", &f.c.to_string(), "--format", "graphml"]);
    assert_eq!(graphml.code, 0, "{}", graphml.stderr);
    assert!(graphml.stdout.contains("<graph id=\"trace\" edgedefault=\"directed\">"));
    assert_eq!(graphml.stdout.matches("<node id=").count(), 4);
}

#[test]
fn cluster_argument_errors_exit_2_and_unseen_addresses_exit_1() {
    let f = fixture();
    let (three, five) = (address(3), address(5));
    assert_error(&query_db(&f.db, &["cluster", "--why", &three]), 2, "cluster --why takes two addresses, got 1");
    assert_error(&query_db(&f.db, &["cluster", &three, &five]), 2, "cluster takes one address, got 2");
    assert_error(&query_db(&f.db, &["cluster", "--why", &three, &five, "--limit", "5"]), 2, "cannot be used with");
    assert_error(&query_db(&f.db, &["cluster", &three, "--after", "x"]), 2, "malformed --after 'x'");
    assert_error(&query_db(&f.db, &["cluster", "bcrt1qnotanaddress"]), 2, "malformed address");
    assert_error(&query_db(&f.db, &["clusters", "--top", "0"]), 2, "1..=10000");
    assert_error(&query_db(&f.db, &["--format", "graphml", "clusters"]), 2, "use json or table for clusters");
    let unseen = address(999);
    assert_error(&query_db(&f.db, &["cluster", &unseen]), 1, &format!("address {unseen} has never been seen"));
    assert_error(&query_db(&f.db, &["cluster", "--why", &three, &unseen]), 1, "has never been seen");
}

#[test]
fn cluster_answers_in_json_and_table() {
    let f = fixture();
    // c spends a:1 (address 3) and b:1 (address 5) together.
    let c = json(&query_db(&f.db, &["cluster", &address(5)]));
    assert_eq!((c["cluster_id"].as_str(), c["size"].as_u64()), (Some(address(3).as_str()), Some(2)));
    let why = json(&query_db(&f.db, &["cluster", "--why", &address(5), &address(3)]));
    assert_eq!(why["links"][0]["txid"], f.c.to_string());
    let table = query_db(&f.db, &["--format", "table", "clusters", "--top", "1"]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(table.stdout.starts_with("Largest clusters: 1 (heuristics multi_input (version 1))"), "{}", table.stdout);
    assert!(table.stdout.contains(&address(3)), "{}", table.stdout);
}

const BITSTAMP: &str = "1JoktQJhCzuCQkt3GnQ8Xddcq4mUgNyXEa";

/// A mainnet tag store directory and packs to import into it.
struct Packs {
    dir: tempfile::TempDir,
}

impl Packs {
    fn new() -> Packs {
        Packs { dir: tempfile::tempdir().unwrap() }
    }

    fn store(&self) -> String {
        path_str(&self.dir.path().join("tags"))
    }

    fn file(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path_str(&path)
    }

    /// `query --network main --tags <store> tags <args>`.
    fn tags(&self, args: &[&str]) -> Run {
        let store = self.store();
        let mut all = vec!["--network", "main", "--tags", store.as_str(), "tags"];
        all.extend(args);
        query(&all)
    }
}

fn tagpack(title: &str, address: &str) -> String {
    format!(
        "title: {title}\ncreator: C\ncurrency: BTC\nsource: https://s\ncategory: exchange\n\
         confidence: ownership\ntags:\n- address: {address}\n  label: Bitstamp\n  actor: bitstamp\n\
         - address: 0xdeadbeef\n  currency: ETH\n  label: E\n"
    )
}

#[test]
fn tags_import_show_list_and_remove_answer_in_json() {
    let p = Packs::new();
    let pack = p.file("p.yaml", &tagpack("Exchanges", BITSTAMP));
    let csv =
        p.file("more.csv", &format!("address,label,category,source,confidence\n{BITSTAMP},Cold,exchange,s,forensic\n"));
    let done = json(&p.tags(&["import", &pack, &csv]));
    assert_eq!(done["network"], "main");
    assert_eq!(done["packs"][0]["title"], "Exchanges");
    assert_eq!((done["packs"][0]["imported"].as_u64(), done["packs"][0]["skipped"].as_u64()), (Some(1), Some(1)));
    assert_eq!(done["packs"][1]["title"], "more.csv");
    assert_eq!((done["total"]["imported"].as_u64(), done["total"]["duplicates"].as_u64()), (Some(2), Some(0)));
    let again = json(&p.tags(&["import", &pack]));
    assert_eq!((again["total"]["imported"].as_u64(), again["total"]["duplicates"].as_u64()), (Some(0), Some(1)));
    let shown = json(&p.tags(&["show", BITSTAMP]));
    assert_eq!(shown["address"], BITSTAMP);
    let tags = shown["tags"].as_array().unwrap();
    assert_eq!(tags.len(), 2);
    let first = tags.iter().find(|t| t["pack"] == "Exchanges").unwrap();
    assert_eq!(
        (first["label"].as_str(), first["category"].as_str(), first["source"].as_str()),
        (Some("Bitstamp"), Some("exchange"), Some("https://s"))
    );
    assert_eq!(
        (first["confidence"].as_str(), first["confidence_level"].as_u64(), first["actor"].as_str()),
        (Some("ownership"), Some(100), Some("bitstamp"))
    );
    assert_eq!(first["abuse"], serde_json::Value::Null);
    let none = json(&p.tags(&["show", "3A1KUd5H4hBEHk4bZB4C3hGgvuXuVX7p7t"]));
    assert_eq!(none["tags"].as_array().map(Vec::len), Some(0));
    let page = json(&p.tags(&["list", "--limit", "1"]));
    assert_eq!(page["tags"][0]["address"], BITSTAMP);
    let next = page["next_cursor"].as_str().unwrap().to_string();
    let rest = json(&p.tags(&["list", "--after", &next]));
    assert_eq!((rest["tags"].as_array().map(Vec::len), &rest["next_cursor"]), (Some(1), &serde_json::Value::Null));
    let cold = json(&p.tags(&["list", "--source", "s"]));
    assert_eq!(cold["tags"][0]["label"], "Cold");
    let table = p.tags(&["list", "--category", "exchange", "--format", "table"]);
    assert!(table.stdout.starts_with("ADDRESS OR TXID") && table.stdout.contains("Bitstamp"), "{}", table.stdout);
    let removed = json(&p.tags(&["remove", "--pack", "Exchanges"]));
    assert_eq!((removed["pack"].as_str(), removed["removed"].as_u64()), (Some("Exchanges"), Some(1)));
    assert_eq!(json(&p.tags(&["show", BITSTAMP]))["tags"][0]["label"], "Cold");
}

#[test]
fn bad_packs_exit_2_and_tag_store_failures_exit_1() {
    let p = Packs::new();
    let bad = p.file("bad.yaml", &tagpack("Bad", "1JoktQJhCzuCQkt3GnQ8Xddcq4mUgNyXEb"));
    assert_error(&p.tags(&["import", &bad]), 2, "bad.yaml: line 8: tag 1: field 'address': malformed address");
    let syntax = p.file("syntax.yaml", "title: T\ntags: [\n");
    assert_error(&p.tags(&["import", &syntax]), 2, "syntax.yaml: line ");
    assert_error(&p.tags(&["import", &p.file("x.txt", "")]), 2, "unknown kind of pack");
    assert_error(&p.tags(&["import", &path_str(&p.dir.path().join("none.yaml"))]), 2, "cannot read tag pack");
    assert_error(&query(&["tags", "import", &bad]), 2, "no network given for the tag store: pass --network");
    assert_error(&p.tags(&["list", "--after", "zz"]), 2, "malformed --after 'zz'");
    assert_error(&query(&["tags"]), 2, "no tags command given");
    assert_error(&p.tags(&["remove", "--pack", "Nope"]), 1, "no pack titled 'Nope'");
    assert!(!p.dir.path().join("tags").exists(), "nothing was written");
    json(&p.tags(&["import", &p.file("good.yaml", &tagpack("Good", BITSTAMP))]));
    assert_error(&p.tags(&["remove", "--pack", "Nope"]), 1, "(packs: 'Good')");
    let store = p.store();
    let signet = query(&["--network", "signet", "--tags", &store, "tags", "list"]);
    assert_error(&signet, 1, "holds tags of 'main', but the network asked for is 'signet'");
    let writer = query::tags::TagStore::open_write(Path::new(&store), indexer::network::Network::Main).unwrap();
    assert_error(&p.tags(&["import", &p.file("g2.yaml", &tagpack("G2", BITSTAMP))]), 1, "is in use by another import");
    assert_eq!(json(&p.tags(&["show", BITSTAMP]))["tags"][0]["label"], "Bitstamp", "readers work meanwhile");
    drop(writer);
}

#[test]
fn other_commands_work_without_a_tag_store_or_with_a_foreign_one() {
    let f = fixture();
    let p = Packs::new();
    let missing = p.store();
    let tx = json(&query_db(&f.db, &["--tags", &missing, "tx", &f.a.to_string()]));
    assert_eq!(tx["txid"], f.a.to_string());
    json(&p.tags(&["import", &p.file("g.yaml", &tagpack("Good", BITSTAMP))]));
    let run = query_db(&f.db, &["--tags", &missing, "tx", &f.a.to_string()]);
    assert_eq!(json(&run)["txid"], f.a.to_string());
    assert!(
        run.stderr.contains("answering without tags") && run.stderr.contains("holds tags of 'main'"),
        "{}",
        run.stderr
    );
}

#[test]
fn exposure_errors_exit_with_the_right_code_and_answers_print_as_table() {
    let f = fixture();
    assert_error(&query_db(&f.db, &["exposure", "1234"]), 2, "'1234' is not a txid");
    assert_error(&query_db(&f.db, &["exposure", &format!("{}:0", f.a)]), 2, "exposure takes an address or a txid");
    assert_error(&query_db(&f.db, &["exposure", &address(1), "--direction", "up"]), 2, "invalid value 'up'");
    assert_error(&query_db(&f.db, &["--format", "dot", "exposure", &address(1)]), 2, "use json or table for exposure");
    let unknown = "ab".repeat(32);
    assert_error(&query_db(&f.db, &["exposure", &unknown]), 1, "is not in the index");
    let unseen = address(999);
    assert_error(&query_db(&f.db, &["exposure", &unseen]), 1, &format!("address {unseen} has never been seen"));
    let e = json(&query_db(&f.db, &["exposure", &f.a.to_string(), "--hops", "2"]));
    assert_eq!((e["total_sat"].as_u64(), e["direction"].as_str()), (Some(90_000), Some("out")));
    let parts = e["unattributed_sat"].as_u64().unwrap() + e["fees_sat"].as_u64().unwrap();
    assert_eq!(parts, 90_000);
    let table = query_db(&f.db, &["--format", "table", "exposure", &address(6), "--direction", "in"]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(table.stdout.starts_with(&format!("Exposure into  {}", address(6))), "{}", table.stdout);
    assert!(table.stdout.contains("Received       0.00058000 BTC"), "{}", table.stdout);
}

#[test]
fn taint_errors_exit_with_the_right_code_and_answers_balance_in_every_format() {
    let f = fixture();
    let a = f.a.to_string();
    assert_clap_error(
        &["taint", "t"],
        "taint needs --model <MODEL> (poison, haircut, fifo or lifo): query taint t --model <MODEL> (see 'query taint --help')",
    );
    assert_error(&query_db(&f.db, &["taint", &a, "--model", "fofi"]), 2, "invalid value 'fofi' for --model");
    assert_error(
        &query_db(&f.db, &["--format", "png", "taint", &a, "--model", "fifo"]),
        2,
        "use json or table for taint",
    );
    let unseen = address(999);
    assert_error(&query_db(&f.db, &["taint", &unseen, "--model", "fifo"]), 1, "has never been seen");
    let t = json(&query_db(&f.db, &["taint", &a, "--model", "haircut", "--hops", "3"]));
    let (source, frontier, fees) =
        (t["source"]["tainted_sat"].as_u64(), t["frontier_tainted_sat"].as_u64(), t["fees_tainted_sat"].as_u64());
    assert_eq!(source, Some(90_000));
    assert_eq!(frontier.unwrap() + fees.unwrap(), 90_000);
    let table = query_db(&f.db, &["--format", "table", "taint", &a, "--model", "lifo", "--hops", "3"]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(table.stdout.contains("Books       frontier + fees = source, to the satoshi"), "{}", table.stdout);
    let csv = query_db(&f.db, &["--format", "csv", "taint", &a, "--model", "poison", "--hops", "3"]);
    assert_eq!(csv.code, 0, "{}", csv.stderr);
    assert!(csv
        .stdout
        .starts_with("txid,vout,hop,address,value_sat,value_btc,tainted_sat,tainted_btc,spent,height,time,tags\n"));
}

/// A sealed report without hops, written to `dir/report.json` with `edit` applied to its JSON.
#[cfg(feature = "verify")]
fn report_file(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    use query::report::{BlockRef, CaseReport, FORMAT};
    let report = CaseReport {
        format: FORMAT,
        tool: "chaintrail query 0.1.0".into(),
        command: vec!["trace".into(), "forward".into(), "ab".repeat(32)],
        network: "regtest".into(),
        tip: BlockRef { height: 1, hash: "00".repeat(32) },
        case: Default::default(),
        index: Default::default(),
        hops: Vec::new(),
        scripts_used: Vec::new(),
        clusters_used: Vec::new(),
        tags_used: Vec::new(),
        tx_tags_used: Vec::new(),
        answer: serde_json::json!({"txs": []}),
        requests: None,
        digest: String::new(),
        signature: None,
    }
    .seal();
    let mut value = serde_json::to_value(&report).unwrap();
    edit(&mut value);
    std::fs::write(dir.join("report.json"), serde_json::to_string_pretty(&value).unwrap()).unwrap();
    path_str(dir)
}

#[cfg(feature = "verify")]
#[test]
fn verify_without_a_node_exits_2_for_a_bad_file_and_1_for_a_broken_digest_or_no_node() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("report.json");
    assert_error(&query(&["verify", &path_str(dir.path())]), 2, "cannot read the case report");
    assert!(query(&["verify", &path_str(dir.path())]).stderr.contains(&path_str(&missing)));
    assert_clap_error(
        &["verify"],
        "verify needs <REPORT> (the case report: its report.json, or the directory holding it): query verify <REPORT> \
         (see 'query verify --help')",
    );
    std::fs::write(&missing, "42").unwrap();
    assert_error(
        &query(&["verify", &path_str(&missing)]),
        2,
        "is not a case report: invalid type: integer `42`, expected struct CaseReport",
    );

    let edited = report_file(dir.path(), |v| v["answer"]["txs"] = serde_json::json!(["ab"]));
    assert_error(&query(&["verify", &edited]), 1, "digest mismatch: the report was changed after it was written");
    let csv = query(&["--format", "csv", "verify", &edited]);
    assert_error(&csv, 2, "use json or table for verify");

    // Sealed, but no node listens: one line, exit 1.
    let sealed = report_file(dir.path(), |_| {});
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let cookie = dir.path().join("cookie");
    std::fs::write(&cookie, "__cookie__:secret").unwrap();
    let down = query(&["verify", &sealed, "--rpc-url", &url, "--rpc-cookie", &path_str(&cookie)]);
    assert_error(&down, 1, &format!("cannot reach bitcoind at {url}"));
    // A user without a password is refused before any node is asked.
    let no_password = query(&["verify", &sealed, "--rpc-url", &url, "--rpc-user", "alice"]);
    assert_error(&no_password, 2, "--rpc-user needs a password: set CHAINTRAIL_RPC_PASSWORD");
}

#[test]
fn report_writes_its_case_file_and_refuses_a_directory_that_is_not_empty() {
    let f = fixture();
    let work = tempfile::tempdir().unwrap();
    let case = work.path().join("case");
    let case_str = path_str(&case);
    let a = f.a.to_string();
    let written = json(&query_db(&f.db, &["report", "--out", &case_str, "trace", "forward", &a, "--hops", "2"]));
    assert_eq!(written["report"], format!("{case_str}/report.json"));
    assert_eq!(written["html"], format!("{case_str}/report.html"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(case.join("report.json")).unwrap()).unwrap();
    assert_eq!(written["digest"], report["digest"]);
    assert_eq!(written["hops"].as_u64(), report["hops"].as_array().map(|h| h.len() as u64));
    assert_eq!(report["command"][0], "trace");
    assert!(std::fs::read_to_string(case.join("report.html")).unwrap().starts_with("<!DOCTYPE html>"));

    // Again into the same directory: refused on one line, exit 2, nothing touched.
    let before = std::fs::read(case.join("report.json")).unwrap();
    let again = query_db(&f.db, &["report", "trace", "forward", &a, "--out", &case_str]);
    assert_error(
        &again,
        2,
        &format!("--out {case_str} is not empty (it holds report.html, report.json, requests.csv)"),
    );
    assert!(again.stderr.contains("(see 'query report --help')"), "{}", again.stderr);
    assert_eq!(std::fs::read(case.join("report.json")).unwrap(), before);
    assert_error(&query_db(&f.db, &["report", "trace", "forward", &a]), 2, "report needs --out DIR");

    // The summary as a table.
    let other = path_str(&work.path().join("other"));
    let table = query_db(&f.db, &["--format", "table", "report", "--out", &other, "path", &a, &f.last.to_string()]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(
        table.stdout.starts_with(&format!("Report  {other}/report.json\nHTML    {other}/report.html\n")),
        "{}",
        table.stdout
    );
}
