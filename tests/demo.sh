#!/usr/bin/env bash
# The main job on an embedded default: start a local regtest node, seed it with a sample case (a
# theft laundered through a peel chain, a fan-out, a CoinJoin and a consolidation into an exchange
# deposit address), index it, then trace the stolen coins forward and find the path from the
# thief to the exchange, show who controls the addresses the thief gathered from and why, and
# write a case file of the stolen funds (report.json, report.html and requests.csv), signed by a
# key made for the demo, and check it and its signature against the node.
# The node and database live in a temporary directory removed at the end (KEEP=1 keeps it); the
# picture and CSV of the trace and the case file are written to target/demo (DEMO_OUT sets
# another directory).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$(bash tests/setup.sh)
cargo build --locked --workspace --bins >&2
target=${CARGO_TARGET_DIR:-target}/debug

work=$(mktemp -d -t chaintrail-demo.XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rpc_port=$(free_port)
cleanup() {
    "$bin/bitcoin-cli" -regtest -datadir="$work/node" -rpcport="$rpc_port" stop >/dev/null 2>&1 || true
    sleep 1
    [[ ${KEEP:-0} == 1 ]] && echo "demo: kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/node"

echo "== starting bitcoind (regtest) in $work/node" >&2
"$bin/bitcoind" -regtest -rest=1 -datadir="$work/node" -rpcport="$rpc_port" -listen=0 -server -txindex \
    -printtoconsole=0 -daemonwait >&2
cookie=$work/node/regtest/.cookie
url=http://127.0.0.1:$rpc_port

echo "== generating the sample case" >&2
"$target/chaingen" --rpc-url "$url" --rpc-cookie "$cookie" --seed 7 --txs 3000 --out "$work/truth.json" >&2

echo "== indexing" >&2
"$target/indexer" --network regtest --rpc-url "$url" --rpc-cookie "$cookie" --db "$work/db" --once --progress log

case_field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['case'][sys.argv[2]])" "$work/truth.json" "$1"; }
theft=$(case_field theft_txid)
thief=$(case_field thief_address)
exchange=$(case_field exchange_deposit_address)

echo
echo "== where did the bulk of the stolen coins go? query trace forward $theft --hops 20 --min-value 10btc"
"$target/query" --db "$work/db" --format table trace forward "$theft" --hops 20 --min-value 10btc
out=${DEMO_OUT:-target/demo}
mkdir -p "$out"
"$target/query" --db "$work/db" --format svg trace forward "$theft" --hops 20 --min-value 10btc >"$out/trace.svg"
"$target/query" --db "$work/db" --format csv trace forward "$theft" --hops 20 --min-value 10btc >"$out/trace.csv"
echo
echo "== a picture of that trace: $out/trace.svg (query --format svg); every edge and destination: $out/trace.csv"
echo
echo "== how did they reach the exchange? query path $thief $exchange"
"$target/query" --db "$work/db" --format table path "$thief" "$exchange"
echo
echo "== the exchange deposit address they reached: query address $exchange"
"$target/query" --db "$work/db" --format table address "$exchange" --limit 10
consolidation=$(case_field consolidation_txid)
gathered=$("$target/query" --db "$work/db" tx "$consolidation" |
    python3 -c 'import json,sys; print(" ".join(sorted({i["address"] for i in json.load(sys.stdin)["inputs"] if i["address"]})[:2]))')
read -r first second <<<"$gathered"
echo
echo "== who controls the addresses the thief gathered from? query cluster $first"
"$target/query" --db "$work/db" --format table cluster "$first" --limit 10
if [[ -n ${second:-} ]]; then
    echo
    echo "== why are they one owner? query cluster --why $first $second"
    "$target/query" --db "$work/db" --format table cluster --why "$first" "$second"
fi

echo
echo "== the analyst's signing key: query keys new --out $work/analyst.key"
"$target/query" --format table keys new --out "$work/analyst.key"
echo
echo "== a signed case file of the stolen funds: query report --out $out/report --case DEMO-1 --analyst demo --sign $work/analyst.key trace forward $theft --hops 20 --min-value 10btc"
rm -rf "$out/report"
"$target/query" --db "$work/db" --format table report --out "$out/report" --case DEMO-1 --analyst demo \
    --sign "$work/analyst.key" trace forward "$theft" --hops 20 --min-value 10btc
echo
echo
echo "== does it still hold on the node, signed by that key? query verify $out/report --signer $work/analyst.key.pub"
"$target/query" --format table verify "$out/report" --signer "$work/analyst.key.pub" --rpc-url "$url" --rpc-cookie "$cookie"
echo
echo "== open $out/report/report.html in a browser: the flow, where the money ended and every output it rests on;"
echo "   $out/report/report.json holds the same with its digest and signature (how to check it: docs/reports.md);"
echo "   $out/report/requests.csv lists the deposits at tagged entities and the outputs holding the coins now"
