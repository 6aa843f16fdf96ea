#!/usr/bin/env bash
# Benchmarks on a generated regtest chain from a real node. Writes a Markdown report to stdout
# (BENCHMARKS.md holds the last one) and keeps nothing unless KEEP=1.
#
#   TXS=100000 SEED=1 bash tests/bench/run.sh          (INDEXER_ARGS="--batch-txs N" to vary the indexer)
#
# Measures: the chain generator's rate; the node's serving rate (fetch and decode only, the
# ceiling); the indexer's initial sync (blocks/s, tx/s, MB/s, peak memory, database bytes per
# block byte); and the query figures (trace, path, address, and the same trace through the node's
# RPC) when the query benchmark binary is built.
set -euo pipefail
cd "$(dirname "$0")/../.."
TXS=${TXS:-100000}
SEED=${SEED:-1}
bin=$(bash tests/setup.sh)
command -v /usr/bin/time >/dev/null || { apt-get install -y -q time >&2 || apt-get update -q >&2 && apt-get install -y -q time >&2; }
cargo build --release --locked --workspace --bins >&2
rel=${CARGO_TARGET_DIR:-target}/release

work=$(mktemp -d -t chaintrail-bench.XXXXXX)
rpc_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cli() { "$bin/bitcoin-cli" -regtest -datadir="$work/node" -rpcport="$rpc_port" "$@"; }
cleanup() { cli stop >/dev/null 2>&1 || true; sleep 2; [[ ${KEEP:-0} == 1 ]] && echo "bench: kept $work" >&2 || rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/node"
"$bin/bitcoind" -regtest -datadir="$work/node" -rpcport="$rpc_port" -listen=0 -server -txindex \
    -printtoconsole=0 -rpcthreads=8 -dbcache=1000 -daemonwait >&2
url=http://127.0.0.1:$rpc_port
cookie=$work/node/regtest/.cookie

# Run a command under /usr/bin/time; prints "seconds max_rss_kib" on the last line of $2.
timed() { local log=$1; shift; /usr/bin/time -f "%e %M" -o "$log.time" "$@" >"$log.out" 2>"$log"; cat "$log.time"; }
field() { grep -o "$2=[^ ]*" "$1" | tail -n1 | cut -d= -f2 | tr -d '"'; }

echo "bench: generating $TXS transactions (seed $SEED)" >&2
read gen_s gen_rss < <(timed "$work/gen.log" "$rel/chaingen" --rpc-url "$url" --rpc-cookie "$cookie" --seed "$SEED" --txs "$TXS" --out "$work/truth.json")
blocks=$(cli getblockcount)
chain_txs=$(cli getchaintxstats | python3 -c 'import json,sys; print(json.load(sys.stdin)["txcount"])')

echo "bench: fetch-only pass" >&2
read fetch_s _ < <(timed "$work/fetch.log" "$rel/indexer" --network regtest --rpc-url "$url" --rpc-cookie "$cookie" --db "$work/unused" --fetch-only --progress none)
block_bytes=$(field "$work/fetch.log" bytes)

echo "bench: indexing" >&2
read index_s index_rss < <(timed "$work/index.log" "$rel/indexer" --network regtest --rpc-url "$url" --rpc-cookie "$cookie" --db "$work/db" --once --progress log ${INDEXER_ARGS:-})
db_bytes=$(du -sb "$work/db" | cut -f1)

python3 - "$blocks" "$chain_txs" "$block_bytes" "$fetch_s" "$index_s" "$index_rss" "$db_bytes" "$gen_s" "$TXS" <<'PY'
import sys
blocks, txs, bb, fetch_s, index_s, rss, dbb, gen_s, gen_txs = sys.argv[1:]
blocks, txs, bb, dbb, gen_txs = int(blocks), int(txs), int(bb), int(dbb), int(gen_txs)
fetch_s, index_s, gen_s, rss = float(fetch_s), float(index_s), float(gen_s), int(rss)
print(f"Chain: regtest, {blocks} blocks, {txs} transactions, {bb/1e6:.1f} MB of block data.\n")
print("| pass | seconds | blocks/s | tx/s | MB/s | peak RSS |")
print("|---|---|---|---|---|---|")
print(f"| generator (`chaingen`, {gen_txs} txs) | {gen_s:.1f} | | {gen_txs/gen_s:.0f} | | |")
print(f"| node serving rate (`indexer --fetch-only`: fetch + decode, nothing written) | {fetch_s:.1f} | {blocks/fetch_s:.1f} | {txs/fetch_s:.0f} | {bb/fetch_s/1e6:.2f} | |")
print(f"| initial sync (`indexer --once`) | {index_s:.1f} | {blocks/index_s:.1f} | {txs/index_s:.0f} | {bb/index_s/1e6:.2f} | {rss/1024:.0f} MiB |")
print(f"\nDatabase: {dbb/1e6:.1f} MB on disk, {dbb/bb:.2f} bytes per block byte.")
PY

if [[ -x $rel/query-bench ]]; then
    echo "bench: queries" >&2
    "$rel/query-bench" --db "$work/db" --truth "$work/truth.json" --rpc-url "$url" --rpc-cookie "$cookie"
fi
