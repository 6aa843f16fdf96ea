# Sourced by the scripts that time two revisions side by side: checks BASE out in a worktree under
# "$work" and builds it and the working tree (release), each in a target directory of its own —
# Cargo names a workspace's own crates by their path within the workspace, so two checkouts
# sharing one target directory would reuse each other's builds. Expects `work`, `build_args` (what
# `cargo build` builds) and `keep` (the binaries to copy); fills "$work/base" and "$work/head" and
# sets `base_name` and `head_name`.
target=${CARGO_TARGET_DIR:-$PWD/target}
build() { # <source dir> <out dir> <target dir>
    (cd "$1" && CARGO_TARGET_DIR=$3 cargo build --release --locked "${build_args[@]}" >&2)
    mkdir -p "$2"
    for name in "${keep[@]}"; do cp "$3/release/$name" "$2/"; done
}
before_cleanup() { git worktree remove --force "$work/base-src" >/dev/null 2>&1 || true; }
trap before_cleanup EXIT
git worktree add -q --detach "$work/base-src" "$BASE"
base_name=$(git rev-parse --short "$BASE")
head_name="$(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo +changes)"
build "$work/base-src" "$work/base" "$target/bench-base"
build "$PWD" "$work/head" "$target"
