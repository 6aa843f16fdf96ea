//! Malformed requests against `query serve` over raw TCP: thousands of bad paths, ids, numbers,
//! query strings, methods, headers and request lines, generated from a fixed seed, never get a
//! 5xx, never make it panic and never stop it answering; and a request in flight when SIGTERM
//! arrives still gets its whole answer before the server exits 0.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use chaintrail_tests::{generate, GenParams, TestEnv, Truth};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::support::{bin, index_once, serving};

/// Malformed requests sent by the fuzz test.
const REQUESTS: usize = 10_000;
/// A valid health check after every this many of them.
const HEALTH_EVERY: usize = 500;

/// A running `query serve` on a free loopback port, with the lines it wrote to standard error.
struct Server {
    child: Child,
    address: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    /// Reads its standard error into `log` until it exits.
    reader: Option<JoinHandle<()>>,
}

impl Server {
    fn start(db: &Path, extra: &[&str]) -> Server {
        Server::start_logging(db, extra, "warn")
    }

    /// With `RUST_LOG=<filter>`: at `query::serve=debug` the server logs each request it starts
    /// answering.
    fn start_logging(db: &Path, extra: &[&str], filter: &str) -> Server {
        let mut cmd = Command::new(bin("query"));
        cmd.env("RUST_LOG", filter).arg("--db").arg(db).args(["serve", "--listen", "127.0.0.1:0"]).args(extra);
        let (child, start, lines) = serving(cmd);
        let url = start.split_whitespace().nth(1).expect("the start line names the URL");
        let authority = url.strip_prefix("http://").and_then(|u| u.strip_suffix("/api/v1/")).expect("an http URL");
        let address = authority.parse().expect("the start line names a socket address");
        let log = Arc::new(Mutex::new(vec![start.clone()]));
        let kept = Arc::clone(&log);
        let reader = std::thread::spawn(move || lines.map_while(Result::ok).for_each(|l| kept.lock().unwrap().push(l)));
        Server { child, address, log, reader: Some(reader) }
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().expect("poll the server").is_none()
    }

    /// Sends SIGTERM.
    fn terminate(&self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs").success());
    }

    /// Waits for the exit and for the last line of its log.
    fn wait(&mut self) -> ExitStatus {
        let status = self.child.wait().expect("the server exits");
        if let Some(reader) = self.reader.take() {
            reader.join().expect("the log reader ends with the server");
        }
        status
    }

    /// How many lines of its log tell of a `command` request started so far.
    fn answering(&self, command: &str) -> usize {
        self.log.lock().unwrap().iter().filter(|l| l.contains("answering") && l.contains(command)).count()
    }

    /// Polls its log until `count` lines contain both `what` and `command`, failing if it exits
    /// first. No deadline: the test moves on when the server has made that progress.
    fn wait_for_log(&mut self, count: usize, what: &str, command: &str) {
        while self.log.lock().unwrap().iter().filter(|l| l.contains(what) && l.contains(command)).count() < count {
            assert!(self.running(), "the server exited before logging {what} {command}");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// The lines of its log that tell of a panic.
    fn panics(&self) -> Vec<String> {
        self.log.lock().unwrap().iter().filter(|l| l.contains("panicked")).cloned().collect()
    }

    /// A valid `GET` with a complete answer: status and body.
    fn get(&self, target: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(self.address).expect("connect to the server");
        stream
            .write_all(format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes())
            .expect("send the request");
        read_reply(&mut stream)
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

/// Reads one whole answer (headers, then `Content-Length` bytes of body): status and body.
fn read_reply(stream: &mut TcpStream) -> (u16, String) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).expect("read the status line");
    let status = status_of(line.as_bytes()).unwrap_or_else(|| panic!("not a status line: {line:?}"));
    let mut length = None;
    loop {
        line.clear();
        reader.read_line(&mut line).expect("read a header");
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.trim().parse::<usize>().expect("a numeric Content-Length"));
            }
        }
    }
    let mut body = vec![0; length.expect("the answer has a Content-Length")];
    reader.read_exact(&mut body).expect("read the whole body");
    (status, String::from_utf8(body).expect("UTF-8 body"))
}

/// The status of an HTTP/1 status line at the start of `head`.
fn status_of(head: &[u8]) -> Option<u16> {
    let rest = head.strip_prefix(b"HTTP/1.")?.get(2..5)?;
    std::str::from_utf8(rest).ok()?.parse().ok()
}

/// Sends `request` on a new connection and reads up to the end of the answer's headers: its
/// status, or `None` when the server closed the connection without one (it may, on broken framing).
fn exchange(address: SocketAddr, request: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(address).expect("connect to the server");
    // The server may refuse and close before it has read all of an oversized request.
    let _ = stream.write_all(request);
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    status_of(&head)
}

/// The ids of the indexed chain that requests are built around.
struct Ids {
    txid: String,
    other_txid: String,
    address: String,
    other_address: String,
}

impl Ids {
    fn of(truth: &Truth) -> Ids {
        let case = &truth.case;
        Ids {
            txid: case.theft_txid.clone(),
            other_txid: case.consolidation_txid.clone(),
            address: case.thief_address.clone(),
            other_address: case.exchange_deposit_address.clone(),
        }
    }
}

/// Every endpoint under `/api/v1/` (`{id}` is its argument) and the parameters it reads.
const ENDPOINTS: &[(&str, &[&str])] = &[
    ("tx/{id}", &["format"]),
    ("address/{id}", &["limit", "after", "from_height", "to_height", "from_date", "to_date", "max_utxos", "format"]),
    ("trace/forward/{id}", TRACE),
    ("trace/backward/{id}", TRACE),
    ("path", &["from", "to", "max_hops", "min_value", "max_txs", "format"]),
    ("cluster/{id}", &["limit", "after", "why", "format"]),
    ("exposure/{id}", &["direction", "hops", "max_txs"]),
    ("taint/{id}", &["model", "hops", "max_txs", "min_sat", "format"]),
    ("tags/{id}", &[]),
    ("tip", &[]),
    ("health", &[]),
    ("openapi.json", &[]),
];

const TRACE: &[&str] = &[
    "hops",
    "min_value",
    "follow",
    "top",
    "max_txs",
    "stop_at_address",
    "stop_at_tagged",
    "stop_at_category",
    "format",
];

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "-0",
    "+5",
    "1.5",
    "1e9",
    "0x10",
    "NaN",
    "%2D1",
    "%201",
    "00000000000000000001",
    "100",
    "101",
    "1000000",
    "1000001",
    "20000000",
    "20000001",
    "65535",
    "65536",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775809",
    "340282366920938463463374607431768211456",
];

const AMOUNTS: &[&str] = &[
    "0btc",
    "1sat",
    "0.5btc",
    "21000000btc",
    "21000001btc",
    "99999999999999999999btc",
    "-1btc",
    "0.000000001btc",
    "1e9btc",
    "18446744073709551615sat",
    "18446744073709551616sat",
    "btc",
    "1.5",
    "1.5.5btc",
    "%E2%82%BF1",
];

const DATES: &[&str] = &[
    "2024-01-31",
    "9999-12-31",
    "0000-01-01",
    "2024-02-30",
    "2024-13-01",
    "99999-01-01",
    "-2024-01-01",
    "1970-01-01T00:00:00Z",
    "yesterday",
];

const WORDS: &[&str] = &[
    "json",
    "csv",
    "dot",
    "graphml",
    "svg",
    "png",
    "table",
    "JSON",
    "forward",
    "backward",
    "out",
    "in",
    "poison",
    "haircut",
    "fifo",
    "lifo",
    "nope",
    "true",
    "false",
    "yes",
    "exchange",
    "exchange%2Cmixing_service",
    "%2C%2C",
    "largest",
    "all",
    "",
];

const MAINNET: &str = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";
const TESTNET: &str = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx";
const LEGACY: &str = "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2";

/// Request bytes built around the chain's ids, all from one seeded generator.
struct Fuzzer<'a> {
    rng: ChaCha8Rng,
    ids: &'a Ids,
}

impl Fuzzer<'_> {
    fn pick<'s>(&mut self, from: &[&'s str]) -> &'s str {
        from.choose(&mut self.rng).expect("not empty")
    }

    fn hex(&mut self, len: usize) -> String {
        (0..len).map(|_| char::from(b"0123456789abcdef"[self.rng.gen_range(0..16)])).collect()
    }

    /// Bytes of any value, some outside ASCII, some that break the request line.
    fn junk(&mut self, len: usize) -> String {
        (0..len).map(|_| char::from(self.rng.gen_range(0x01u8..=0xff))).collect()
    }

    /// An id that is wrong in some way, or sometimes a right one.
    fn id(&mut self) -> String {
        let (txid, address) = (self.ids.txid.clone(), self.ids.address.clone());
        match self.rng.gen_range(0..24) {
            0 => txid,
            1 => format!("{txid}:0"),
            2 => address,
            3 => {
                let len = self.rng.gen_range(0..200);
                self.hex(len)
            }
            4 => self.hex(63),
            5 => self.hex(65),
            6 => "g".repeat(64),
            7 => "a".repeat(10_000),
            8 => self.hex(10_000),
            9 => MAINNET.into(),
            10 => TESTNET.into(),
            11 => LEGACY.into(),
            12 => "%E2%82%AC%F0%9F%98%80".into(),
            13 => "€😀".into(),
            14 => format!("{txid}:{}", self.pick(NUMBERS)),
            15 => format!("{txid}:"),
            16 => ":0".into(),
            17 => self.pick(&["..", ".", "%2F", "%2e%2e", "%00", "%zz", "%", "%f", "%ff%fe", "%C3%28"]).into(),
            18 => txid.to_uppercase(),
            19 => address.to_uppercase(),
            20 => {
                let mut flipped = address.into_bytes();
                let at = flipped.len() - 1;
                flipped[at] = if flipped[at] == b'q' { b'p' } else { b'q' };
                String::from_utf8(flipped).expect("ASCII")
            }
            21 => "bcrt1".into(),
            22 => self.ids.other_txid.clone(),
            _ => {
                let len = self.rng.gen_range(1..64);
                self.junk(len)
            }
        }
    }

    /// A parameter's value: numbers out of every range, bad amounts and dates, ids, words, junk.
    fn value(&mut self) -> String {
        match self.rng.gen_range(0..8) {
            0 | 1 => self.pick(NUMBERS).into(),
            2 => self.pick(AMOUNTS).into(),
            3 => self.pick(DATES).into(),
            4 => self.pick(WORDS).into(),
            5 => self.id(),
            6 => self.ids.other_address.clone(),
            _ => {
                let len = self.rng.gen_range(0..40);
                self.junk(len)
            }
        }
    }

    /// A query string: known parameters with bad values, unknown, repeated and empty ones, and
    /// broken syntax.
    fn query(&mut self, params: &[&str]) -> String {
        let mut pairs = Vec::new();
        for _ in 0..self.rng.gen_range(0..5) {
            let name = match self.rng.gen_range(0..10) {
                0 => self.pick(&["x", "hop", "HOPS", "max-txs", "", "format", "%zz", "hops%00"]).to_string(),
                1 => String::new(),
                _ if params.is_empty() => "limit".into(),
                _ => self.pick(params).into(),
            };
            pairs.push(match self.rng.gen_range(0..12) {
                0 => name,
                1 => format!("{name}="),
                _ => format!("{name}={}", self.value()),
            });
        }
        if self.rng.gen_bool(0.15) {
            pairs.push(self.pick(&["&&=", "=", "&", "%zz", "a=%zz", "==", "a==b", ";", "%", "#frag", "?"]).into());
        }
        if pairs.is_empty() && self.rng.gen_bool(0.5) {
            return String::new();
        }
        format!("?{}", pairs.join("&"))
    }

    /// A request target: an endpoint with a bad argument or bad parameters, or a path that is none.
    fn target(&mut self) -> String {
        if self.rng.gen_bool(0.15) {
            return match self.rng.gen_range(0..14) {
                0 => "/".into(),
                1 => "/api/v1/".into(),
                2 => "/api/v1".into(),
                3 => "/api/v2/tip".into(),
                4 => "//api//v1//tip".into(),
                5 => "/api/v1/../v1/tip".into(),
                6 => "/api/v1/%2e%2e/tip".into(),
                7 => "*".into(),
                8 => "http://127.0.0.1/api/v1/tip".into(),
                9 => format!("/api/v1/{}", self.id()),
                10 => format!("/api/v1/tx/{}/{}", self.ids.txid, self.id()),
                11 => format!("/{}", "x/".repeat(5_000)),
                12 => "api/v1/tip".into(),
                _ => format!("/api/v1/trace/{}/{}", self.id(), self.ids.txid),
            };
        }
        let (endpoint, params) = *ENDPOINTS.choose(&mut self.rng).expect("endpoints");
        if self.rng.gen_bool(0.2) && !params.is_empty() {
            // A right id and one number, so that huge ones reach the engines and not only the parser.
            let id = if endpoint.starts_with("address") || endpoint.starts_with("cluster") {
                self.ids.address.clone()
            } else {
                self.ids.txid.clone()
            };
            let path = endpoint.replace("{id}", &id);
            let (name, number) = (self.pick(params), self.pick(NUMBERS));
            let from_to = if endpoint == "path" {
                format!("from={}&to={}&", self.ids.address, self.ids.other_address)
            } else {
                String::new()
            };
            return format!("/api/v1/{path}?{from_to}{name}={number}");
        }
        let path = if endpoint.contains("{id}") { endpoint.replace("{id}", &self.id()) } else { endpoint.into() };
        let query = self.query(params);
        format!("/api/v1/{path}{query}")
    }

    /// One malformed request, complete up to its blank line so the server never waits for more.
    fn request(&mut self) -> Vec<u8> {
        let mut method = "GET".to_string();
        let mut version = "HTTP/1.1".to_string();
        let mut headers = vec!["Host: 127.0.0.1".to_string()];
        if self.rng.gen_bool(0.7) {
            headers.push("Connection: close".into());
        }
        let mut target = self.target();
        let mut body = Vec::new();
        match self.rng.gen_range(0..12) {
            // Wrong methods, known and not.
            0 | 1 => {
                method = match self.rng.gen_range(0..4) {
                    0 => self.pick(&["get", "G ET", "GETT", "GE\tT", "\x00GET", "GET\x7f", "ÄGET"]).into(),
                    1 => "X".repeat(self.rng.gen_range(1..2_000)),
                    _ => self
                        .pick(&[
                            "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "CONNECT", "PROPFIND", "BREW",
                        ])
                        .into(),
                };
                if self.rng.gen_bool(0.3) {
                    body = b"{\"hops\": 1}".to_vec();
                    headers.push(format!("Content-Length: {}", body.len()));
                }
            }
            // Oversized, many and broken headers.
            2 => match self.rng.gen_range(0..6) {
                0 => headers.push(format!("X-Big: {}", "a".repeat(100 << 10))),
                1 => headers.push(format!("X-Huge: {}", "b".repeat(self.rng.gen_range(500..1100) << 10))),
                2 => headers.extend((0..self.rng.gen_range(90..300)).map(|i| format!("X-Many-{i}: {i}"))),
                3 => headers.push("no colon here".into()),
                4 => headers.push(" folded: continuation".into()),
                _ => headers.push(format!("X-Junk: {}", self.junk(50))),
            },
            // Bad Authorization (this server has no token: it must be ignored, not choked on).
            3 => {
                let value = match self.rng.gen_range(0..6) {
                    0 => "Bearer".to_string(),
                    1 => format!("Bearer {}", "t".repeat(100 << 10)),
                    2 => format!("Bearer {}", self.junk(30)),
                    3 => "Basic dXNlcjpwYXNz".into(),
                    4 => String::new(),
                    _ => "Bearer a\x00b".into(),
                };
                headers.push(format!("Authorization: {value}"));
                if self.rng.gen_bool(0.3) {
                    headers.push("Authorization: Bearer second".into());
                }
            }
            // Other versions and broken request lines.
            4 => match self.rng.gen_range(0..9) {
                0 => version = "HTTP/1.0".into(),
                1 => version = "HTTP/0.9".into(),
                2 => version = "HTTP/2.0".into(),
                3 => version = "HTTP/9.9".into(),
                4 => version = "http/1.1".into(),
                5 => version = "HTTP/1.1 extra".into(),
                6 => version = String::new(),
                7 => target = String::new(),
                _ => target = format!("{target} {target}"),
            },
            // Bodies framed wrongly.
            5 => headers.push(
                self.pick(&[
                    "Content-Length: -1",
                    "Content-Length: 99999999999999999999",
                    "Content-Length: 5\r\nContent-Length: 6",
                    "Content-Length: abc",
                    "Transfer-Encoding: chunked\r\nContent-Length: 3",
                    "Transfer-Encoding: gzip",
                    "Expect: 100-continue\r\nContent-Length: 10",
                ])
                .into(),
            ),
            // Junk instead of a request.
            6 => {
                let len = self.rng.gen_range(1..500);
                let mut junk = self.junk(len).into_bytes();
                junk.extend_from_slice(b"\r\n\r\n");
                return junk;
            }
            // Only the target is bad.
            _ => {}
        }
        let mut request = format!("{method} {target} {version}\r\n").into_bytes();
        for header in &headers {
            request.extend_from_slice(header.as_bytes());
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"\r\n");
        request.extend_from_slice(&body);
        request
    }
}

/// A small generated chain from a real node, indexed; returns the node, the tempdir and ids.
fn indexed_chain(seed: u64) -> (TestEnv, tempfile::TempDir, Truth) {
    let env = TestEnv::builder().txindex(true).build().expect("node starts");
    let truth = generate(env.rpc(), &GenParams { seed, target_txs: 300, txs_per_block: 100, ..GenParams::default() })
        .expect("generate");
    let dir = tempfile::tempdir().expect("tempdir");
    index_once(&env, &dir.path().join("index"), &[]);
    (env, dir, truth)
}

#[test]
fn ten_thousand_malformed_requests_get_no_5xx_and_the_server_keeps_answering() {
    let (_env, dir, truth) = indexed_chain(41);
    let mut server = Server::start(&dir.path().join("index"), &[]);
    let ids = Ids::of(&truth);
    let mut fuzzer = Fuzzer { rng: ChaCha8Rng::seed_from_u64(7), ids: &ids };
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut sent = 0;
    for i in 0..REQUESTS {
        let request = fuzzer.request();
        let status = exchange(server.address, &request);
        sent += 1;
        let shown = || String::from_utf8_lossy(&request[..request.len().min(300)]).into_owned();
        if let Some(status) = status {
            assert!(!(500..600).contains(&status), "request {i} got {status}: {:?}", shown());
        }
        *counts.entry(status.map_or("closed".into(), |s| s.to_string())).or_default() += 1;
        assert!(server.running(), "the server exited after request {i}: {:?}", shown());
        if (i + 1) % HEALTH_EVERY == 0 {
            let (status, body) = server.get("/api/v1/health");
            assert_eq!(status, 200, "health after {} requests: {body}", i + 1);
            let health: Value = serde_json::from_str(&body).expect("health is JSON");
            assert_eq!(health["status"], "ok");
        }
    }
    println!("{sent} malformed requests, answers by status: {counts:?}");
    assert!(sent >= 10_000);
    assert_eq!(counts.keys().filter(|s| s.starts_with('5')).count(), 0, "{counts:?}");
    // The bad input reached the handlers, not just the HTTP parser.
    for status in ["200", "400", "404", "405"] {
        assert!(counts.get(status).copied().unwrap_or(0) > 0, "no {status} among {counts:?}");
    }
    assert_eq!(server.panics(), Vec::<String>::new());
    let (status, body) = server.get(&format!("/api/v1/tx/{}", ids.txid));
    assert_eq!(status, 200, "{body}");
    let tx: Value = serde_json::from_str(&body).expect("tx is JSON");
    assert_eq!(tx["txid"], ids.txid.as_str());
    server.terminate();
    let exit = server.wait();
    assert!(exit.success(), "the server exited with {exit} on SIGTERM");
}

#[test]
fn a_request_in_flight_at_sigterm_gets_its_whole_answer() {
    let (_env, dir, truth) = indexed_chain(43);
    let mut server =
        Server::start_logging(&dir.path().join("index"), &["--heavy-concurrency", "1"], "query::serve=debug");
    let target = format!("/api/v1/trace/forward/{}?hops=100&max_txs=1000000", truth.case.theft_txid);
    let (status, expected) = server.get(&target);
    assert_eq!(status, 200, "{expected}");
    let trace: Value = serde_json::from_str(&expected).expect("the trace is JSON");
    assert!(trace.is_object(), "{expected}");

    // The heavy request, then SIGTERM once the server has started answering it (its log says so),
    // before reading anything of its answer.
    // The reference request's own line first, so the count below is the in-flight one's.
    server.wait_for_log(1, "answering", "trace");
    let started = server.answering("trace");
    let mut stream = TcpStream::connect(server.address).expect("connect to the server");
    stream.write_all(format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes()).expect("send the trace");
    server.wait_for_log(started + 1, "answering", "trace");
    server.terminate();
    let (status, body) = read_reply(&mut stream);
    assert_eq!(status, 200, "{body}");
    let answered: Value = serde_json::from_str(&body).expect("the answer in flight at SIGTERM is whole JSON");
    assert_eq!(answered, trace);
    assert_eq!(body, expected, "the answer in flight at SIGTERM differs from the one before");

    let exit = server.wait();
    assert!(exit.success(), "the server exited with {exit} on SIGTERM");
    let log = server.log.lock().unwrap().clone();
    assert!(log.iter().any(|l| l.contains("stopping: the requests in flight finish first")), "{log:?}");
    assert_eq!(log.last().map(String::as_str), Some("stopped"), "{log:?}");
    // It no longer accepts connections.
    assert!(TcpStream::connect(server.address).is_err());
}
