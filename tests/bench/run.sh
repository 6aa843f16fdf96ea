#!/usr/bin/env bash
# Benchmarks on a generated regtest chain from a real node. Writes a Markdown report to stdout
# (BENCHMARKS.md holds the last ones) and keeps nothing unless KEEP=1.
#
#   TXS=100000 SEED=1 RUNS=3 bash tests/bench/run.sh      (INDEXER_ARGS="--batch-txs N" to vary the indexer)
#   BASE=<rev> ...     adds the initial sync of revision <rev>'s indexer to every round, side by side
#   SYNC_ONLY=1 ...    stops after the sync tables and the bytes per table
#   CHAIN_CACHE=<dir>  keeps the generated chain there and reuses it (see tests/bench/node.sh)
#
# On one node with REST on, in RUNS interleaved rounds: the ceiling (`indexer --fetch-only`: fetch
# over the fastest feed, decode, txids, nothing written), the initial sync (`indexer --once` into
# an empty database; once without clusters; once more with a full compaction at the end; once
# pinned to one core with taskset), and
# electrs 0.12 indexing the same node when `electrs` is on the PATH (`cargo install electrs
# --version 0.12.0 --locked`). Reports medians and every run; then cluster accuracy against the
# generator's owners (cluster-eval, with and without change heuristics) and the query figures
# (query-bench) on the last database.
set -euo pipefail
cd "$(dirname "$0")/../.."
TXS=${TXS:-100000}
SEED=${SEED:-1}
RUNS=${RUNS:-3}
source tests/bench/build.sh

work=$(mktemp -d -t chaintrail-bench.XXXXXX)
if [[ -n ${BASE:-} ]]; then
    # The base revision's indexer, built in a worktree into a target directory of its own, then
    # copied aside. (Cargo names a workspace's own crates by their path within the workspace, so
    # two checkouts sharing one target directory would reuse each other's builds.)
    target=${CARGO_TARGET_DIR:-$PWD/target}
    before_cleanup() { git worktree remove --force "$work/base-src" >/dev/null 2>&1 || true; }
    git worktree add -q --detach "$work/base-src" "$BASE"
    (cd "$work/base-src" && CARGO_TARGET_DIR=$target/bench-base cargo build --release --locked -p indexer --bins >&2)
    mkdir -p "$work/base" && cp "$target/bench-base/release/indexer" "$work/base/indexer"
    cargo build --release --locked --workspace --bins >&2
    base_name=$(git rev-parse --short "$BASE")
fi
source tests/bench/node.sh

# Runs a command under /usr/bin/time; prints "seconds max_rss_kib".
timed() { local log=$1; shift; /usr/bin/time -f "%e %M" -o "$log.time" "$@" >"$log.out" 2>"$log"; cat "$log.time"; }
field() { grep -o "$2=[^ ]*" "$1" | tail -n1 | cut -d= -f2 | tr -d '"'; }
indexer=("$rel/indexer" --network regtest --rpc-url "$url" --rpc-cookie "$cookie" --progress none)

generate_chain
blocks=$(cli getblockcount)
chain_txs=$(cli getchaintxstats | python3 -c 'import json,sys; print(json.load(sys.stdin)["txcount"])')
# Let the node settle (its own flushes after the generator) before timing anything.
cli gettxoutsetinfo none >/dev/null

# electrs indexing the same node to its tip, then exiting (`--sync-once`). Prints "seconds
# max_rss_kib db_bytes".
electrs_run() {
    local dir=$1 log=$1.log
    mkdir -p "$dir"
    read -r s rss < <(timed "$log" electrs --skip-default-conf-files --network regtest --db-dir "$dir" \
        --daemon-dir "$work/node" --daemon-rpc-addr "127.0.0.1:$rpc_port" --monitoring-addr "127.0.0.1:$(port)" \
        --sync-once --disable-electrum-rpc --log-filters INFO)
    echo "$s $rss $(du -sb "$dir" | cut -f1)"
}


have_electrs=0
command -v electrs >/dev/null && have_electrs=1
[[ $have_electrs == 1 ]] || echo "bench: electrs is not installed (cargo install electrs --version 0.12.0 --locked); skipping its row" >&2
for run in $(seq "$RUNS"); do
    echo "bench: round $run of $RUNS" >&2
    read -r s _ < <(timed "$work/fetch$run.log" "${indexer[@]}" --db "$work/unused" --fetch-only)
    echo "fetch $s 0 0 $(field "$work/fetch$run.log" bytes)" >>"$work/results"
    rm -rf "$work/db"
    read -r s rss < <(timed "$work/index$run.log" "${indexer[@]}" --db "$work/db" --once ${INDEXER_ARGS:-})
    echo "sync $s $rss $(du -sb "$work/db" | cut -f1) 0" >>"$work/results"
    rm -rf "$work/plain"
    read -r s rss < <(timed "$work/plain$run.log" "${indexer[@]}" --db "$work/plain" --once --no-clusters ${INDEXER_ARGS:-})
    echo "noclusters $s $rss $(du -sb "$work/plain" | cut -f1) 0" >>"$work/results"
    rm -rf "$work/db"
    read -r s rss < <(timed "$work/compact$run.log" "${indexer[@]}" --db "$work/db" --once --compact-after-bulk ${INDEXER_ARGS:-})
    echo "compact $s $rss $(du -sb "$work/db" | cut -f1) 0" >>"$work/results"
    rm -rf "$work/db1"
    read -r s rss < <(timed "$work/onecore$run.log" taskset -c 0 "${indexer[@]}" --db "$work/db1" --once ${INDEXER_ARGS:-})
    echo "onecore $s $rss $(du -sb "$work/db1" | cut -f1) 0" >>"$work/results"
    rm -rf "$work/db1"
    if [[ -n ${BASE:-} ]]; then
        rm -rf "$work/base-db"
        read -r s rss < <(timed "$work/base$run.log" "$work/base/indexer" --network regtest --rpc-url "$url" \
            --rpc-cookie "$cookie" --progress none --db "$work/base-db" --once ${INDEXER_ARGS:-})
        echo "base $s $rss $(du -sb "$work/base-db" | cut -f1) 0" >>"$work/results"
        rm -rf "$work/base-db"
    fi
    if [[ $have_electrs == 1 ]]; then
        rm -rf "$work/electrs"
        read -r s rss dbb < <(electrs_run "$work/electrs")
        echo "electrs $s $rss $dbb 0" >>"$work/results"
    fi
done
feed=$(sed -n 's/.*block feed feed=//p' "$work/index1.log" | head -n1 | tr -d '"')

python3 - "$work/results" "$blocks" "$chain_txs" "$gen_s" "$TXS" "$feed" "${base_name:-}" <<'PY'
import statistics, sys
path, blocks, txs, gen_s, gen_txs, feed, base_name = sys.argv[1:]
blocks, txs, gen_txs, gen_s = int(blocks), int(txs), int(gen_txs), float(gen_s)
runs = {}
block_bytes = 0
for line in open(path):
    kind, s, rss, dbb, bb = line.split()
    runs.setdefault(kind, []).append((float(s), int(rss), int(dbb)))
    block_bytes = max(block_bytes, int(bb))
med = lambda kind, i: statistics.median(r[i] for r in runs[kind])
print(f"Chain: regtest, {blocks} blocks, {txs} transactions, {block_bytes/1e6:.1f} MB of block data. Feed: {feed}.\n")
print(f"Medians of {len(runs['sync'])} interleaved rounds (ceiling, sync, sync without clusters, sync with compaction, sync on one core{', the base revision' if 'base' in runs else ''}{', electrs' if 'electrs' in runs else ''}, repeated); every run's seconds in the last column.\n")
print("| pass | seconds | tx/s | MB/s | of the ceiling | peak RSS | database | bytes per block byte | runs (s) |")
print("|---|---|---|---|---|---|---|---|---|")
ceiling = med("fetch", 0)
names = {"fetch": "ceiling: `indexer --fetch-only` (fetch + decode + txids, nothing written)",
         "sync": "initial sync: `indexer --once`",
         "noclusters": "initial sync without clusters: `indexer --once --no-clusters`",
         "compact": "initial sync, then full compaction: `indexer --once --compact-after-bulk`",
         "onecore": "initial sync on one core: `taskset -c 0 indexer --once`",
         "base": f"initial sync, the indexer of {base_name}: `indexer --once`",
         "electrs": "electrs 0.12.0 (`--sync-once`), same node"}
for kind in ["fetch", "sync", "noclusters", "compact", "onecore", "base", "electrs"]:
    if kind not in runs:
        continue
    s = med(kind, 0)
    rss = f"{med(kind, 1)/1024:.0f} MiB" if kind != "fetch" else ""
    db = f"{med(kind, 2)/1e6:.1f} MB" if kind != "fetch" else ""
    ratio = f"{med(kind, 2)/block_bytes:.2f}" if kind != "fetch" else ""
    each = ", ".join(f"{r[0]:.2f}" for r in runs[kind])
    print(f"| {names[kind]} | {s:.2f} | {txs/s:,.0f} | {block_bytes/s/1e6:.1f} | {ceiling/s:.2f} | {rss} | {db} | {ratio} | {each} |")
print(f"\nTwo cores against one (`taskset -c 0`): {med('onecore', 0) / med('sync', 0):.2f}x.")
print(f"\nGenerator: {gen_txs} transactions in {gen_s:.1f} s ({gen_txs/gen_s:,.0f} tx/s).")
PY

# Where the bytes go: each table of the last compacted database.
python3 - "$(grep -o 'tables="[^"]*"' "$work/compact$RUNS.log" | tail -n1 | cut -d'"' -f2)" "$chain_txs" <<'PY'
import sys
rows = [t.split(":") for t in sys.argv[1].split(",")]
txs = int(sys.argv[2])
total = sum(int(b) for _, b, _ in rows)
print("\nWhere the compacted database's bytes go (RocksDB table files and segment files):\n")
print("| table | MB | rows | bytes per row | bytes per transaction | share |")
print("|---|---|---|---|---|---|")
for name, b, n in rows:
    b, n = int(b), int(n)
    per_row = f"{b/n:.1f}" if n else ""
    print(f"| `{name}` | {b/1e6:.2f} | {n} | {per_row} | {b/txs:.1f} | {100*b/total:.1f}% |")
print(f"| all | {total/1e6:.2f} | | | {total/txs:.1f} | |")
PY
[[ ${SYNC_ONLY:-0} == 1 ]] && exit 0

# Clusters against the generator's owners: as built (multi-input only), then rebuilt from the
# indexed rows with change heuristics on (offline, timed).
echo "bench: cluster accuracy" >&2
"$rel/cluster-eval" --db "$work/db" --truth "$work/truth.json" >"$work/eval-inputs.json"
cp -r "$work/db" "$work/change"
read -r s rss < <(timed "$work/change.log" "${indexer[@]}" --db "$work/change" --rebuild-stage clusters --cluster-change)
"$rel/cluster-eval" --db "$work/change" --truth "$work/truth.json" >"$work/eval-change.json"
rm -rf "$work/change"
python3 - "$work/eval-inputs.json" "$work/eval-change.json" "$s" "$rss" <<'PY'
import json, sys
inputs, change = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
print("\nCluster accuracy against the generator's owners (`cluster-eval`); with change heuristics, the")
print(f"clusters were rebuilt from the indexed rows with `--rebuild-stage clusters --cluster-change` in {sys.argv[3]} s (peak RSS {int(sys.argv[4]) // 1024} MiB).\n")
print("| clusters built with | pairwise precision | pairwise recall | clusters | largest | clusters mixing owners |")
print("|---|---|---|---|---|---|")
for name, d in [("multi-input only (default)", inputs), ("multi-input + change (`--cluster-change`)", change)]:
    c = d["clustering"]
    print(f"| {name} | {c['pairwise_precision']:.6f} | {c['pairwise_recall']:.4f} | {c['clusters']:,} | {c['largest_cluster']:,} | {len(c['mixed_clusters'])} |")
ch = inputs["change"]
print(f"\nChange heuristics on the {ch['txs']:,} generated single-owner transactions with two or more outputs ({ch['txs_with_change']:,} with a change output):\n")
print("| heuristic | picks | right | precision | recall |")
print("|---|---|---|---|---|")
for name, v in ch["heuristics"].items():
    p = "" if v["precision"] is None else f"{v['precision']:.4f}"
    print(f"| `{name}` | {v['picks']:,} | {v['right']:,} | {p} | {v['recall']:.3f} |")
PY

if [[ -x $rel/query-bench ]]; then
    echo "bench: queries" >&2
    "$rel/query-bench" --db "$work/db" --truth "$work/truth.json" --rpc-url "$url" --rpc-cookie "$cookie"
fi

# Tags: importing the largest shared TagPack into a fresh store (median of 3), then exposure at
# 6 hops on this chain with its exchanges tagged.
echo "bench: tags and exposure" >&2
pack=$(ls -S ../shared/data/tagpacks/*.yaml 2>/dev/null | head -n1 || true)
if [[ -n $pack ]]; then
    for run in 1 2 3; do
        rm -rf "$work/mainnet-tags"
        read -r s _ < <(timed "$work/import$run.log" "$rel/query" --network main --tags "$work/mainnet-tags" tags import "$pack")
        echo "$s" >>"$work/import"
    done
    python3 - "$work/import" "$pack" "$work/import1.log.out" <<'PY'
import json, statistics, sys, os
times = [float(l) for l in open(sys.argv[1])]
tags = json.load(open(sys.argv[3]))["total"]["imported"]
s = statistics.median(times)
print(f"\nTag import: `{os.path.basename(sys.argv[2])}` ({tags} tags) into an empty store: {s:.2f} s, {tags/s:,.0f} tags/s (median of 3: {', '.join(f'{t:.2f}' for t in times)} s).")
PY
fi
python3 - "$work/truth.json" "$work/exchanges.yaml" "$work/targets" <<'PY'
import json, sys
truth = json.load(open(sys.argv[1]))
exchanges = {e["id"]: e["name"] for e in truth["entities"] if e["kind"] == "exchange"}
with open(sys.argv[2], "w") as f:
    f.write("title: Generated exchanges\ncreator: bench\ncurrency: BTC\ncategory: exchange\nconfidence: ownership\nsource: https://example.org/exchanges\ntags:\n")
    for s in truth["scripts"]:
        if s["owner"] in exchanges and s["address"]:
            f.write(f"- address: {s['address']}\n  label: {exchanges[s['owner']]}\n")
funded = {}
for tx in truth["txs"]:
    for o in tx["outputs"]:
        if o["address"]:
            funded[o["address"]] = funded.get(o["address"], 0) + 1
hub = max(funded, key=funded.get)
open(sys.argv[3], "w").write(f"{truth['case']['thief_address']} {hub}\n")
PY
"$rel/query" --db "$work/db" --tags "$work/tags" tags import "$work/exchanges.yaml" >/dev/null
read -r thief hub <"$work/targets"
echo -e "\n| exposure, 6 hops, out (\`query exposure\`, end to end, median of 5) | txs followed | seconds | runs (s) |"
echo "|---|---|---|---|"
for target in "$thief" "$hub"; do
    : >"$work/exposure"
    for run in 1 2 3 4 5; do
        read -r s _ < <(timed "$work/exposure$run.log" "$rel/query" --db "$work/db" --tags "$work/tags" exposure "$target" --hops 6 --max-txs 1000000)
        echo "$s" >>"$work/exposure"
    done
    name=$([[ $target == "$thief" ]] && echo "the thief's address" || echo "the hub address (most paid)")
    python3 - "$work/exposure" "$work/exposure1.log.out" "$name" <<'PY'
import json, statistics, sys
times = [float(l) for l in open(sys.argv[1])]
followed = json.load(open(sys.argv[2]))["txs_followed"]
print(f"| {sys.argv[3]} | {followed} | {statistics.median(times):.2f} | {', '.join(f'{t:.2f}' for t in times)} |")
PY
done
