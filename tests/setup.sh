#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build and test chaintrail, then builds (or reuses)
# the regtest node. Prints the node's bin directory as its last line of standard output.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v clang >/dev/null || missing+=(clang)
ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || missing+=(libclang-dev)
command -v cmake >/dev/null || missing+=(cmake)
command -v pkg-config >/dev/null || missing+=(pkg-config)
[[ -e /usr/include/boost/version.hpp ]] || missing+=(libboost-dev)
[[ -e /usr/include/event2/event.h ]] || missing+=(libevent-dev)
command -v python3 >/dev/null || missing+=(python3)
# Graphviz renders `query --format dot` in the end-to-end tests.
command -v dot >/dev/null || missing+=(graphviz)
# Chromium opens `query report`'s page headless in the end-to-end tests.
command -v chromium >/dev/null || missing+=(chromium)
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    SUDO=""
    [[ $(id -u) == 0 ]] || SUDO=sudo
    { $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"; } >&2
fi
command -v cargo >/dev/null || { echo "setup: cargo is not installed (https://rustup.rs)" >&2; exit 1; }

bash tests/node/build-bitcoind.sh | tail -n 1
