#!/usr/bin/env bash
# Query timings of two revisions side by side, on one generated chain from a real node:
#
#   BASE=<rev> TXS=100000 SEED=1 ROUNDS=3 bash tests/bench/ab.sh
#
# Builds `query` and `query-bench` (release) of BASE and of the working tree, generates a chain,
# indexes it with each revision's own indexer, then runs the two `query-bench`s in ROUNDS alternating rounds on it and prints every round's tables
# under a heading naming the revision. Compare medians across rounds. Keeps nothing unless KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/../.."
BASE=${BASE:?set BASE to the revision to compare with}
TXS=${TXS:-100000}
SEED=${SEED:-1}
ROUNDS=${ROUNDS:-3}
bin=$(bash tests/setup.sh)
work=$(mktemp -d -t chaintrail-ab.XXXXXX)
build_args=(--workspace --bins)
keep=(query query-bench indexer chaingen)
source tests/bench/revisions.sh

source tests/bench/node.sh

echo "ab: generating $TXS transactions (seed $SEED)" >&2
"$work/head/chaingen" --rpc-url "$url" --rpc-cookie "$cookie" --seed "$SEED" --txs "$TXS" --out "$work/truth.json" >&2
# Each revision indexes with its own indexer: their on-disk formats may differ.
for side in base head; do
    "$work/$side/indexer" --network regtest --rpc-url "$url" --rpc-cookie "$cookie" --db "$work/$side.db" --once \
        --progress none >&2
done

echo "# Queries, $base_name (base) and $head_name (head), $TXS-tx chain (seed $SEED), $ROUNDS alternating rounds"
for round in $(seq 1 "$ROUNDS"); do
    for side in base head; do
        name=$base_name
        [[ $side == head ]] && name=$head_name
        echo "ab: round $round, $side" >&2
        echo
        echo "## Round $round: $side ($name)"
        "$work/$side/query-bench" --db "$work/$side.db" --truth "$work/truth.json" --rpc-url "$url" --rpc-cookie "$cookie"
    done
done
