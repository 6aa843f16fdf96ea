//! End-to-end tests against a real regtest bitcoind: one test binary for the whole workspace.

#![allow(clippy::unwrap_used)]

mod answers;
mod clusters;
mod crash;
mod disk;
mod generator;
mod indexer;
mod node;
mod outages;
mod query;
mod reorgs;
mod reports;
mod serve;
mod serve_fuzz;
mod support;
mod tags;
mod taint;
mod verify;
