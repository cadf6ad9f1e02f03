#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a fixed time on nightly; any crash
# or invariant failure fails CI. Prints each target's execution count.
# FUZZ_SECONDS (per target, default 100) and FUZZ_JOBS (parallel targets,
# default 2) bound the total: targets x seconds / jobs.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
# 17 targets x 100 s / 2 jobs = 14.2 min of fuzzing, plus the build: within
# the 15 min CI budget.
seconds=${FUZZ_SECONDS:-100}
jobs=${FUZZ_JOBS:-2}
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo +stable install cargo-fuzz --locked
fi
# No sanitizer: the crate forbids unsafe code, and ASan would halve the
# executions; debug assertions stay on to catch arithmetic overflow.
flags=(--sanitizer none --debug-assertions)
cargo +nightly fuzz build "${flags[@]}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mapfile -t targets < <(cargo +nightly fuzz list)

run_one() {
  local t=$1
  mkdir -p "$work/corpus/$t"
  local seeds=()
  [ -d "seeds/$t" ] && seeds=("seeds/$t")
  if cargo +nightly fuzz run "${flags[@]}" "$t" "$work/corpus/$t" "${seeds[@]}" -- \
      -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$work/$t-" >"$work/$t.log" 2>&1; then
    echo ok >"$work/$t.status"
  else
    echo FAIL >"$work/$t.status"
  fi
}

running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
done
wait

failed=0
printf '\n%-24s %14s %8s\n' target executions status
for t in "${targets[@]}"; do
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$work/$t.log" | tail -1 | grep -o '[0-9]*$' || echo '?')
  status=$(cat "$work/$t.status" 2>/dev/null || echo FAIL)
  printf '%-24s %14s %8s\n' "$t" "$execs" "$status"
  if [ "$status" != ok ]; then
    failed=1
    echo "--- $t log (tail) ---"; tail -40 "$work/$t.log"
    for a in "$work/$t"-crash-* "$work/$t"-leak-* "$work/$t"-timeout-* "$work/$t"-oom-*; do
      [ -f "$a" ] && { echo "artifact $a (base64):"; base64 -w0 "$a"; echo; }
    done
  fi
done
exit $failed
