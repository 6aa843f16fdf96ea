//! Indexes a Bitcoin Core node's chain into RocksDB for tracing funds, and owns the on-disk format
//! that `query` reads.

pub mod addresses;
pub mod config;
pub mod fetch;
pub mod graph;
pub mod journal;
pub mod node;
pub mod progress;
pub mod rest;
pub mod schema;
pub mod stages;
pub mod store;
pub mod sync;
pub mod writer;

pub use config::{Args, Config};
pub use sync::run;
