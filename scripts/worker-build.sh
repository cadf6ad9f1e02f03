#!/usr/bin/env bash
# Builds a Cloudflare Worker crate for size: `worker-build --profile worker`
# (the root Cargo.toml's `[profile.worker]`) with Rust's std rebuilt for the
# Worker and the size-only compiler settings below. Output in CRATE_DIR/build/
# as with a plain `worker-build`. docs/adr/0011-worker-size.md has the
# measurements behind every setting.
#
# Usage: bash scripts/worker-build.sh [CRATE_DIR] [worker-build args...]
#          (CRATE_DIR defaults to the current directory)
#        bash scripts/worker-build.sh --check
#          install nothing; exit 0 when the toolchain is there, else say what
#          is missing on stderr and exit 1
#
# The compiler: Debian's rustc-web with its std source, as
# scripts/wasm-toolchain.sh installs it (`EDGE_AUTH_WASM_RUST=debian`; std
# is rebuilt with cargo's build-std, RUSTC_BOOTSTRAP=1). A rustup nightly
# with the rust-src component should work too (not exercised by the tests):
#   EDGE_AUTH_WASM_RUST=rustup RUSTUP_TOOLCHAIN=nightly bash scripts/worker-build.sh
#
# On top of the profile (opt-level "z", fat LTO, one codegen unit, strip):
# - std, core and alloc built with the Worker's profile, LTO'd with it, with
#   std's `optimize_for_size` feature;
# - `panic = "immediate-abort"`: a panic traps at once (no message, no
#   unwinding machinery linked); edge-auth does not panic on any input, and
#   with `panic = "abort"` a panic ended the request the same way;
# - `-Zlocation-detail=none`: panics carry no file/line/column strings;
# - `-Zfmt-debug=shallow`: a derived `Debug` prints the type or variant name
#   only (`Some(..)` fields dropped); hand-written `Debug` (strings, numbers,
#   the redacting impls) and every `Display` are unchanged. (`none`, which
#   also empties `{:?}` of strings, is not used: serde's error texts print
#   the offending value with it.)
#
# wasm-opt runs once, here, not in worker-build (which is given `--no-opt`):
# worker-build always adds `--debuginfo`, keeping ~10 KB raw of function
# names, and rewriting its output a second time without them cost ~160 B
# gzip more than one run that drops them. The arguments are the crate's
# `[package.metadata.wasm-pack.profile.custom] wasm-opt` list (as
# worker-build would use them; `-O` when absent, none when `false`), then
# worker-build's `--enable-*` feature set, then `--strip-debug`, or
# `--debuginfo` when names are wanted (`CARGO_PROFILE_WORKER_STRIP=false`).
# `--no-opt` runs no wasm-opt at all. docs/adr/0011-worker-size.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
toolchain="$root/scripts/wasm-toolchain.sh"
export EDGE_AUTH_WASM_RUST=${EDGE_AUTH_WASM_RUST:-debian}

if [ "${1:-}" = --check ]; then
  exec bash "$toolchain" --check
fi
dir=${1:-.}
if [ $# -gt 0 ]; then shift; fi

eval "$(bash "$toolchain")"
if [ "$EDGE_AUTH_WASM_RUST" = rustup ]; then
  # rustup's toolchain must take -Z flags and have std's source.
  if ! rustc -V | grep -q nightly; then
    echo "worker-build.sh: \`$(rustc -V)\` is not a nightly: use Debian's rustc (the default) or RUSTUP_TOOLCHAIN=nightly" >&2
    exit 1
  fi
  if ! rustup component list --installed | grep -q '^rust-src'; then
    echo "worker-build.sh: rustup component add rust-src (toolchain $(rustc -V))" >&2
    rustup component add rust-src >&2
  fi
  export CARGO_UNSTABLE_BUILD_STD=std,panic_abort
fi
export CARGO_UNSTABLE_BUILD_STD_FEATURES=optimize_for_size
export CARGO_UNSTABLE_PANIC_IMMEDIATE_ABORT=true CARGO_PROFILE_WORKER_PANIC=immediate-abort
export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-Zlocation-detail=none -Zfmt-debug=shallow"
cd "$dir"
out=build
opt=1
prev=
for arg in "$@"; do
  case "$prev" in -d|--out-dir) out=$arg ;; esac
  case "$arg" in
    --out-dir=*) out=${arg#--out-dir=} ;;
    --no-opt|--no-optimization) opt=0 ;;
  esac
  prev=$arg
done
if [ "$opt" = 1 ]; then
  worker-build --profile worker --no-opt "$@"
else
  worker-build --profile worker "$@"
  exit 0
fi
# The crate's wasm-opt arguments, one per line ("" when wasm-opt is off),
# read with Python's tomllib (3.11+, Debian 12's python3).
if ! python3 -c 'import tomllib' 2>/dev/null; then
  echo "worker-build.sh: python3 3.11 or later is needed to read the crate's wasm-opt arguments" >&2
  exit 1
fi
args=$(python3 - <<'PY'
import sys, tomllib
with open("Cargo.toml", "rb") as f:
    meta = tomllib.load(f).get("package", {}).get("metadata", {})
opt = meta.get("wasm-pack", {}).get("profile", {}).get("custom", {}).get("wasm-opt", True)
if opt is True:
    opt = ["-O"]
elif opt is False:
    opt = []
elif not (isinstance(opt, list) and all(isinstance(a, str) for a in opt)):
    sys.exit("worker-build.sh: wasm-opt in [package.metadata.wasm-pack.profile.custom] must be true, false or a list of strings")
print("\n".join(opt))
PY
)
[ -n "$args" ] || exit 0
mapfile -t wasm_opt_args <<< "$args"
debug=--strip-debug
if [ "${CARGO_PROFILE_WORKER_STRIP:-true}" = false ]; then debug=--debuginfo; fi
for wasm in "$out"/*.wasm; do
  [ -f "$wasm" ] || continue
  "$WASM_OPT_BIN" "$wasm" -o "$wasm.opt" "${wasm_opt_args[@]}" \
    --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
    --enable-bulk-memory --enable-multivalue --enable-reference-types \
    --enable-exception-handling "$debug"
  mv "$wasm.opt" "$wasm"
done
