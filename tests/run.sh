#!/usr/bin/env bash
# Runs every test: unit tests, and end-to-end tests against a real regtest bitcoind.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$(bash tests/setup.sh)
export BITCOIND=$bin/bitcoind BITCOIN_CLI=$bin/bitcoin-cli
# The end-to-end tests run the built `indexer`, `query` and `chaingen` binaries.
cargo build --locked --workspace --bins
cargo test --locked --workspace -- --test-threads 2
