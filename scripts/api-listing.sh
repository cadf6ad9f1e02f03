#!/usr/bin/env bash
# The public API of edge-auth with default features, as `cargo public-api`
# lists it, is committed as api/edge-auth.txt so that API changes show up in
# review. This script fails when that listing is stale (CI runs it).
#
# Usage:
#   bash scripts/api-listing.sh          compare; exit 1 with the diff when stale
#   bash scripts/api-listing.sh --bless  rewrite api/edge-auth.txt
#
# cargo-public-api reads rustdoc's JSON output, which needs a nightly
# toolchain (`rustup toolchain install nightly --profile minimal`); the tool
# itself is installed with `cargo install --locked cargo-public-api` when
# missing. Its version must match the nightly's rustdoc JSON format: set
# CARGO_PUBLIC_API_VERSION to pin another one.
set -euo pipefail
cd "$(dirname "$0")/.."

listing=api/edge-auth.txt
mode=check
case "${1:-}" in
  "") ;;
  --bless) mode=bless ;;
  *) echo "usage: $0 [--bless]" >&2; exit 2 ;;
esac

# The version whose rustdoc JSON format matches the nightly this project is
# checked with (nightly 1.97, 2026-05-19); override with CARGO_PUBLIC_API_VERSION.
CARGO_PUBLIC_API_VERSION=${CARGO_PUBLIC_API_VERSION:-0.52.0}
if ! command -v cargo-public-api >/dev/null; then
  echo "api-listing: installing cargo-public-api" >&2
  cargo install --locked cargo-public-api ${CARGO_PUBLIC_API_VERSION:+--version "$CARGO_PUBLIC_API_VERSION"} >&2
fi
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal >&2
fi

current=$(mktemp)
trap 'rm -f "$current"' EXIT
# --simplified: without blanket and auto-trait impls (they follow from the
# types and would triple the listing).
cargo public-api --package edge-auth --simplified > "$current"

if [ "$mode" = bless ]; then
  cp "$current" "$listing"
  echo "api-listing: wrote $listing ($(wc -l < "$listing") lines)" >&2
  exit 0
fi
if ! diff -u "$listing" "$current"; then
  echo "api-listing: $listing is stale: the public API changed. Review the diff above," >&2
  echo "then run \`bash scripts/api-listing.sh --bless\` and commit the listing." >&2
  exit 1
fi
echo "api-listing: $listing is current ($(wc -l < "$listing") lines)"
