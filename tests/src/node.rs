//! A throwaway regtest `bitcoind` for tests: started in a fresh datadir on free loopback ports,
//! driven over RPC (mine, send, reorg, restart) and stopped when dropped, even on panic.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::thread::sleep;
use std::time::Duration;

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::{Address, BlockHash, Network, Transaction, Txid};
use bitcoincore_rpc::jsonrpc::simple_http::SimpleHttpTransport;
use bitcoincore_rpc::{json, jsonrpc, Client, RpcApi};
use serde_json::json;
use tempfile::TempDir;

use crate::wallet::Wallet;

/// Per-request RPC timeout; generous because one call may mine a block of thousands of txs.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(120);
/// Seed of the keys behind throwaway mining addresses.
const THROWAWAY_SEED: u64 = 0x7e57_e4a7;

/// What went wrong starting or driving the node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("cannot locate bitcoind: {0}")]
    Binaries(String),
    #[error("cannot {action}")]
    Io { action: String, source: std::io::Error },
    #[error("bitcoind exited during startup ({status}); end of debug.log:\n{log}")]
    Exited { status: String, log: String },
    #[error("RPC {method} failed")]
    Rpc { method: &'static str, source: bitcoincore_rpc::Error },
    #[error("cannot connect an RPC client to {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("{0}")]
    Invalid(String),
}

fn io_err(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> NodeError {
    let action = action.into();
    move |source| NodeError::Io { action, source }
}

fn rpc_err(method: &'static str) -> impl FnOnce(bitcoincore_rpc::Error) -> NodeError {
    move |source| NodeError::Rpc { method, source }
}

/// Settings for a [`TestEnv`]; see [`TestEnv::builder`].
#[derive(Debug, Clone, Default)]
pub struct TestEnvBuilder {
    txindex: bool,
    args: Vec<String>,
    bitcoind: Option<PathBuf>,
}

impl TestEnvBuilder {
    /// Start the node with `-txindex`.
    pub fn txindex(mut self, on: bool) -> Self {
        self.txindex = on;
        self
    }

    /// An extra command-line argument for `bitcoind`, e.g. `-blockfilterindex=1`.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Use this `bitcoind` instead of locating one.
    pub fn bitcoind(mut self, path: impl Into<PathBuf>) -> Self {
        self.bitcoind = Some(path.into());
        self
    }

    /// Starts the node and waits until it answers RPC.
    pub fn build(self) -> Result<TestEnv, NodeError> {
        let bitcoind = match self.bitcoind {
            Some(path) => path,
            None => bitcoind_path()?,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let datadir =
                tempfile::Builder::new().prefix("chaintrail-regtest-").tempdir().map_err(io_err("create a datadir"))?;
            let ports = (free_port()?, free_port()?);
            let node = NodeProcess::new(bitcoind.clone(), datadir.path(), ports, self.txindex, &self.args);
            match node.start() {
                Ok((child, rpc)) => {
                    return Ok(TestEnv { node, datadir, child: Some(child), rpc, throwaway: AtomicU64::new(0) })
                }
                // Another process may have taken a port between probing and binding it.
                Err(NodeError::Exited { log, .. }) if attempt < 3 && log.contains("bind") => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// How to launch one node: binary, datadir, ports and arguments.
#[derive(Debug, Clone)]
struct NodeProcess {
    bitcoind: PathBuf,
    datadir: PathBuf,
    rpc_port: u16,
    p2p_port: u16,
    args: Vec<String>,
}

impl NodeProcess {
    fn new(bitcoind: PathBuf, datadir: &Path, ports: (u16, u16), txindex: bool, extra: &[String]) -> Self {
        let (rpc_port, p2p_port) = ports;
        let mut args = vec![
            "-regtest".to_string(),
            format!("-datadir={}", datadir.display()),
            "-server=1".into(),
            "-rest=1".into(),
            "-printtoconsole=0".into(),
            format!("-port={p2p_port}"),
            format!("-bind=127.0.0.1:{p2p_port}"),
            "-listenonion=0".into(),
            "-discover=0".into(),
            "-dnsseed=0".into(),
            "-fixedseeds=0".into(),
            format!("-rpcport={rpc_port}"),
            "-rpcbind=127.0.0.1".into(),
            "-rpcallowip=127.0.0.1".into(),
        ];
        if txindex {
            args.push("-txindex=1".into());
        }
        args.extend(extra.iter().cloned());
        NodeProcess { bitcoind, datadir: datadir.to_path_buf(), rpc_port, p2p_port, args }
    }

    fn rpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.rpc_port)
    }

    fn cookie_path(&self) -> PathBuf {
        self.datadir.join("regtest").join(".cookie")
    }

    fn log_tail(&self) -> String {
        let text = fs::read_to_string(self.datadir.join("regtest").join("debug.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Spawns `bitcoind` and returns it with a client once RPC answers.
    fn start(&self) -> Result<(Child, Client), NodeError> {
        // A stale cookie from a previous run would let us connect with the wrong password.
        let _ = fs::remove_file(self.cookie_path());
        let mut child = Command::new(&self.bitcoind)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(io_err(format!("start {}", self.bitcoind.display())))?;
        match self.wait_ready(&mut child) {
            Ok(client) => Ok((child, client)),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(e)
            }
        }
    }

    /// Waits until the node answers RPC, or fails if it exits first. No deadline: a node on a
    /// busy machine may take long to start, and one that cannot start exits with a log.
    fn wait_ready(&self, child: &mut Child) -> Result<Client, NodeError> {
        loop {
            if let Some(status) = child.try_wait().map_err(io_err("poll bitcoind"))? {
                // Give the log a moment to be flushed before quoting it.
                sleep(Duration::from_millis(100));
                return Err(NodeError::Exited { status: status.to_string(), log: self.log_tail() });
            }
            if self.cookie_path().exists() {
                if let Ok(client) = connect_cookie(&self.rpc_url(), &self.cookie_path(), RPC_TIMEOUT) {
                    if client.call::<serde_json::Value>("getblockchaininfo", &[]).is_ok() {
                        return Ok(client);
                    }
                }
            }
            sleep(Duration::from_millis(50));
        }
    }
}

/// A running regtest node with its own datadir, stopped and deleted on drop.
pub struct TestEnv {
    node: NodeProcess,
    /// Deleted when the fields drop, which is after `Drop::drop` stopped the process.
    datadir: TempDir,
    child: Option<Child>,
    rpc: Client,
    throwaway: AtomicU64,
}

impl TestEnv {
    /// A node with default settings.
    pub fn new() -> Result<TestEnv, NodeError> {
        TestEnv::builder().build()
    }

    pub fn builder() -> TestEnvBuilder {
        TestEnvBuilder::default()
    }

    /// Client for the current run of the node (replaced by `start`/`restart`).
    pub fn rpc(&self) -> &Client {
        &self.rpc
    }

    pub fn rpc_url(&self) -> String {
        self.node.rpc_url()
    }

    pub fn rpc_port(&self) -> u16 {
        self.node.rpc_port
    }

    pub fn p2p_port(&self) -> u16 {
        self.node.p2p_port
    }

    /// `<datadir>/regtest/.cookie`; rewritten with a new password on every start.
    pub fn cookie_path(&self) -> PathBuf {
        self.node.cookie_path()
    }

    pub fn datadir(&self) -> &Path {
        self.datadir.path()
    }

    pub fn network(&self) -> Network {
        Network::Regtest
    }

    /// Process id while the node runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// The last lines of the node's debug.log.
    pub fn log_tail(&self) -> String {
        self.node.log_tail()
    }

    /// A `bitcoin-cli` command already pointed at this node.
    pub fn cli(&self) -> Result<Command, NodeError> {
        let mut cmd = Command::new(bitcoin_cli_path()?);
        cmd.arg("-regtest")
            .arg(format!("-datadir={}", self.datadir().display()))
            .arg(format!("-rpcport={}", self.node.rpc_port));
        Ok(cmd)
    }

    /// Asks the node to shut down and waits for it to exit; kills it if it would not take the
    /// request.
    pub fn stop(&mut self) -> Result<(), NodeError> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if self.rpc.stop().is_err() && child.try_wait().map_err(io_err("poll bitcoind"))?.is_none() {
            child.kill().map_err(io_err("kill bitcoind"))?;
        }
        child.wait().map_err(io_err("reap bitcoind"))?;
        Ok(())
    }

    /// Kills the node without a clean shutdown.
    pub fn kill(&mut self) -> Result<(), NodeError> {
        if let Some(mut child) = self.child.take() {
            child.kill().map_err(io_err("kill bitcoind"))?;
            child.wait().map_err(io_err("reap bitcoind"))?;
        }
        Ok(())
    }

    /// Starts the node again on the same datadir and ports (no-op while it runs).
    pub fn start(&mut self) -> Result<(), NodeError> {
        self.start_with(&[])
    }

    /// [`TestEnv::start`] with `extra` arguments for this run of the node only.
    pub fn start_with(&mut self, extra: &[&str]) -> Result<(), NodeError> {
        if self.child.is_some() {
            return Ok(());
        }
        let mut node = self.node.clone();
        node.args.extend(extra.iter().map(|a| a.to_string()));
        let (child, rpc) = node.start()?;
        self.child = Some(child);
        self.rpc = rpc;
        Ok(())
    }

    pub fn restart(&mut self) -> Result<(), NodeError> {
        self.stop()?;
        self.start()
    }

    /// A P2WPKH address nobody tracks; different on every call.
    pub fn new_address(&self) -> Address {
        let index = self.throwaway.fetch_add(1, Ordering::Relaxed);
        let key = Wallet::new(THROWAWAY_SEED, Network::Regtest).derive_key(index);
        Address::p2wpkh(&key.public, Network::Regtest)
    }

    pub fn height(&self) -> Result<u64, NodeError> {
        self.rpc.get_block_count().map_err(rpc_err("getblockcount"))
    }

    pub fn tip(&self) -> Result<BlockHash, NodeError> {
        self.rpc.get_best_block_hash().map_err(rpc_err("getbestblockhash"))
    }

    /// Mines `n` blocks paying `address` (mempool transactions are included).
    pub fn mine(&self, n: u64, address: &Address) -> Result<Vec<BlockHash>, NodeError> {
        self.rpc.generate_to_address(n, address).map_err(rpc_err("generatetoaddress"))
    }

    /// Mines `n` blocks to a throwaway address.
    pub fn mine_to_new(&self, n: u64) -> Result<Vec<BlockHash>, NodeError> {
        self.mine(n, &self.new_address())
    }

    /// Mines one block holding exactly `txs`, in order, without going through the mempool.
    pub fn generate_block(&self, txs: &[Transaction]) -> Result<BlockHash, NodeError> {
        self.generate_block_to(&self.new_address().to_string(), txs)
    }

    /// Like `generate_block`, paying the coinbase to an address or descriptor (e.g. `raw(..)`).
    pub fn generate_block_to(&self, output: &str, txs: &[Transaction]) -> Result<BlockHash, NodeError> {
        generate_block(&self.rpc, output, txs)
    }

    /// Submits `tx` to the mempool.
    pub fn send(&self, tx: &Transaction) -> Result<Txid, NodeError> {
        self.rpc.send_raw_transaction(tx).map_err(rpc_err("sendrawtransaction"))
    }

    /// Replaces the top `depth` blocks: invalidates the block at `tip - depth + 1`, mines
    /// `depth + 1` different blocks on top of its parent and returns their hashes. The old branch
    /// is then reconsidered, so the node knows it as a shorter valid fork.
    pub fn reorg(&self, depth: u64) -> Result<Vec<BlockHash>, NodeError> {
        let height = self.height()?;
        if depth == 0 || depth > height {
            return Err(NodeError::Invalid(format!("cannot reorg {depth} blocks at height {height}")));
        }
        let first_replaced = self.rpc.get_block_hash(height - depth + 1).map_err(rpc_err("getblockhash"))?;
        self.rpc.invalidate_block(&first_replaced).map_err(rpc_err("invalidateblock"))?;
        let new = self.mine_to_new(depth + 1)?;
        self.rpc.reconsider_block(&first_replaced).map_err(rpc_err("reconsiderblock"))?;
        Ok(new)
    }

    /// `scantxoutset start` over `descriptors` (`addr(..)`, `raw(..)`, ...).
    pub fn scan(&self, descriptors: &[String]) -> Result<json::ScanTxOutResult, NodeError> {
        let requests: Vec<json::ScanTxOutRequest> =
            descriptors.iter().cloned().map(json::ScanTxOutRequest::Single).collect();
        self.rpc.scan_tx_out_set_blocking(&requests).map_err(rpc_err("scantxoutset"))
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// `generateblock output [raw txs...]` on any client; returns the new block's hash.
pub fn generate_block(rpc: &Client, output: &str, txs: &[Transaction]) -> Result<BlockHash, NodeError> {
    let hexes: Vec<String> = txs.iter().map(serialize_hex).collect();
    let reply: serde_json::Value =
        rpc.call("generateblock", &[json!(output), json!(hexes)]).map_err(rpc_err("generateblock"))?;
    reply["hash"]
        .as_str()
        .and_then(|h| h.parse().ok())
        .ok_or_else(|| NodeError::Invalid(format!("generateblock returned no block hash: {reply}")))
}

/// An RPC client authenticating with the cookie file at `cookie`.
pub fn connect_cookie(url: &str, cookie: &Path, timeout: Duration) -> Result<Client, NodeError> {
    let secret = fs::read_to_string(cookie).map_err(io_err(format!("read {}", cookie.display())))?;
    let transport = SimpleHttpTransport::builder()
        .url(url)
        .map_err(|e| NodeError::Connect { url: url.to_string(), reason: e.to_string() })?
        .timeout(timeout)
        .cookie_auth(secret.trim())
        .build();
    Ok(Client::from_jsonrpc(jsonrpc::Client::with_transport(transport)))
}

/// An RPC client authenticating with a user name and password.
pub fn connect_user(url: &str, user: &str, password: &str, timeout: Duration) -> Result<Client, NodeError> {
    let transport = SimpleHttpTransport::builder()
        .url(url)
        .map_err(|e| NodeError::Connect { url: url.to_string(), reason: e.to_string() })?
        .timeout(timeout)
        .auth(user, Some(password))
        .build();
    Ok(Client::from_jsonrpc(jsonrpc::Client::with_transport(transport)))
}

fn free_port() -> Result<u16, NodeError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io_err("find a free port"))?;
    let port = listener.local_addr().map_err(io_err("find a free port"))?.port();
    Ok(port)
}

/// `bitcoind`: `$BITCOIND`, else the binary `tests/node/build-bitcoind.sh` builds or finds cached.
pub fn bitcoind_path() -> Result<PathBuf, NodeError> {
    match std::env::var_os("BITCOIND") {
        Some(path) => Ok(PathBuf::from(path)),
        None => Ok(bin_dir()?.join("bitcoind")),
    }
}

/// `bitcoin-cli`: `$BITCOIN_CLI`, else next to `bitcoind`.
pub fn bitcoin_cli_path() -> Result<PathBuf, NodeError> {
    if let Some(path) = std::env::var_os("BITCOIN_CLI") {
        return Ok(PathBuf::from(path));
    }
    let bitcoind = bitcoind_path()?;
    let dir = bitcoind.parent().unwrap_or(Path::new("."));
    Ok(dir.join("bitcoin-cli"))
}

/// Runs the build script once per process and remembers the directory it printed.
fn bin_dir() -> Result<PathBuf, NodeError> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(run_build_script).clone().map_err(NodeError::Binaries)
}

fn run_build_script() -> Result<PathBuf, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("node").join("build-bitcoind.sh");
    let output = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !output.status.success() {
        return Err(format!("{} failed ({})", script.display(), output.status));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let dir = stdout.lines().last().map(str::trim).unwrap_or_default();
    let dir = PathBuf::from(dir);
    if dir.join("bitcoind").is_file() {
        Ok(dir)
    } else {
        Err(format!("{} printed {:?}, which holds no bitcoind", script.display(), dir))
    }
}
