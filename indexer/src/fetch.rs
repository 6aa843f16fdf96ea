//! Parallel block fetching: worker threads download and decode blocks from the node while the
//! single writer takes them strictly in height order. A window bounds how far ahead they run.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bitcoin::Block;

use crate::node::{Node, NodeError, RpcConfig};

/// A fetched block, or why it could not be.
pub enum Fetched {
    Block(Block),
    /// The node's chain no longer reaches this height (it reorganised to a shorter chain).
    Gone,
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
    pub fn start(rpc: &RpcConfig, start: u32, end: u32, workers: usize, window: u32, shutdown: Arc<AtomicBool>) -> Fetcher {
        let (tx, rx) = sync_channel(window as usize);
        let next_height = Arc::new(AtomicU32::new(start));
        let written = Arc::new(AtomicU32::new(start));
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..workers.max(1))
            .map(|_| {
                let (tx, next_height, written, stop) = (tx.clone(), next_height.clone(), written.clone(), stop.clone());
                let mut node = Node::new(rpc.clone());
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
                        let fetched = fetch_one(&mut node, &stop, height);
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

fn fetch_one(node: &mut Node, stop: &AtomicBool, height: u32) -> Result<Fetched, NodeError> {
    match node.block_hash(stop, height)? {
        Some(hash) => match node.block(stop, &hash) {
            Ok(block) => Ok(Fetched::Block(block)),
            // Reorganised away between the two calls. (A pruned block is error -1, and stays one.)
            Err(NodeError::Rpc { code: -5, .. }) => Ok(Fetched::Gone),
            Err(e) => Err(e),
        },
        None => Ok(Fetched::Gone),
    }
}
