# Sourced by the benchmark scripts: installs what they need (GNU time), builds or reuses the
# regtest node and the workspace's release binaries. Sets `bin` (the node's bin directory) and
# `rel` (the release binaries).
bin=$(bash tests/setup.sh)
command -v /usr/bin/time >/dev/null || { apt-get install -y -q time >&2 || { apt-get update -q >&2 && apt-get install -y -q time >&2; }; }
cargo build --release --locked --workspace --bins >&2
rel=${CARGO_TARGET_DIR:-target}/release
