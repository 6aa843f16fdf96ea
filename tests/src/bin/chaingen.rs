//! `chaingen`: fills a fresh regtest node with a generated chain and writes its ground truth.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use chaintrail_tests::node::{connect_cookie, connect_user, RPC_TIMEOUT};
use chaintrail_tests::{generate, GenParams};
use clap::Parser;

/// Generate a realistic regtest chain with known ground truth.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// RPC URL of a regtest node at height 0.
    #[arg(long, default_value = "http://127.0.0.1:18443")]
    rpc_url: String,
    /// Cookie file for RPC authentication (e.g. <datadir>/regtest/.cookie).
    #[arg(long, conflicts_with = "rpc_user")]
    rpc_cookie: Option<PathBuf>,
    /// RPC user; the password is read from the environment variable CHAINGEN_RPC_PASSWORD.
    #[arg(long)]
    rpc_user: Option<String>,
    /// Seed: the same seed gives the same chain.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of transactions to generate (coinbases not counted).
    #[arg(long, default_value_t = 3_000)]
    txs: usize,
    /// Transactions per block.
    #[arg(long, default_value_t = 1_500)]
    txs_per_block: usize,
    /// Number of users in the economy.
    #[arg(long, default_value_t = GenParams::default().users)]
    users: u32,
    /// Number of exchanges in the economy.
    #[arg(long, default_value_t = GenParams::default().exchanges)]
    exchanges: u32,
    /// Where to write the ground truth (JSON).
    #[arg(long, default_value = "truth.json")]
    out: PathBuf,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chaingen: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<()> {
    let rpc = match (&args.rpc_cookie, &args.rpc_user) {
        (Some(cookie), _) => connect_cookie(&args.rpc_url, cookie, RPC_TIMEOUT)?,
        (None, Some(user)) => {
            let password = std::env::var("CHAINGEN_RPC_PASSWORD")
                .context("--rpc-user needs the password in CHAINGEN_RPC_PASSWORD")?;
            connect_user(&args.rpc_url, user, &password, RPC_TIMEOUT)?
        }
        (None, None) => {
            anyhow::bail!("give --rpc-cookie, or --rpc-user with CHAINGEN_RPC_PASSWORD set")
        }
    };
    let params = GenParams {
        seed: args.seed,
        target_txs: args.txs,
        txs_per_block: args.txs_per_block,
        users: args.users,
        exchanges: args.exchanges,
    };
    let started = Instant::now();
    let truth = generate(&rpc, &params).context("generating the chain")?;
    let secs = started.elapsed().as_secs_f64();
    truth.save(&args.out).context("writing the ground truth")?;
    let generated = truth.txs.len() - truth.blocks();
    eprintln!(
        "chaingen: {generated} txs in {} blocks (tip {}) in {secs:.1} s, {:.0} tx/s",
        truth.blocks(),
        truth.tip_height,
        generated as f64 / secs.max(1e-9),
    );
    println!("{}", args.out.display());
    Ok(())
}
