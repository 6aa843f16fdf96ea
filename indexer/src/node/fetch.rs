//! Parallel block fetching: worker threads download and decode blocks from the node while the
//! single writer takes them strictly in height order. A window bounds how far ahead they run.
//! Blocks come over REST when the node serves it (binary, with the outputs each block spends),
//! otherwise over JSON-RPC.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bitcoin::{Block, BlockHash};

use crate::node::rest::{Rest, SpentOutputs};
use crate::node::{retry_transient, NodeError, Rpc, RpcConfig};

/// Where blocks come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// `/rest/block/<hash>.bin`, plus `/rest/spenttxouts/<hash>.bin` when the node serves it.
    Rest { spent_outputs: bool },
    /// `getblockhash` and `getblock` over JSON-RPC.
    Rpc,
}

impl std::fmt::Display for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Feed::Rest { spent_outputs: true } => "REST: binary blocks with their spent outputs",
            Feed::Rest { spent_outputs: false } => {
                "REST: binary blocks (this node does not serve spent outputs; Bitcoin Core 30 or later does)"
            }
            Feed::Rpc => "JSON-RPC",
        })
    }
}

impl Feed {
    /// The fastest feed the node serves. `genesis` is a block it is known to have.
    pub fn detect(rpc: &RpcConfig, genesis: &BlockHash) -> Result<Feed, NodeError> {
        Ok(match Rest::new(&rpc.url, rpc.timeout).probe(genesis)? {
            Some(spent_outputs) => Feed::Rest { spent_outputs },
            None => Feed::Rpc,
        })
    }
}

/// A block as fetched, with the outputs it spends when the feed gives them.
pub struct FetchedBlock {
    pub block: Block,
    pub spent: Option<SpentOutputs>,
}

/// A fetched block, or why it could not be.
pub enum Fetched {
    Block(Box<FetchedBlock>),
    /// The node's chain no longer reaches this height (it reorganised to a shorter chain).
    Gone,
}

/// One worker's connection to the node.
enum Source {
    Rpc(Rpc),
    Rest { rest: Rest, spent_outputs: bool },
}

impl Source {
    fn new(rpc: &RpcConfig, feed: Feed) -> Source {
        match feed {
            Feed::Rpc => Source::Rpc(Rpc::new(rpc.clone())),
            Feed::Rest { spent_outputs } => Source::Rest { rest: Rest::new(&rpc.url, rpc.timeout), spent_outputs },
        }
    }
}

pub struct Fetcher {
    rx: Receiver<(u32, Result<Fetched, NodeError>)>,
    buffer: BTreeMap<u32, Result<Fetched, NodeError>>,
    next: u32,
    end: u32,
    written: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
    shutdown: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

impl Fetcher {
    /// Starts fetching heights `start..=end` with `workers` threads, at most `window` blocks
    /// ahead of the writer. `shutdown` stops them early, also while they wait for the node.
    pub fn start(
        rpc: &RpcConfig,
        feed: Feed,
        (start, end): (u32, u32),
        workers: usize,
        window: u32,
        shutdown: Arc<AtomicBool>,
    ) -> Fetcher {
        let (tx, rx) = sync_channel(window as usize);
        let next_height = Arc::new(AtomicU32::new(start));
        let written = Arc::new(AtomicU32::new(start));
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..workers.max(1))
            .map(|_| {
                let (tx, next_height, written, stop) = (tx.clone(), next_height.clone(), written.clone(), stop.clone());
                let mut source = Source::new(rpc, feed);
                std::thread::spawn(move || {
                    let halt = || stop.load(Ordering::Relaxed);
                    loop {
                        let height = next_height.fetch_add(1, Ordering::Relaxed);
                        if height > end || halt() {
                            return;
                        }
                        while height >= written.load(Ordering::Acquire).saturating_add(window) {
                            if halt() {
                                return;
                            }
                            std::thread::sleep(Duration::from_millis(2));
                        }
                        let fetched = fetch_one(&mut source, &stop, height);
                        if tx.send((height, fetched)).is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        Fetcher { rx, buffer: BTreeMap::new(), next: start, end, written, stop, shutdown, workers }
    }

    /// The next block in height order; `None` once `end` has been passed, or on shutdown.
    pub fn next_block(&mut self) -> Option<(u32, Result<Fetched, NodeError>)> {
        if self.next > self.end {
            return None;
        }
        while !self.buffer.contains_key(&self.next) {
            if self.shutdown.load(Ordering::Relaxed) {
                self.stop.store(true, Ordering::Relaxed);
                return None;
            }
            match self.rx.recv_timeout(Duration::from_millis(100)) {
                Ok((h, r)) => {
                    self.buffer.insert(h, r);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
        let height = self.next;
        let item = self.buffer.remove(&height).expect("checked above");
        self.next += 1;
        self.written.store(self.next, Ordering::Release);
        Some((height, item))
    }
}

impl Drop for Fetcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Unblock workers waiting on a full channel, then wait for them.
        while self.rx.try_recv().is_ok() {}
        for w in self.workers.drain(..) {
            while !w.is_finished() {
                while self.rx.try_recv().is_ok() {}
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = w.join();
        }
    }
}

fn fetch_one(source: &mut Source, stop: &AtomicBool, height: u32) -> Result<Fetched, NodeError> {
    match source {
        Source::Rpc(node) => match node.block_hash(stop, height)? {
            Some(hash) => match node.block(stop, &hash) {
                Ok(block) => Ok(Fetched::Block(Box::new(FetchedBlock { block, spent: None }))),
                // Reorganised away between the two calls. (A pruned block is error -1, and stays one.)
                Err(NodeError::Rpc { code: -5, .. }) => Ok(Fetched::Gone),
                Err(e) => Err(e),
            },
            None => Ok(Fetched::Gone),
        },
        Source::Rest { rest, spent_outputs } => {
            let Some(hash) = retry_transient(stop, || rest.block_hash(height))? else { return Ok(Fetched::Gone) };
            let Some(block) = retry_transient(stop, || rest.block(&hash))? else { return Ok(Fetched::Gone) };
            let spent = match spent_outputs {
                true => retry_transient(stop, || rest.spent_outputs(&hash))?,
                false => None,
            };
            if let Some(spent) = &spent {
                check_spent_outputs(&block, spent, height)?;
            }
            Ok(Fetched::Block(Box::new(FetchedBlock { block, spent })))
        }
    }
}

/// The spent outputs must line up with the block's inputs, one for one.
fn check_spent_outputs(block: &Block, spent: &SpentOutputs, height: u32) -> Result<(), NodeError> {
    let lined_up = spent.len() == block.txdata.len()
        && block.txdata.iter().zip(spent).enumerate().all(|(i, (tx, s))| {
            if i == 0 {
                s.is_empty()
            } else {
                s.len() == tx.input.len()
            }
        });
    if lined_up {
        Ok(())
    } else {
        Err(NodeError::Other(format!("the node's spent outputs for block {height} do not match its inputs")))
    }
}
