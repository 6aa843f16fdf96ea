//! The node side: the lab's Bitcoin Core node over JSON-RPC ([`Rpc`]) and REST ([`rest::Rest`]),
//! and the fetcher that brings blocks from either ahead of the writer.

#[cfg(feature = "node")]
pub mod fetch;
#[cfg(feature = "node")]
pub mod rest;
mod rpc;
pub mod settings;

pub use rpc::*;
