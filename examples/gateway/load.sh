#!/usr/bin/env bash
# Load measurement for the hyper gateway example (not a CI test): wrk against
# the gateway with a valid RS256 token, Gate on vs. off (plain proxy), each
# for DURATION seconds, reporting requests/s and p99 latency. Everything runs
# on loopback. Needs wrk (`apt-get install wrk`) and curl.
#
#   bash examples/gateway/load.sh [DURATION=30] [CONNECTIONS=32] [THREADS=2]
#
# On a small machine wrk, the gateway and the echo upstream share the cores,
# so compare the two modes measured in the same run, not absolute numbers.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-30}
CONNECTIONS=${2:-32}
THREADS=${3:-2}
BASE_PORT=${BASE_PORT:-18480}

command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
cargo build --quiet --release --example hyper_gateway
BIN=target/release/examples/hyper_gateway

measure() {
    local gate=$1 port=$2 log pid token
    log=$(mktemp)
    "$BIN" --gate "$gate" --listen "127.0.0.1:$port" \
        --echo-listen "127.0.0.1:$((port + 1))" --issuer-listen "127.0.0.1:$((port + 2))" \
        --token-lifetime 3600 >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 50); do grep -q '^READER=' "$log" && break; sleep 0.1; done
    token=$(sed -n 's/^READER=//p' "$log")
    [ -n "$token" ] || { cat "$log" >&2; kill "$pid"; return 1; }
    # Warm up: the first request makes the gateway fetch discovery + JWKS.
    curl -sf -o /dev/null -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/items"
    local out
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
        -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/items")
    kill "$pid"; wait "$pid" 2>/dev/null || true; rm -f "$log"
    echo "$out" >&2
    local rps p99 non2xx
    rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    printf '%-4s %10s req/s   p99 %8s   non-2xx %s\n' "$gate" "$rps" "$p99" "${non2xx:-0}"
    echo "$rps" >"/tmp/edge-auth-load-$gate"
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime; }
echo "wrk ${DURATION}s, ${CONNECTIONS} connections, ${THREADS} threads, GET /api/items with an RS256 reader token"
echo "load average before: $(loadavg)"
off=$(measure off "$BASE_PORT")
echo "load average after gate off: $(loadavg)"
on=$(measure on "$((BASE_PORT + 10))")
echo "load average after gate on: $(loadavg)"
echo "$off"
echo "$on"
awk -v on="$(cat /tmp/edge-auth-load-on)" -v off="$(cat /tmp/edge-auth-load-off)" \
    'BEGIN { if (off > 0) printf "gate on / gate off throughput: %.2f\n", on / off }'
rm -f /tmp/edge-auth-load-on /tmp/edge-auth-load-off
