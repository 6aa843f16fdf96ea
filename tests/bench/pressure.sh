#!/usr/bin/env bash
# The initial sync under memory pressure, beside the same sync unconstrained, on one generated
# chain from a real node. Writes a Markdown table to stdout; keeps nothing unless KEEP=1.
#
#   TXS=5000000 SEED=5 RUNS=3 CHAIN_CACHE=~/chains bash tests/bench/pressure.sh
#
# The constrained runs start with a cold page cache inside a memory cgroup whose limit is the
# indexer's own peak RSS in the unconstrained runs plus a page cache of PAGE_CACHE_SHARE (default
# a quarter) of the final database, so lookups of old coins miss RAM the way they do once a
# mainnet index outgrows the machine's memory. Page cache counts against a cgroup's limit; the
# node runs outside it. Uses cgroup v1's memory controller at /sys/fs/cgroup/memory, or v2's
# memory.max where the machine has that instead; needs root.
set -euo pipefail
cd "$(dirname "$0")/../.."
TXS=${TXS:-5000000}
SEED=${SEED:-5}
RUNS=${RUNS:-3}
SHARE=${PAGE_CACHE_SHARE:-0.25}
source tests/bench/build.sh
work=$(mktemp -d -t chaintrail-pressure.XXXXXX)

if [[ -d /sys/fs/cgroup/memory ]]; then
    cgroup=/sys/fs/cgroup/memory/chaintrail-pressure-$$
    limit_file=memory.limit_in_bytes
elif [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
    cgroup=/sys/fs/cgroup/chaintrail-pressure-$$
    limit_file=memory.max
else
    echo "pressure: no memory cgroup controller on this machine" >&2
    exit 1
fi
before_cleanup() { [[ -d $cgroup ]] && rmdir "$cgroup" 2>/dev/null || true; }
source tests/bench/node.sh

generate_chain
blocks=$(cli getblockcount)
chain_txs=$(cli getchaintxstats | python3 -c 'import json,sys; print(json.load(sys.stdin)["txcount"])')
cli gettxoutsetinfo none >/dev/null

indexer=("$rel/indexer" --network regtest --rpc-url "$url" --rpc-cookie "$cookie" --progress none --once)
# Runs the sync into an empty database; prints "seconds peak_rss_kib db_bytes". With a limit,
# inside the cgroup, from a cold page cache.
sync_run() {
    local log=$1 limit=${2:-}
    rm -rf "$work/db"
    sync
    echo 3 >/proc/sys/vm/drop_caches
    if [[ -n $limit ]]; then
        echo "$limit" >"$cgroup/$limit_file"
        /usr/bin/time -f "%e %M" -o "$log.time" bash -c 'echo $$ >"$1/cgroup.procs"; shift; exec "$@"' _ "$cgroup" \
            "${indexer[@]}" --db "$work/db" >"$log.out" 2>"$log" || { echo "pressure: the constrained run failed, see $log" >&2; tail -n 3 "$log" >&2; exit 1; }
    else
        /usr/bin/time -f "%e %M" -o "$log.time" "${indexer[@]}" --db "$work/db" >"$log.out" 2>"$log"
    fi
    echo "$(cat "$log.time") $(du -sb "$work/db" | cut -f1)"
}

mkdir -p "$cgroup"
limit=""
for run in $(seq "$RUNS"); do
    echo "pressure: round $run of $RUNS" >&2
    read -r s rss dbb < <(sync_run "$work/free$run.log")
    echo "free $s $rss $dbb" >>"$work/results"
    if [[ -z $limit ]]; then
        # The indexer's own peak plus SHARE of the database as page cache, from the first run.
        limit=$(python3 -c "print(int($rss * 1024 + $SHARE * $dbb))")
        echo "pressure: limit $((limit / 1048576)) MiB (peak RSS $((rss / 1024)) MiB + $SHARE of a $((dbb / 1048576)) MiB database)" >&2
    fi
    read -r s rss dbb < <(sync_run "$work/limited$run.log" "$limit")
    echo "limited $s $rss $dbb" >>"$work/results"
done

python3 - "$work/results" "$blocks" "$chain_txs" "$limit" "$SHARE" <<'PY'
import statistics, sys
path, blocks, txs, limit, share = sys.argv[1:]
txs, limit = int(txs), int(limit)
runs = {}
for line in open(path):
    kind, s, rss, dbb = line.split()
    runs.setdefault(kind, []).append((float(s), int(rss), int(dbb)))
med = lambda kind, i: statistics.median(r[i] for r in runs[kind])
print(f"Chain: regtest, {blocks} blocks, {txs} transactions. Memory cgroup limit: {limit / 2**20:,.0f} MiB "
      f"(the unconstrained run's peak RSS plus {share} of its database as page cache). Cold page cache "
      f"before every run; medians of {len(runs['free'])} interleaved rounds.\n")
print("| sync | seconds | tx/s | peak RSS | database | runs (s) |")
print("|---|---|---|---|---|---|")
names = {"free": "unconstrained", "limited": f"in a {limit / 2**20:,.0f} MiB memory cgroup"}
for kind in ["free", "limited"]:
    s = med(kind, 0)
    each = ", ".join(f"{r[0]:.2f}" for r in runs[kind])
    print(f"| {names[kind]} | {s:.2f} | {txs / s:,.0f} | {med(kind, 1) / 1024:.0f} MiB | {med(kind, 2) / 1e6:.1f} MB | {each} |")
print(f"\nConstrained / unconstrained rate: {med('free', 0) / med('limited', 0):.2f}.")
PY
