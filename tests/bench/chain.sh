#!/usr/bin/env bash
# Generates a benchmark chain into CHAIN_CACHE ahead of the benchmarks that use it, so a long
# generation (the 5M-transaction chain takes about 40 minutes on 2 cores) runs once:
#
#   TXS=5000000 SEED=5 CHAIN_CACHE=~/chains bash tests/bench/chain.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${CHAIN_CACHE:?set CHAIN_CACHE to the directory that keeps generated chains}"
TXS=${TXS:-1000000}
SEED=${SEED:-3}
source tests/bench/build.sh
work=$(mktemp -d -t chaintrail-chain.XXXXXX)
source tests/bench/node.sh
generate_chain
echo "chain: $TXS transactions (seed $SEED), $(cli getblockcount) blocks, in $cached_chain (generated in ${gen_s} s)"
