//! The Bitcoin Core node over JSON-RPC: connecting, classifying failures, and retrying the ones
//! that pass (node down, restarting, warming up) with backoff.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bitcoin::{Block, BlockHash};
use bitcoincore_rpc::jsonrpc::{self, simple_http};
use bitcoincore_rpc::{Auth, Client, RpcApi};
use tracing::warn;

/// How to reach and authenticate to the node.
#[derive(Clone)]
pub struct RpcConfig {
    pub url: String,
    pub auth: RpcAuth,
    pub timeout: Duration,
}

#[derive(Clone)]
pub enum RpcAuth {
    Cookie(PathBuf),
    UserPass { user: String, password: String },
}

impl std::fmt::Debug for RpcAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RpcAuth::Cookie(path) => f.debug_tuple("Cookie").field(path).finish(),
            RpcAuth::UserPass { user, .. } => {
                f.debug_struct("UserPass").field("user", user).field("password", &"<redacted>").finish()
            }
        }
    }
}

impl std::fmt::Debug for RpcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcConfig").field("url", &self.url).field("auth", &self.auth).finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("cannot reach bitcoind at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("bitcoind at {url} rejected the credentials ({how}); check the cookie file or rpc user/password")]
    Auth { url: String, how: String },
    #[error("cannot read the RPC cookie file {path}: {reason} (is bitcoind running with this data directory?)")]
    Cookie { path: PathBuf, reason: String },
    #[error("bitcoind is starting up: {0}")]
    WarmingUp(String),
    #[error("bitcoind returned error {code}: {message}")]
    Rpc { code: i32, message: String },
    #[error("unexpected answer from bitcoind: {0}")]
    Other(String),
    #[error("stopped while waiting for bitcoind")]
    Stopped,
}

impl NodeError {
    /// Failures that go away by themselves: the node is down, restarting or still loading.
    pub fn is_transient(&self) -> bool {
        matches!(self, NodeError::Unreachable { .. } | NodeError::WarmingUp(_) | NodeError::Cookie { .. })
    }
}

/// RPC error code for "Loading block index", "Verifying blocks", ...
const RPC_IN_WARMUP: i32 = -28;

/// A connection to the node. Cheap to create; make one per thread.
pub struct Rpc {
    config: RpcConfig,
    client: Option<Client>,
}

/// What the node says of its chain.
#[derive(Debug, Clone)]
pub struct ChainInfo {
    pub chain: String,
    pub blocks: u32,
    /// Transactions in the best chain up to its tip.
    pub txs: u64,
    /// The lowest height whose block the node still stores, if it prunes.
    pub prune_height: Option<u32>,
    /// The node is in initial block download (syncing, reindexing, or its tip is old).
    pub initial_download: bool,
}

impl Rpc {
    pub fn new(config: RpcConfig) -> Self {
        Rpc { config, client: None }
    }

    pub fn url(&self) -> &str {
        &self.config.url
    }

    fn client(&mut self) -> Result<&Client, NodeError> {
        if self.client.is_none() {
            let (user, pass) = match &self.config.auth {
                RpcAuth::Cookie(path) => Auth::CookieFile(path.clone())
                    .get_user_pass()
                    .map_err(|e| NodeError::Cookie { path: path.clone(), reason: cookie_reason(e) })?,
                RpcAuth::UserPass { user, password } => (Some(user.clone()), Some(password.clone())),
            };
            let mut builder = simple_http::Builder::new()
                .url(&self.config.url)
                .map_err(|e| NodeError::Other(format!("bad RPC url {}: {e}", self.config.url)))?
                .timeout(self.config.timeout);
            if let Some(user) = user {
                builder = builder.auth(user, pass);
            }
            self.client = Some(Client::from_jsonrpc(jsonrpc::Client::with_transport(builder.build())));
        }
        Ok(self.client.as_ref().expect("set just above"))
    }

    /// One call, classified; the connection is dropped after a failure so the next call
    /// reconnects (and re-reads a cookie the node may have rewritten on restart).
    fn call<T>(&mut self, f: impl Fn(&Client) -> Result<T, bitcoincore_rpc::Error>) -> Result<T, NodeError> {
        let url = self.config.url.clone();
        let result = f(self.client()?).map_err(|e| classify(&url, e));
        if result.is_err() {
            self.client = None;
        }
        result
    }

    /// Like [`Rpc::call`], but waits out transient failures with backoff until `stop` is set.
    /// A rejected cookie is also retried: a restarting node writes a new one.
    pub fn call_retrying<T>(
        &mut self,
        stop: &AtomicBool,
        f: impl Fn(&Client) -> Result<T, bitcoincore_rpc::Error>,
    ) -> Result<T, NodeError> {
        let cookie = self.uses_cookie();
        retry(stop, cookie, || self.call(&f))
    }

    fn uses_cookie(&self) -> bool {
        matches!(self.config.auth, RpcAuth::Cookie(_))
    }

    pub fn chain_info(&mut self) -> Result<ChainInfo, NodeError> {
        self.call(chain_info_of)
    }

    pub fn chain_info_retrying(&mut self, stop: &AtomicBool) -> Result<ChainInfo, NodeError> {
        self.call_retrying(stop, chain_info_of)
    }

    /// Hash of the best-chain block at `height`, or `None` when the node's chain is shorter.
    pub fn block_hash(&mut self, stop: &AtomicBool, height: u32) -> Result<Option<BlockHash>, NodeError> {
        beyond_tip_is_none(self.call_retrying(stop, |c| c.get_block_hash(u64::from(height))))
    }

    pub fn block(&mut self, stop: &AtomicBool, hash: &BlockHash) -> Result<Block, NodeError> {
        self.call_retrying(stop, |c| c.get_block(hash))
    }

    /// [`Rpc::block_hash`], failing at once when the node cannot answer instead of waiting.
    pub fn block_hash_now(&mut self, height: u32) -> Result<Option<BlockHash>, NodeError> {
        beyond_tip_is_none(self.call(|c| c.get_block_hash(u64::from(height))))
    }

    /// [`Rpc::block`], failing at once when the node cannot answer instead of waiting.
    pub fn block_now(&mut self, hash: &BlockHash) -> Result<Block, NodeError> {
        self.call(|c| c.get_block(hash))
    }

    /// Whether an output is in the node's set of unspent outputs at its tip (`gettxout`, the
    /// mempool left out), failing at once when the node cannot answer.
    pub fn unspent_now(&mut self, outpoint: &bitcoin::OutPoint) -> Result<bool, NodeError> {
        self.call(|c| c.get_tx_out(&outpoint.txid, outpoint.vout, Some(false))).map(|out| out.is_some())
    }
}

/// `getblockhash` past the tip fails with "Block height out of range" (-8): no block there.
fn beyond_tip_is_none(result: Result<BlockHash, NodeError>) -> Result<Option<BlockHash>, NodeError> {
    match result {
        Ok(h) => Ok(Some(h)),
        Err(NodeError::Rpc { code: -8, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

fn chain_info_of(c: &Client) -> Result<ChainInfo, bitcoincore_rpc::Error> {
    #[derive(serde::Deserialize)]
    struct TxStats {
        txcount: u64,
    }
    let info = c.get_blockchain_info()?;
    let stats: TxStats = c.call("getchaintxstats", &[])?;
    Ok(ChainInfo {
        chain: info.chain.to_core_arg().to_owned(),
        blocks: info.blocks as u32,
        txs: stats.txcount,
        prune_height: if info.pruned { Some(info.prune_height.unwrap_or(0) as u32) } else { None },
        initial_download: info.initial_block_download,
    })
}

fn cookie_reason(e: bitcoincore_rpc::Error) -> String {
    match e {
        bitcoincore_rpc::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    }
}

/// Sorts an RPC failure into what the caller can act on.
fn classify(url: &str, e: bitcoincore_rpc::Error) -> NodeError {
    use bitcoincore_rpc::Error as E;
    match e {
        E::JsonRpc(jsonrpc::Error::Rpc(rpc)) if rpc.code == RPC_IN_WARMUP => NodeError::WarmingUp(rpc.message),
        E::JsonRpc(jsonrpc::Error::Rpc(rpc)) => NodeError::Rpc { code: rpc.code, message: rpc.message },
        E::JsonRpc(jsonrpc::Error::Transport(t)) => match t.downcast_ref::<simple_http::Error>() {
            Some(simple_http::Error::HttpErrorCode(401)) => NodeError::Auth { url: url.into(), how: "HTTP 401".into() },
            Some(simple_http::Error::HttpErrorCode(403)) => NodeError::Auth { url: url.into(), how: "HTTP 403".into() },
            Some(simple_http::Error::HttpErrorCode(code)) if *code >= 500 => {
                NodeError::Unreachable { url: url.into(), reason: format!("HTTP {code}") }
            }
            Some(simple_http::Error::SocketError(io)) => {
                NodeError::Unreachable { url: url.into(), reason: io.to_string() }
            }
            Some(simple_http::Error::HttpResponseTooShort { .. } | simple_http::Error::IncompleteResponse { .. }) => {
                NodeError::Unreachable { url: url.into(), reason: "connection closed mid-response".into() }
            }
            _ => NodeError::Other(t.to_string()),
        },
        E::Io(io) => NodeError::Unreachable { url: url.into(), reason: io.to_string() },
        other => NodeError::Other(other.to_string()),
    }
}

/// Runs `f` until it succeeds or fails for good, waiting out transient failures (node down,
/// restarting, warming up) with backoff until `stop` is set.
pub fn retry_transient<T>(stop: &AtomicBool, f: impl FnMut() -> Result<T, NodeError>) -> Result<T, NodeError> {
    retry(stop, false, f)
}

/// [`retry_transient`]; with `retry_auth`, a rejected cookie is retried too.
fn retry<T>(stop: &AtomicBool, retry_auth: bool, mut f: impl FnMut() -> Result<T, NodeError>) -> Result<T, NodeError> {
    let mut delay = Duration::from_millis(250);
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if e.is_transient() || (retry_auth && matches!(e, NodeError::Auth { .. })) => {
                warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "node unavailable, retrying");
                if sleep_unless_stopped(stop, delay) {
                    return Err(NodeError::Stopped);
                }
                delay = (delay * 2).min(Duration::from_secs(15));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Sleeps in short steps; returns true if `stop` was set meanwhile.
pub fn sleep_unless_stopped(stop: &AtomicBool, total: Duration) -> bool {
    let step = Duration::from_millis(50);
    let mut slept = Duration::ZERO;
    while slept < total {
        if stop.load(Ordering::Relaxed) {
            return true;
        }
        std::thread::sleep(step);
        slept += step;
    }
    stop.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rpc_error(code: i32, message: &str) -> bitcoincore_rpc::Error {
        bitcoincore_rpc::Error::JsonRpc(jsonrpc::Error::Rpc(jsonrpc::error::RpcError {
            code,
            message: message.into(),
            data: None,
        }))
    }

    #[test]
    fn a_node_warming_up_or_down_is_waited_for_and_other_errors_are_not() {
        let url = "http://127.0.0.1:1";
        let warming = classify(url, rpc_error(RPC_IN_WARMUP, "Loading block index…"));
        assert!(matches!(&warming, NodeError::WarmingUp(m) if m == "Loading block index…"));
        assert!(warming.is_transient());
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(classify(url, bitcoincore_rpc::Error::Io(refused)).is_transient());
        let out_of_range = classify(url, rpc_error(-8, "Block height out of range"));
        assert!(matches!(out_of_range, NodeError::Rpc { code: -8, .. }) && !out_of_range.is_transient());
        assert!(beyond_tip_is_none(Err(out_of_range)).expect("no block there").is_none());
    }

    #[test]
    fn retries_stop_when_asked_and_pass_lasting_errors_through() {
        let stop = AtomicBool::new(false);
        let mut calls = 0;
        let lasting = retry_transient(&stop, || {
            calls += 1;
            Err::<(), _>(NodeError::Rpc { code: -5, message: "no such block".into() })
        });
        assert!(matches!(lasting, Err(NodeError::Rpc { code: -5, .. })) && calls == 1);
        stop.store(true, Ordering::Relaxed);
        let down = retry_transient(&stop, || Err::<(), _>(NodeError::WarmingUp("Verifying blocks…".into())));
        assert!(matches!(down, Err(NodeError::Stopped)));
    }
}
