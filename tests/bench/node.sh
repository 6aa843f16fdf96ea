# Sourced by the benchmark scripts: starts the benchmark's regtest node in "$work/node" (REST,
# -txindex, a 1 GB dbcache) and stops it on exit, then removes "$work" unless KEEP=1. Expects
# `bin` (the node's bin directory) and `work`; runs the caller's `before_cleanup` first if it
# defines one. Sets `rpc_port`, `url`, `cookie` and `cached_chain` (see CHAIN_CACHE below), and
# defines `port`, `cli`, `start_node`, `stop_node` and `generate_chain`.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rpc_port=$(port)
cli() { "$bin/bitcoin-cli" -regtest -datadir="$work/node" -rpcport="$rpc_port" "$@"; }
cleanup() {
    cli stop >/dev/null 2>&1 || true
    while pgrep -f "datadir=$work/node" >/dev/null; do sleep 0.2; done
    if declare -F before_cleanup >/dev/null; then before_cleanup; fi
    [[ ${KEEP:-0} == 1 ]] && echo "bench: kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
start_node() {
    mkdir -p "$work/node"
    "$bin/bitcoind" -regtest -datadir="$work/node" -rpcport="$rpc_port" -listen=0 -server \
        -rest=1 -txindex -printtoconsole=0 -rpcthreads=8 -dbcache=1000 -daemonwait >&2
}
stop_node() {
    cli stop >/dev/null
    while pgrep -f "datadir=$work/node" >/dev/null; do sleep 0.2; done
}
# CHAIN_CACHE=<dir>: a generated chain (the node's data and the generator's truth file) is kept
# there and reused by later runs with the same TXS and SEED, instead of generating it again.
cached_chain=""
if [[ -n ${CHAIN_CACHE:-} ]]; then
    cached_chain=$CHAIN_CACHE/txs${TXS:-0}-seed${SEED:-0}
    if [[ -f $cached_chain/truth.json ]]; then
        cp -r "$cached_chain/node" "$work/node"
        cp "$cached_chain/truth.json" "$cached_chain/gen-seconds" "$work/"
    fi
fi
start_node
url=http://127.0.0.1:$rpc_port
cookie=$work/node/regtest/.cookie

# Fills the node with TXS generated transactions (seed SEED) with `chaingen` from `rel`, writing
# the generator's truth file to "$work/truth.json", or reuses the cached chain. Sets `gen_s`, the
# generator's seconds.
generate_chain() {
    if [[ -f $work/truth.json ]]; then
        echo "bench: reusing the chain cached in $cached_chain" >&2
    else
        echo "bench: generating $TXS transactions (seed $SEED)" >&2
        /usr/bin/time -f "%e" -o "$work/gen-seconds" "$rel/chaingen" --rpc-url "$url" --rpc-cookie "$cookie" \
            --seed "$SEED" --txs "$TXS" --out "$work/truth.json" >"$work/gen.log" 2>&1
        if [[ -n $cached_chain ]]; then
            stop_node
            mkdir -p "$cached_chain"
            rm -rf "$cached_chain/node" && cp -r "$work/node" "$cached_chain/node"
            cp "$work/truth.json" "$work/gen-seconds" "$cached_chain/"
            start_node
        fi
    fi
    gen_s=$(cat "$work/gen-seconds")
}
