#!/usr/bin/env bash
# Instructions per iteration of one side of a bench, stable under load:
# runs BINARY under cachegrind with EDGE_AUTH_COUNT=SIDE at N1 and N2
# iterations and prints (I(N2) - I(N1)) / (N2 - N1), so set-up cancels.
#   benches/icount.sh target/release/deps/policy-HASH plain [N1 N2]
# (benches/limit.rs, benches/policy.rs, benches/httpsig.rs and benches/peer
# have this mode.)
set -euo pipefail
bin=$1 side=$2 n1=${3:-10000} n2=${4:-110000}
count() {
  local out
  out=$(mktemp)
  EDGE_AUTH_COUNT=$side EDGE_AUTH_COUNT_N=$1 valgrind --tool=cachegrind \
    --cache-sim=no --cachegrind-out-file=/dev/null "$bin" 2>"$out" >/dev/null
  # the largest count: a forked helper (criterion's) reports its own
  grep -E 'I[[:space:]]+refs' "$out" | tr -d ',' | awk '{print $NF}' | sort -n | tail -1
  rm -f "$out"
}
a=$(count "$n1") b=$(count "$n2")
echo "$side: $(( (b - a) / (n2 - n1) )) instructions per iteration"
