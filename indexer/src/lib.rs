//! Indexes a Bitcoin Core node's chain into RocksDB for tracing funds, and owns the on-disk format
//! that `query` reads.
//!
//! Without the default `node` feature this is the storage layer alone (tables, store, stages and
//! the writer), which is all `query` needs to read the index; with it, also the node client, the
//! connection settings (which `query verify` reuses) and the sync.

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
#[cfg(feature = "node")]
pub mod node;
#[cfg(feature = "node")]
pub mod progress;
#[cfg(feature = "node")]
pub mod sync;

#[cfg(feature = "node")]
pub use config::{Args, Config};
#[cfg(feature = "node")]
pub use sync::run;
