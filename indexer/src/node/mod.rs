//! The node side: the lab's Bitcoin Core node over JSON-RPC ([`Rpc`]) and REST ([`rest::Rest`]),
//! and the fetcher that brings blocks from either ahead of the writer.

pub mod fetch;
pub mod rest;
mod rpc;

pub use rpc::*;
