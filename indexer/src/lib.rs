//! Indexes a Bitcoin Core node's chain into RocksDB for tracing funds, and owns the on-disk format
//! that `query` reads.

pub mod config;
pub mod fetch;
pub mod node;
pub mod progress;
pub mod rest;
pub mod rows;
pub mod schema;
pub mod store;
pub mod sync;

pub use config::{Args, Config};
pub use sync::run;
