#!/usr/bin/env bash
# Provides `bitcoind` and `bitcoin-cli` for the tests, the demo and the benchmarks.
#
# Bitcoin Core's full source is vendored by the crates.io package libbitcoinkernel-sys; this script
# fetches exactly that version through cargo, builds the daemon and the CLI with CMake, and caches
# the two binaries outside the repository, keyed by the crate version. A second run takes seconds.
#
# Prints the directory holding the binaries as its last line of standard output.
# Honours BITCOIND / BITCOIN_CLI (use these binaries, build nothing) and CHAINTRAIL_CACHE.
set -euo pipefail

CRATE=libbitcoinkernel-sys
VERSION=0.4.1
CACHE_ROOT=${CHAINTRAIL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/chaintrail}
OUT=$CACHE_ROOT/bitcoin-core-$CRATE-$VERSION
JOBS=${JOBS:-$(nproc)}

step() { echo "build-bitcoind: $*" >&2; }
fail() { echo "build-bitcoind: FAILED at step '$1'${2:+: $2}" >&2; exit 1; }

if [[ -n ${BITCOIND:-} || -n ${BITCOIN_CLI:-} ]]; then
    [[ -x ${BITCOIND:-} ]] || fail "check BITCOIND" "BITCOIND='${BITCOIND:-}' is not an executable file"
    [[ -x ${BITCOIN_CLI:-} ]] || fail "check BITCOIN_CLI" "BITCOIN_CLI='${BITCOIN_CLI:-}' is not an executable file"
    dirname "$BITCOIND"
    exit 0
fi

if [[ -x $OUT/bin/bitcoind && -x $OUT/bin/bitcoin-cli ]]; then
    step "cached: $OUT/bin"
    echo "$OUT/bin"
    exit 0
fi

need_pkgs=()
command -v cmake >/dev/null || need_pkgs+=(cmake)
command -v pkg-config >/dev/null || need_pkgs+=(pkg-config)
[[ -e /usr/include/boost/version.hpp ]] || need_pkgs+=(libboost-dev)
[[ -e /usr/include/event2/event.h ]] || need_pkgs+=(libevent-dev)
command -v g++ >/dev/null || need_pkgs+=(g++)
if ((${#need_pkgs[@]})); then
    step "installing ${need_pkgs[*]}"
    SUDO=""
    [[ $(id -u) == 0 ]] || SUDO=sudo
    { $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need_pkgs[@]}"; } >&2 \
        || fail "install build packages" "apt-get install ${need_pkgs[*]}"
fi

WORK=$CACHE_ROOT/work-$VERSION
rm -rf "$WORK"
mkdir -p "$WORK/fetch/src"
step "fetching $CRATE =$VERSION through cargo"
cat >"$WORK/fetch/Cargo.toml" <<TOML
[package]
name = "fetch-core-source"
version = "0.0.0"
edition = "2021"
[dependencies]
$CRATE = "=$VERSION"
TOML
echo "" >"$WORK/fetch/src/lib.rs"
(cd "$WORK/fetch" && cargo fetch -q) >&2 || fail "cargo fetch $CRATE=$VERSION"
SRC=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"$CRATE-$VERSION"/bitcoin 2>/dev/null | head -n1)
[[ -n $SRC && -f $SRC/CMakeLists.txt ]] || fail "locate vendored source" "no bitcoin/CMakeLists.txt in $CRATE-$VERSION"

step "configuring $SRC"
cmake -S "$SRC" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_DAEMON=ON -DBUILD_CLI=ON -DENABLE_WALLET=OFF -DWITH_EMBEDDED_ASMAP=OFF \
    -DBUILD_TESTS=OFF -DBUILD_BENCH=OFF -DBUILD_KERNEL_LIB=OFF -DBUILD_TX=OFF -DBUILD_UTIL=OFF \
    -DBUILD_WALLET_TOOL=OFF -DBUILD_FUZZ_BINARY=OFF -DENABLE_IPC=OFF -DWITH_ZMQ=OFF -DBUILD_GUI=OFF \
    >"$WORK/configure.log" 2>&1 || { tail -n 30 "$WORK/configure.log" >&2; fail "cmake configure" "see $WORK/configure.log"; }

step "building bitcoind and bitcoin-cli with $JOBS jobs (several minutes)"
cmake --build "$WORK/build" -j "$JOBS" --target bitcoind bitcoin-cli >"$WORK/build.log" 2>&1 \
    || { tail -n 30 "$WORK/build.log" >&2; fail "cmake build" "see $WORK/build.log"; }

mkdir -p "$OUT/bin.tmp"
cp "$WORK/build/bin/bitcoind" "$WORK/build/bin/bitcoin-cli" "$OUT/bin.tmp/" || fail "copy binaries"
"$OUT/bin.tmp/bitcoind" -version | head -n1 >&2 || fail "run built bitcoind"
rm -rf "$OUT/bin" && mv "$OUT/bin.tmp" "$OUT/bin"
rm -rf "$WORK"
step "built: $OUT/bin"
echo "$OUT/bin"
