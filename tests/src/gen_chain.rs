//! Packing generated transactions into blocks: block limits, mining through a [`BlockSink`]
//! (`generateblock` on a real node), coinbase maturity, and the chain-ordered transaction record.

use std::collections::VecDeque;
use std::mem;

use anyhow::{ensure, Context, Result};
use bitcoin::{Address, BlockHash, Script, Transaction};
use bitcoincore_rpc::{Client, RpcApi};

use crate::gen_world::{coinbase_coin, Utxo, NETWORK};
use crate::node;
use crate::truth::{OutputInfo, TxInfo};

/// Coinbase outputs can be spent in blocks at least this much higher.
pub const COINBASE_MATURITY: u32 = 100;
/// Block weight left for our transactions (4M less room for the header and the coinbase).
const MAX_TXS_WEIGHT: u64 = 4_000_000 - 8_000;
/// Sigop cost left for our transactions (80k less the coinbase's).
const MAX_TXS_SIGOPS: u64 = 80_000 - 400;

/// A block the sink mined.
#[derive(Debug, Clone)]
pub struct MinedBlock {
    pub hash: BlockHash,
    pub height: u32,
    pub coinbase: Transaction,
}

/// Where blocks are mined: a node in production, a stub in unit tests.
pub trait BlockSink {
    /// Mines one block holding `txs` in order after a coinbase paying `coinbase_script`.
    fn mine(&mut self, coinbase_script: &Script, txs: &[Transaction]) -> Result<MinedBlock>;
}

/// Mines with `generateblock`, so transactions never touch the mempool.
pub struct RpcSink<'a> {
    rpc: &'a Client,
    height: u32,
}

impl<'a> RpcSink<'a> {
    /// A sink for a node that must still be at height 0 on regtest.
    pub fn new(rpc: &'a Client) -> Result<Self> {
        let info: serde_json::Value = rpc.call("getblockchaininfo", &[]).context("asking the node for its chain")?;
        ensure!(info["chain"] == "regtest", "the node runs {}, not regtest", info["chain"]);
        let height = info["blocks"].as_u64().context("getblockchaininfo has no block count")?;
        ensure!(height == 0, "the generator needs a fresh regtest chain, but the node is at height {height}");
        Ok(RpcSink { rpc, height: 0 })
    }
}

impl BlockSink for RpcSink<'_> {
    fn mine(&mut self, coinbase_script: &Script, txs: &[Transaction]) -> Result<MinedBlock> {
        let output = format!("raw({})", hex::encode(coinbase_script.as_bytes()));
        let hash = node::generate_block(self.rpc, &output, txs)
            .with_context(|| format!("mining block {} with {} txs", self.height + 1, txs.len()))?;
        let block = self.rpc.get_block(&hash).with_context(|| format!("fetching block {hash}"))?;
        ensure!(
            block.txdata.len() == txs.len() + 1,
            "block {hash} holds {} txs, expected {}",
            block.txdata.len(),
            txs.len() + 1
        );
        let coinbase = block.txdata.into_iter().next().context("block without coinbase")?;
        self.height += 1;
        Ok(MinedBlock { hash, height: self.height, coinbase })
    }
}

/// The block being filled, the chain mined so far and coinbases waiting to mature.
pub(crate) struct Chain<'s> {
    sink: &'s mut dyn BlockSink,
    txs_per_block: usize,
    pending: Vec<Transaction>,
    pending_infos: Vec<TxInfo>,
    weight: u64,
    sigops: u64,
    txs: Vec<TxInfo>,
    immature: VecDeque<(u32, Utxo)>,
    height: u32,
    tip: Option<BlockHash>,
    generated: usize,
}

impl<'s> Chain<'s> {
    pub fn new(sink: &'s mut dyn BlockSink, txs_per_block: usize) -> Self {
        Chain {
            sink,
            txs_per_block: txs_per_block.max(1),
            pending: Vec::new(),
            pending_infos: Vec::new(),
            weight: 0,
            sigops: 0,
            txs: Vec::new(),
            immature: VecDeque::new(),
            height: 0,
            tip: None,
            generated: 0,
        }
    }

    /// Whether a transaction of this weight and sigop cost still fits the pending block.
    pub fn fits(&self, weight: u64, sigops: u64) -> bool {
        self.pending.is_empty() || (self.weight + weight <= MAX_TXS_WEIGHT && self.sigops + sigops <= MAX_TXS_SIGOPS)
    }

    pub fn push(&mut self, tx: Transaction, info: TxInfo, weight: u64, sigops: u64) {
        self.pending.push(tx);
        self.pending_infos.push(info);
        self.weight += weight;
        self.sigops += sigops;
        self.generated += 1;
    }

    /// Whether the pending block reached the wanted number of transactions.
    pub fn is_full(&self) -> bool {
        self.pending.len() >= self.txs_per_block
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Mines the pending block paying `script` (world script `script_id`); returns the coinbase
    /// coins that became spendable for the next block.
    pub fn mine(&mut self, script: &Script, script_id: u32) -> Result<Vec<Utxo>> {
        let txs = mem::take(&mut self.pending);
        let infos = mem::take(&mut self.pending_infos);
        let block = self.sink.mine(script, &txs)?;
        self.height = block.height;
        self.tip = Some(block.hash);
        self.weight = 0;
        self.sigops = 0;
        self.txs.push(coinbase_info(&block));
        self.txs.extend(infos.into_iter().map(|info| TxInfo { height: block.height, ..info }));
        if let Some(coin) = coinbase_coin(&block.coinbase, script, script_id) {
            self.immature.push_back((block.height, coin));
        }
        if block.height % 25 == 0 || txs.len() > 100 {
            tracing::info!(height = block.height, txs = txs.len(), generated = self.generated, "mined block");
        }
        let next = block.height + 1;
        let mut matured = Vec::new();
        while let Some(&(height, coin)) = self.immature.front() {
            if height + COINBASE_MATURITY > next {
                break;
            }
            matured.push(coin);
            self.immature.pop_front();
        }
        Ok(matured)
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn tip(&self) -> Option<BlockHash> {
        self.tip
    }

    /// Transactions generated so far, coinbases excluded.
    pub fn generated(&self) -> usize {
        self.generated
    }

    /// Coinbase coins not yet spendable.
    pub fn immature(&self) -> impl Iterator<Item = &Utxo> {
        self.immature.iter().map(|(_, coin)| coin)
    }

    /// The chain-ordered record of every mined transaction.
    pub fn into_txs(self) -> Vec<TxInfo> {
        self.txs
    }
}

fn coinbase_info(block: &MinedBlock) -> TxInfo {
    let outputs = block
        .coinbase
        .output
        .iter()
        .map(|o| OutputInfo {
            value_sat: o.value.to_sat(),
            script_hex: hex::encode(o.script_pubkey.as_bytes()),
            address: Address::from_script(&o.script_pubkey, NETWORK).ok().map(|a| a.to_string()),
        })
        .collect();
    TxInfo {
        txid: block.coinbase.compute_txid().to_string(),
        height: block.height,
        kind: "coinbase".to_string(),
        inputs: Vec::new(),
        outputs,
    }
}
