//! How to reach the node: the `--rpc-*` flags (and their environment variables) over the config
//! file's `[rpc]` table, then the network's defaults. The indexer and `query verify` resolve the
//! connection the same way.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

use crate::network::Network;
use crate::node::{RpcAuth, RpcConfig};

/// How to reach the node, as given on the command line or in the environment. `query verify`
/// takes the same flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RpcArgs {
    /// Node RPC address [default: http://127.0.0.1:<the network's RPC port>].
    #[arg(long, env = "CHAINTRAIL_RPC_URL")]
    pub rpc_url: Option<String>,
    /// RPC cookie file [default: the cookie in ~/.bitcoin for the network].
    #[arg(long, env = "CHAINTRAIL_RPC_COOKIE", conflicts_with = "rpc_user")]
    pub rpc_cookie: Option<PathBuf>,
    /// RPC user; the password comes from CHAINTRAIL_RPC_PASSWORD or the config file.
    #[arg(long, env = "CHAINTRAIL_RPC_USER")]
    pub rpc_user: Option<String>,
}

/// The config file's `[rpc]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileRpc {
    url: Option<String>,
    cookie: Option<PathBuf>,
    user: Option<String>,
    password: Option<String>,
}

/// Bitcoin Core's default cookie location for a network.
pub fn default_cookie(network: Network) -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME").context("HOME is not set; pass --rpc-cookie")?;
    Ok(PathBuf::from(home).join(".bitcoin").join(network.datadir_subdir()).join(".cookie"))
}

/// The connection to the node of `network`: flags (and the environment) over the config file's
/// `[rpc]` table, then the network's defaults; the password only from `CHAINTRAIL_RPC_PASSWORD`
/// or the file. What `query verify` uses to reach the node the indexer reads.
pub fn resolve_rpc(args: RpcArgs, config: Option<&Path>, network: Network) -> anyhow::Result<RpcConfig> {
    let file = match config {
        Some(path) => rpc_table(path)?,
        None => FileRpc::default(),
    };
    rpc_config(args, file, network)
}

/// The `[rpc]` table of the config file at `path` (the other tables are other programs').
fn rpc_table(path: &Path) -> anyhow::Result<FileRpc> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
    let mut table: toml::Table =
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))?;
    match table.remove("rpc") {
        Some(rpc) => rpc.try_into().with_context(|| format!("invalid [rpc] table in config file {}", path.display())),
        None => Ok(FileRpc::default()),
    }
}

pub(crate) fn rpc_config(args: RpcArgs, file: FileRpc, network: Network) -> anyhow::Result<RpcConfig> {
    let url = args.rpc_url.or(file.url).unwrap_or_else(|| format!("http://127.0.0.1:{}", network.default_rpc_port()));
    let password = std::env::var("CHAINTRAIL_RPC_PASSWORD").ok().or(file.password);
    let auth = match (args.rpc_user, args.rpc_cookie) {
        (Some(user), _) => RpcAuth::UserPass {
            user,
            password: password.context(
                "--rpc-user needs a password: set CHAINTRAIL_RPC_PASSWORD or rpc.password in the config file",
            )?,
        },
        (None, Some(cookie)) => RpcAuth::Cookie(cookie),
        (None, None) => match (file.user, file.cookie) {
            (Some(user), _) => RpcAuth::UserPass {
                user,
                password: password.context("rpc.user needs a password: set CHAINTRAIL_RPC_PASSWORD or rpc.password")?,
            },
            (None, Some(cookie)) => RpcAuth::Cookie(cookie),
            (None, None) => RpcAuth::Cookie(default_cookie(network)?),
        },
    };
    Ok(RpcConfig { url, auth, timeout: Duration::from_secs(120) })
}
