#!/usr/bin/env bash
# Runs every test: unit tests, and end-to-end tests against a real regtest bitcoind.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$(bash tests/setup.sh)
export BITCOIND=$bin/bitcoind BITCOIN_CLI=$bin/bitcoin-cli
# The end-to-end tests run the built `indexer`, `query` and `chaingen` binaries.
cargo build --locked --workspace --bins
cargo test --locked --workspace -- --test-threads 2
# The lean builds of query must not rot: the storage layer alone, and with `verify`, which links
# the indexer's RPC client but none of its feeds, sync, progress display or allocator.
cargo build --locked -p query --no-default-features
cargo build --locked -p query --no-default-features --features verify
if cargo tree --locked -p query --no-default-features --features verify -e normal | grep -E 'indicatif|jemalloc'; then
    echo "query --features verify links the indexer's sync dependencies" >&2
    exit 1
fi
# The demo's signed case file must verify against its node, with its signature.
demo_out=$(mktemp -d -t chaintrail-demo-out.XXXXXX)
if ! DEMO_OUT=$demo_out bash tests/demo.sh >"$demo_out/demo.log" 2>&1; then
    tail -n 30 "$demo_out/demo.log" >&2
    echo "demo: failed (the last lines of its output are above)" >&2
    exit 1
fi
test -s "$demo_out/report/report.json" && test -s "$demo_out/report/requests.csv"
rm -rf "$demo_out"
echo "demo: the signed case file verifies against the node" >&2
