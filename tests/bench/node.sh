# Sourced by the benchmark scripts: starts the benchmark's regtest node in "$work/node" (REST,
# -txindex, a 1 GB dbcache) and stops it on exit, then removes "$work" unless KEEP=1. Expects
# `bin` (the node's bin directory) and `work`; runs the caller's `before_cleanup` first if it
# defines one. Sets `rpc_port`, `url` and `cookie`, and defines `port` and `cli`.
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
mkdir -p "$work/node"
"$bin/bitcoind" -regtest -datadir="$work/node" -rpcport="$rpc_port" -listen=0 -server \
    -rest=1 -txindex -printtoconsole=0 -rpcthreads=8 -dbcache=1000 -daemonwait >&2
url=http://127.0.0.1:$rpc_port
cookie=$work/node/regtest/.cookie
