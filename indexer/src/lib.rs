//! Indexes a Bitcoin Core node's chain into RocksDB for tracing funds, and owns the on-disk format
//! that `query` reads.
//!
//! Without the default `node` feature this is the storage layer alone (tables, store, stages and
//! the writer), which is all `query` needs to read the index; the `rpc` feature adds the node's
//! JSON-RPC client and the connection settings (what `query verify` reuses); `node` adds the block
//! feeds, the sync, the progress display and the allocator.

pub mod heuristics;
pub mod network;
pub mod stages;
pub mod storage;
pub mod writer;

#[cfg(test)]
mod testing;

#[cfg(feature = "node")]
pub mod check;
#[cfg(feature = "node")]
pub mod config;
#[cfg(feature = "node")]
mod killpoint;
#[cfg(feature = "rpc")]
pub mod node;
#[cfg(feature = "node")]
pub mod progress;
#[cfg(feature = "node")]
pub mod sync;

#[cfg(feature = "node")]
pub use config::{Args, Config};
#[cfg(feature = "node")]
pub use sync::run;
