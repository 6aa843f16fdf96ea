//! End-to-end tests of `query serve` on a generated chain from a real node: every endpoint's
//! answer is byte for byte what the command line prints for the same question, bad input gets
//! 400 and unknown ids 404 with a JSON error, a token is enforced, the server sees the blocks
//! the indexer commits while it runs, and SIGTERM stops it cleanly.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use bitcoincore_rpc::RpcApi;
use chaintrail_tests::{generate, GenParams, TestEnv, Truth};
use serde_json::Value;

use crate::support::{bin, index_once, indexer, query_text, serving, wait_for_tip};

/// A running `query serve`, with the lines it wrote to standard error.
struct Server {
    child: Child,
    base: String,
    token: Option<String>,
    log: Arc<Mutex<Vec<String>>>,
}

/// An HTTP answer: status, content type and body.
struct Reply {
    status: i32,
    content_type: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The message of a JSON error.
    fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_else(|| panic!("no error: {}", self.body)).to_string()
    }
}

impl Server {
    /// Starts the server on a free loopback port and waits for its start line, which names it.
    fn start(db: &Path, tags: &Path, extra: &[&str]) -> Server {
        let mut cmd = Command::new(bin("query"));
        cmd.arg("--db").arg(db).arg("--tags").arg(tags);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--refresh-ms", "50"]).args(extra);
        let (child, start, lines) = serving(cmd);
        let url = start.split_whitespace().nth(1).expect("the start line names the URL");
        let base = url.strip_suffix("/api/v1/").expect("the URL ends in /api/v1/").to_string();
        let log = Arc::new(Mutex::new(vec![start.clone()]));
        let kept = Arc::clone(&log);
        std::thread::spawn(move || lines.map_while(Result::ok).for_each(|l| kept.lock().unwrap().push(l)));
        Server { child, base, token: None, log }
    }

    fn get(&self, path: &str) -> Reply {
        self.get_with(path, self.token.as_deref())
    }

    fn get_with(&self, path: &str, token: Option<&str>) -> Reply {
        let mut request = minreq::get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.with_header("Authorization", format!("Bearer {token}"));
        }
        let response = request.send().unwrap_or_else(|e| panic!("GET {path}: {e}"));
        Reply {
            status: response.status_code,
            content_type: response.headers.get("content-type").cloned().unwrap_or_default(),
            body: response.as_str().expect("UTF-8").to_string(),
        }
    }

    /// A 200 answer's body.
    fn ok(&self, path: &str) -> String {
        let reply = self.get(path);
        assert_eq!(reply.status, 200, "GET {path}: {}", reply.body);
        reply.body
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().expect("poll the server").is_none()
    }

    /// Sends SIGTERM and waits for the exit.
    fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs").success());
        self.child.wait().expect("the server exits")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Tags the exchange's deposit address.
fn import_tags(db: &Path, tags: &Path, deposit: &str) {
    let pack = tags.with_extension("yaml");
    std::fs::write(
        &pack,
        format!(
            "title: Serve test\ncreator: chaintrail tests\ndescription: a deposit address\ncurrency: BTC\n\
             category: exchange\nconfidence: ownership\nsource: https://example.org/serve\ntags:\n\
             - address: {deposit}\n  label: Exchange A\n"
        ),
    )
    .expect("write the pack");
    query_text(db, tags, "json", &["tags", "import", pack.to_str().expect("UTF-8 path")]);
}

#[test]
fn every_endpoint_answers_as_the_command_line_and_follows_the_indexer() {
    let env = TestEnv::builder().txindex(true).build().expect("node starts");
    let truth =
        generate(env.rpc(), &GenParams { seed: 21, target_txs: 3_000, txs_per_block: 200, ..GenParams::default() })
            .expect("generate");
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, tags): (PathBuf, PathBuf) = (dir.path().join("index"), dir.path().join("tags"));
    index_once(&env, &db, &[]);
    import_tags(&db, &tags, &truth.case.exchange_deposit_address);
    let server = Server::start(&db, &tags, &[]);
    assert!(server.log.lock().unwrap()[0].ends_with("; no token: loopback only)"));

    the_answers_are_the_command_lines(&server, &env, &db, &tags, &truth);
    bad_input_is_400_and_unknown_ids_404(&server);

    // The server sees a block the indexer commits while both run.
    let height = server.get("/api/v1/tip").json()["height"].as_u64().expect("a tip") as u32;
    let mut follower = indexer(&env, &db).args(["--poll-ms", "100"]).stderr(Stdio::null()).spawn().expect("indexer");
    wait_for_tip(&mut follower, &db, height);
    let mined = env.mine_to_new(1).expect("mine")[0];
    wait_for_tip(&mut follower, &db, height + 1);
    let mut server = server;
    let tip = loop {
        let tip = server.get("/api/v1/tip").json();
        if tip["height"] == height + 1 {
            break tip;
        }
        assert!(server.running(), "the server exited while the test waited for block {}", height + 1);
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(tip["hash"], mined.to_string());
    follower.kill().expect("kill the indexer");
    follower.wait().expect("reaped");

    let status = server.stop();
    assert!(status.success(), "the server exited with {status} on SIGTERM");
}

/// Every endpoint against the command line, byte for byte.
fn the_answers_are_the_command_lines(server: &Server, env: &TestEnv, db: &Path, tags: &Path, truth: &Truth) {
    let case = &truth.case;
    let (thief, deposit, theft) = (&case.thief_address, &case.exchange_deposit_address, &case.theft_txid);
    let same = |path: &str, args: &[&str]| {
        assert_eq!(server.ok(path), query_text(db, tags, "json", args), "GET {path} against query {args:?}");
    };
    same(&format!("/api/v1/tx/{theft}"), &["tx", theft]);
    same(&format!("/api/v1/address/{thief}?limit=1"), &["address", thief, "--limit", "1"]);
    let first: Value = serde_json::from_str(&server.ok(&format!("/api/v1/address/{thief}?limit=1"))).unwrap();
    let cursor = first["next_cursor"].as_str().expect("the thief's history has a second page");
    same(
        &format!("/api/v1/address/{thief}?limit=1&after={cursor}"),
        &["address", thief, "--limit", "1", "--after", cursor],
    );
    let forward = ["trace", "forward", theft.as_str(), "--hops", "20", "--max-txs", "100000"];
    same(&format!("/api/v1/trace/forward/{theft}?hops=20&max_txs=100000"), &forward);
    let consolidation = &case.consolidation_txid;
    same(
        &format!("/api/v1/trace/backward/{consolidation}?hops=4&min_value=0.0001btc"),
        &["trace", "backward", consolidation, "--hops", "4", "--min-value", "0.0001btc"],
    );
    same(&format!("/api/v1/path?from={thief}&to={deposit}&max_hops=40"), &["path", thief, deposit, "--max-hops", "40"]);
    same(&format!("/api/v1/cluster/{thief}?limit=5"), &["cluster", thief, "--limit", "5"]);
    same(&format!("/api/v1/taint/{theft}?model=fifo"), &["taint", theft, "--model", "fifo"]);
    same(&format!("/api/v1/exposure/{thief}?hops=5"), &["exposure", thief, "--hops", "5"]);
    same(&format!("/api/v1/tags/{deposit}"), &["tags", "show", deposit]);
    let tagged: Value = serde_json::from_str(&server.ok(&format!("/api/v1/tags/{deposit}"))).unwrap();
    assert_eq!(tagged["tags"][0]["label"], "Exchange A");

    // Other formats, with their content types.
    let dot = server.get(&format!("/api/v1/trace/forward/{theft}?hops=20&max_txs=100000&format=dot"));
    assert_eq!((dot.status, dot.content_type.as_str()), (200, "text/vnd.graphviz; charset=utf-8"));
    assert_eq!(dot.body, query_text(db, tags, "dot", &forward));
    let graphml = server.ok(&format!("/api/v1/path?from={thief}&to={deposit}&max_hops=40&format=graphml"));
    assert_eq!(graphml, query_text(db, tags, "graphml", &["path", thief, deposit, "--max-hops", "40"]));
    let csv = server.get(&format!("/api/v1/tx/{theft}?format=csv"));
    assert_eq!((csv.status, csv.content_type.as_str()), (200, "text/csv; charset=utf-8"));
    assert_eq!(csv.body, query_text(db, tags, "csv", &["tx", theft]));

    // The tip, health and the description.
    let tip = server.get("/api/v1/tip").json();
    let height = crate::support::tip(db).expect("indexed");
    assert_eq!((tip["network"].as_str(), tip["height"].as_u64()), (Some("regtest"), Some(u64::from(height))));
    assert_eq!(tip["hash"], env.rpc().get_block_hash(u64::from(height)).expect("hash").to_string());
    let health = server.get("/api/v1/health").json();
    assert_eq!((health["status"].as_str(), &health["tip"]), (Some("ok"), &tip));
    let openapi = server.get("/api/v1/openapi.json").json();
    assert!(openapi["paths"]["/api/v1/trace/{direction}/{target}"]["get"].is_object());
}

/// Malformed input is 400 with the command line's message, unknown ids 404, never a 5xx.
fn bad_input_is_400_and_unknown_ids_404(server: &Server) {
    let refused = |path: &str, status: i32| {
        let reply = server.get(path);
        assert_eq!(reply.status, status, "GET {path}: {}", reply.body);
        assert_eq!(reply.content_type, "application/json");
        reply.error()
    };
    assert!(refused("/api/v1/tx/zz", 400).starts_with("malformed txid 'zz'"));
    let mainnet = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";
    let other_network = refused(&format!("/api/v1/address/{mainnet}"), 400);
    assert!(other_network.contains("mainnet") && other_network.contains("regtest"), "{other_network}");
    let unknown = "00".repeat(32);
    assert_eq!(
        refused(&format!("/api/v1/trace/forward/{unknown}?hops=0"), 400),
        "hops must be between 1 and 100 (got 0)"
    );
    assert_eq!(
        refused(&format!("/api/v1/taint/{unknown}?model=nope"), 400),
        "model: 'nope' is not one of poison, haircut, fifo, lifo"
    );
    assert!(refused(&format!("/api/v1/trace/sideways/{unknown}"), 400).starts_with("direction: 'sideways'"));
    assert!(refused(&format!("/api/v1/exposure/{unknown}?format=dot"), 400).contains("only for trace and path"));
    assert!(refused(&format!("/api/v1/tx/{unknown}"), 404).contains("is not in the index"));
    assert!(refused(&format!("/api/v1/trace/forward/{unknown}:0"), 404).contains("is not in the index"));
    assert!(refused("/api/v1/nothing", 404).starts_with("no endpoint /api/v1/nothing"));
}

#[test]
fn a_server_with_a_token_refuses_requests_without_it() {
    let env = TestEnv::new().expect("node starts");
    env.mine_to_new(3).expect("mine");
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, tags) = (dir.path().join("index"), dir.path().join("tags"));
    index_once(&env, &db, &[]);
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "s3cret\n").expect("write the token");
    let mut server = Server::start(&db, &tags, &["--token-file", token_file.to_str().expect("UTF-8 path")]);
    assert!(server.log.lock().unwrap()[0].ends_with("; token required)"));
    for token in [None, Some("wrong")] {
        let reply = server.get_with("/api/v1/tip", token);
        assert_eq!(reply.status, 401, "{}", reply.body);
        assert!(reply.error().contains("Authorization: Bearer"));
    }
    server.token = Some("s3cret".into());
    let tip = server.get("/api/v1/tip").json();
    assert_eq!(tip["height"], 3);
    assert_eq!(tip["hash"], env.rpc().get_block_hash(3).expect("hash").to_string());
    let status = server.stop();
    assert!(status.success(), "the server exited with {status} on SIGTERM");
    assert!(Server::start_fails(&db, &["--listen", "0.0.0.0:0"]).contains("--token-file"));
}

impl Server {
    /// Runs `query serve` expected to refuse its settings; returns its error line.
    fn start_fails(db: &Path, extra: &[&str]) -> String {
        let mut cmd = Command::new(bin("query"));
        cmd.arg("--db").arg(db).arg("serve").args(extra);
        let (code, err) = crate::support::failing(cmd);
        assert_eq!(code, 2, "{err}");
        err
    }
}
