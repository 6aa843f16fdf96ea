#!/usr/bin/env bash
# An investigator's questions on the theft case, two revisions side by side on one chain:
#
#   BASE=<rev> TXS=100000 SEED=1 ROUNDS=3 [CHAIN_CACHE=~/chains] bash tests/bench/cases.sh
#
# Builds `query` and `indexer` (release) of BASE and of the working tree, generates the chain (or
# reuses CHAIN_CACHE's), indexes it with each revision's own indexer (their on-disk formats may
# differ), imports a TagPack naming every exchange address into each side's tag store, then, in
# ROUNDS alternating rounds, times end to end: exposure and taint from the theft, case files of a
# trace and of a taint (`query report`) and their check against the node (`query verify`). Prints
# one line per command, side and round (seconds), and the case files' sizes; compare medians.
set -euo pipefail
cd "$(dirname "$0")/../.."
BASE=${BASE:?set BASE to the revision to compare with}
TXS=${TXS:-100000}
SEED=${SEED:-1}
ROUNDS=${ROUNDS:-3}
bin=$(bash tests/setup.sh)
work=$(mktemp -d -t chaintrail-cases.XXXXXX)
build_args=(-p query -p indexer -p chaintrail-tests --bins)
keep=(query indexer chaingen)
source tests/bench/revisions.sh
rel=$work/head

source tests/bench/node.sh
generate_chain

theft=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["case"]["theft_txid"])' "$work/truth.json")
python3 - "$work/truth.json" "$work/exchanges.yaml" <<'EOF'
import json, sys
truth = json.load(open(sys.argv[1]))
names = {e["id"]: e["name"] for e in truth["entities"] if e["kind"] == "exchange"}
lines = ["title: Generated exchanges", "creator: chaintrail bench", "description: every exchange address",
         "currency: BTC", "category: exchange", "confidence: ownership", "source: https://example.org/exchanges", "tags:"]
for s in truth["scripts"]:
    if s["owner"] in names and s.get("address"):
        lines += [f"- address: {s['address']}", f"  label: {names[s['owner']]}"]
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
EOF
for side in base head; do
    echo "cases: indexing with $side" >&2
    "$work/$side/indexer" --network regtest --rpc-url "$url" --rpc-cookie "$cookie" --db "$work/$side.db" --once \
        --progress none >&2
    "$work/$side/query" --db "$work/$side.db" --tags "$work/$side.tags" tags import "$work/exchanges.yaml" >/dev/null
done

# <side> <name> <query args...>: seconds of one run, its output discarded.
timed() {
    local side=$1 name=$2
    shift 2
    local start=$EPOCHREALTIME
    "$work/$side/query" --db "$work/$side.db" --tags "$work/$side.tags" "$@" >/dev/null 2>"$work/last.err" ||
        { cat "$work/last.err" >&2; return 1; }
    seconds "$side" "$name" "$start"
}
verify_timed() { # <side> <name> <dir>
    local start=$EPOCHREALTIME
    "$work/$1/query" verify "$3" --rpc-url "$url" --rpc-cookie "$cookie" >/dev/null 2>"$work/last.err" ||
        { cat "$work/last.err" >&2; return 1; }
    seconds "$1" "$2" "$start"
}
seconds() { # <side> <name> <start>: the line of a run that began at <start>
    python3 -c 'import sys; print(f"{sys.argv[1]}\t{sys.argv[2]}\t{float(sys.argv[4]) - float(sys.argv[3]):.3f}")' \
        "$1" "$2" "$3" "$EPOCHREALTIME"
}

echo "# Case questions, $base_name (base) and $head_name (head), $TXS-tx chain (seed $SEED), $ROUNDS alternating rounds"
echo -e "side\tcommand\tseconds"
for round in $(seq 0 "$ROUNDS"); do
    for side in base head; do
        # Round 0 warms the page cache and is not printed.
        out=$work/round$round-$side
        mkdir -p "$out"
        {
            timed "$side" "exposure <theft> --hops 6" exposure "$theft" --hops 6 --max-txs 1000000
            timed "$side" "taint <theft> --model haircut --hops 25" taint "$theft" --model haircut --hops 25 --max-txs 1000000
            timed "$side" "taint <theft> --model fifo --hops 25" taint "$theft" --model fifo --hops 25 --max-txs 1000000
            timed "$side" "report trace forward <theft> --hops 20 --min-value 10btc" report --out "$out/trace" \
                trace forward "$theft" --hops 20 --min-value 10btc
            timed "$side" "report taint <theft> --model fifo --hops 25" report --out "$out/taint" \
                taint "$theft" --model fifo --hops 25
            verify_timed "$side" "verify (trace case file)" "$out/trace"
            verify_timed "$side" "verify (taint case file)" "$out/taint"
        } >"$out.tsv"
        [[ $round == 0 ]] || cat "$out.tsv"
    done
done
echo
echo "# Case file sizes (round 1)"
for side in base head; do
    for kind in trace taint; do
        dir=$work/round1-$side/$kind
        echo -e "$side\t$kind\t$(du -sk "$dir" | cut -f1) KiB\t$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["hops"]))' "$dir/report.json") hops"
    done
done
