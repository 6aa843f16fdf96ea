//! End-to-end tests against a real regtest bitcoind: one test binary for the whole workspace.

mod generator;
mod indexer;
mod node;
mod query;
mod support;
