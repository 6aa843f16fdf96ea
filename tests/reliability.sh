#!/usr/bin/env bash
# The reliability suite's full form: 100,000 cases per property test, then the crash, reorg,
# outage and disk tests against a real regtest node with more kill points, deeper rollbacks and a
# 30-second node outage. Prints the figures docs/reliability.md records. `tests/run.sh` runs the
# reduced form of the same tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$(bash tests/setup.sh)
export BITCOIND=$bin/bitcoind BITCOIN_CLI=$bin/bitcoin-cli
cargo build --locked --workspace --bins

log=$(mktemp)
PROPTEST_CASES=100000 cargo test --locked -p indexer -p query proptests 2>&1 | tee "$log" | grep -E "^test result|panicked|FAILED" || true
CHAINTRAIL_RELIABILITY=full cargo test --locked -p chaintrail-tests --test e2e -- \
    crash:: reorgs:: outages:: disk:: --test-threads 2 --nocapture 2>&1 | tee -a "$log" | grep -E "^test |^test result|reliability:|panicked" || true

echo "--- figures"
grep -E "reliability:" "$log" | sed 's/^reliability: //'
passed=$(grep -cE "^test .*proptests::.* ok$" "$log" || true)
echo "tests of the proptests modules passed with PROPTEST_CASES=100000: $passed (each property among them ran 100,000 cases)"
if grep -qE "test result: FAILED|panicked" "$log"; then
    echo "FAILED (full log: $log)"
    exit 1
fi
echo "all passed"
