#!/usr/bin/env bash
# Load test of `query serve` on loopback, on a generated chain from a real node:
#
#   TXS=100000 SEED=1 ROUNDS=3 bash tests/bench/serve.sh      (SERVE_ARGS="--heavy-concurrency 4" to vary the server,
#                                                              BENCH_ARGS="--light-clients 8" to vary the load)
#
# Builds the workspace (release), generates a chain, indexes it once (`indexer --once`), starts
# `query serve --listen 127.0.0.1:0` on it, and runs `serve-bench` against it: ROUNDS rounds of
# light lookups alone (phase A) then under heavy traces (phase B), every round's row and the
# medians across rounds, with the server's peak memory. Stops the server with SIGTERM (it must
# exit 0). Keeps nothing unless KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/../.."
TXS=${TXS:-100000}
SEED=${SEED:-1}
ROUNDS=${ROUNDS:-3}
bin=$(bash tests/setup.sh)
cargo build --release --locked --workspace --bins >&2
rel=${CARGO_TARGET_DIR:-$PWD/target}/release

work=$(mktemp -d -t chaintrail-serve.XXXXXX)
server_pid=""
before_cleanup() { [[ -z $server_pid ]] || kill "$server_pid" 2>/dev/null || true; }
source tests/bench/node.sh

echo "serve: generating $TXS transactions (seed $SEED)" >&2
"$rel/chaingen" --rpc-url "$url" --rpc-cookie "$cookie" --seed "$SEED" --txs "$TXS" --out "$work/truth.json" >&2
"$rel/indexer" --network regtest --rpc-url "$url" --rpc-cookie "$cookie" --db "$work/db" --once --progress none >&2
blocks=$(cli getblockcount)
chain_txs=$(cli getchaintxstats | python3 -c 'import json,sys; print(json.load(sys.stdin)["txcount"])')

"$rel/query" --db "$work/db" serve --listen 127.0.0.1:0 ${SERVE_ARGS:-} 2>"$work/serve.log" &
server_pid=$!
# The server says where it listens once it is ready: wait for that line (or for it to exit).
address=""
while [[ -z $address ]]; do
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; echo "serve: the server exited" >&2; exit 1; }
    address=$(sed -n 's|.*serving http://\([^/]*\)/api/v1/.*|\1|p' "$work/serve.log" | head -n1)
    [[ -n $address ]] || sleep 0.1
done
echo "serve: server $server_pid on $address" >&2

echo "# query serve under load, $TXS-tx chain (seed $SEED): $blocks blocks, $chain_txs transactions, $(nproc) CPUs"
echo
echo "Server: \`query --db DB serve --listen 127.0.0.1:0${SERVE_ARGS:+ $SERVE_ARGS}\`, release build (unless given, \`--heavy-concurrency 2 --refresh-ms 500\`)."
echo
"$rel/serve-bench" --url "http://$address" --truth "$work/truth.json" --server-pid "$server_pid" \
    --rounds "$ROUNDS" --seed "$SEED" ${BENCH_ARGS:-}

kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
server_pid=""
[[ $status == 0 ]] || { cat "$work/serve.log" >&2; echo "serve: the server exited $status after SIGTERM" >&2; exit 1; }
echo "serve: the server stopped on SIGTERM" >&2
