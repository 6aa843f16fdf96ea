//! Builds a synthetic regtest database for trying and timing queries without a node: random
//! transactions mixing a pool of outputs, plus one long peel chain with a known path length.
//!
//! `cargo run --release -p query --example synthetic_chain -- <new db dir> [txs] [seed] [compact]`

#[path = "../src/fixture.rs"]
mod fixture;

use std::path::PathBuf;

use bitcoin::{OutPoint, ScriptBuf, Txid};
use fixture::{script, TestChain};

/// Outputs the random transactions pick their inputs from.
const POOL: usize = 20_000;
/// Distinct scripts outputs are paid to.
const SCRIPTS: u64 = 30_000;
/// Transactions per block.
const PER_BLOCK: u64 = 1000;
/// Length of the peel chain.
const PEEL: usize = 40;

/// xorshift64*: deterministic and good enough to shuffle test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn script(&mut self) -> ScriptBuf {
        script(self.below(SCRIPTS) as u32)
    }
}

struct Builder {
    chain: TestChain,
    rng: Rng,
    pool: Vec<(OutPoint, u64)>,
    txs: u64,
}

impl Builder {
    /// A tx spending `inputs` random pool outputs and paying `outputs` random scripts.
    fn mix(&mut self, inputs: u64, outputs: u64) -> Txid {
        let mut spent = Vec::new();
        for _ in 0..inputs.min(self.pool.len() as u64) {
            let i = self.rng.below(self.pool.len() as u64) as usize;
            spent.push(self.pool.swap_remove(i));
        }
        self.pay(&spent, outputs)
    }

    /// A tx spending `spent` and splitting its value evenly over `outputs` random scripts, which
    /// join the pool.
    fn pay(&mut self, spent: &[(OutPoint, u64)], outputs: u64) -> Txid {
        let each = spent.iter().map(|(_, v)| v).sum::<u64>() / outputs;
        let outs: Vec<_> = (0..outputs).map(|_| (self.rng.script(), each)).collect();
        let inputs: Vec<OutPoint> = spent.iter().map(|(op, _)| *op).collect();
        let txid = self.send(&inputs, &outs);
        self.pool.extend((0..outputs as u32).map(|vout| (OutPoint { txid, vout }, each)));
        txid
    }

    fn send(&mut self, inputs: &[OutPoint], outputs: &[(ScriptBuf, u64)]) -> Txid {
        self.txs += 1;
        if self.txs % PER_BLOCK == 0 {
            self.chain.mine();
        }
        self.chain.send(inputs, outputs)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(dir) = args.get(1).map(PathBuf::from) else {
        eprintln!("usage: synthetic_chain <new db dir> [txs] [seed] [compact]");
        std::process::exit(2);
    };
    let target: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(7);
    let mut b = Builder { chain: TestChain::create(&dir), rng: Rng(seed | 1), pool: Vec::new(), txs: 0 };
    // Fan coins out into the pool, a hundred outputs each.
    for _ in 0..(POOL / 100) {
        let script = b.rng.script();
        let coin = b.chain.coin(script, fixture::SUBSIDY);
        b.pay(&[(coin, fixture::SUBSIDY)], 100);
    }
    let fan_root = b.mix(2, 5);
    let peel_value = fixture::SUBSIDY;
    let coin = b.chain.coin(script(u32::MAX - 1), peel_value);
    let mut peel = OutPoint { txid: b.send(&[coin], &[(script(u32::MAX - 1), peel_value - 1000)]), vout: 0 };
    let mut peel_txs = vec![peel.txid];
    let peel_every = (target / PEEL as u64).max(1);
    while b.txs < target {
        let inputs = 1 + b.rng.below(8);
        let outputs = 1 + b.rng.below(8);
        b.mix(inputs, outputs);
        if b.txs % peel_every == 0 && peel_txs.len() < PEEL {
            let left = peel_value - peel_txs.len() as u64 * 1000;
            let side = b.rng.script();
            let txid = b.send(&[peel], &[(script(u32::MAX - 1), left), (side, 500)]);
            b.pool.push((OutPoint { txid, vout: 1 }, 500));
            peel = OutPoint { txid, vout: 0 };
            peel_txs.push(txid);
        }
    }
    b.chain.mine();
    // Flushed, as after a bulk load: followers need not replay a write-ahead log when opening.
    b.chain.store().flush().expect("flush the database");
    if args.get(4).map(String::as_str) == Some("compact") {
        b.chain.store().compact();
    }
    println!("database     {}", b.chain.db_path().display());
    println!("tip height   {}", b.chain.height());
    println!("txs          {} (plus coinbases)", b.txs);
    println!("fan root     {fan_root}");
    println!("peel chain   {} txs: {} .. {}", peel_txs.len(), peel_txs[0], peel_txs[peel_txs.len() - 1]);
}
