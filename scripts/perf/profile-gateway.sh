#!/usr/bin/env bash
# Where a local-gateway request's time goes (BENCHMARKS.md, "Gateway throughput"):
# eventzr-local built with the `profiling` profile (release code with symbols, no LTO),
# loaded by wrk on loopback as bench.sh loads it, and sampled by `perf record` in the
# middle of the run. Prints the split between the kernel, our binary and libc, and the
# hottest symbols by self time; the whole report goes to target/perf/gateway-profile.txt.
# Hotspots, not figures for BENCHMARKS.md's tables: those come from the release build.
#
# Usage: scripts/perf/profile-gateway.sh [--duration S] [--top N] [PATH]
#   PATH          the request (default /auth/v1/profile, with a bearer token from
#                 POST /auth/v1/login; any path not ending in /health gets the token)
#   --duration S  seconds of load (default 12; perf samples all but the first and last 2)
#   --top N       symbols printed (default 40)
# Needs: perf (Debian's linux-perf) and wrk on PATH, and perf_event_paranoid <= 1 (or root).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
log() { printf '[profile-gateway] %s\n' "$*" >&2; }
# shellcheck source=lib.sh
source "$ROOT/scripts/perf/lib.sh"

DURATION=12 TOP=40 path=/auth/v1/profile
while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION="$2"; shift ;;
    --top) TOP="$2"; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    /*) path="$1" ;;
    *) log "unknown argument: $1 (try --help)"; exit 2 ;;
  esac
  shift
done
((DURATION >= 6)) || { log "--duration must be at least 6"; exit 2; }
for tool in perf wrk; do
  command -v "$tool" >/dev/null 2>&1 || { log "needs $tool on PATH (apt-get install linux-perf wrk)"; exit 2; }
done

OUT="$ROOT/target/perf"
mkdir -p "$OUT"
log "cargo build --profile profiling -p eventzr-local --bin eventzr-local"
cargo build --profile profiling -p eventzr-local --bin eventzr-local

port="$(free_port)"
base="http://127.0.0.1:$port"
# The access log goes to a file, as in bench.sh: writing it is part of the cost.
target/profiling/eventzr-local --port "$port" >"$OUT/gateway-profile.log" 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true' EXIT
wait_http "$base/auth/v1/health" "$SERVER_PID" || { log "eventzr-local did not come up"; exit 2; }
header=()
[[ $path == */health ]] || header=(-H "Authorization: Bearer $(login_token "$base")")

log "wrk -t2 -c32 -d${DURATION}s $path; perf record for $((DURATION - 4)) s of it"
wrk -t2 -c32 -d"${DURATION}s" "${header[@]}" "$base$path" >"$OUT/gateway-profile.wrk" &
wrk_pid=$!
sleep 2
perf record -q -F 2000 -p "$SERVER_PID" -o "$OUT/gateway-perf.data" -- sleep $((DURATION - 4)) 2>/dev/null
wait "$wrk_pid"
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
rm -f "$OUT/gateway-profile.log"   # one line per request: large, and not what is asked

report() { perf report -i "$OUT/gateway-perf.data" --no-children --stdio "$@" 2>/dev/null | grep -E '^ +[0-9]'; }
{
  echo "# $path under wrk -t2 -c32 ($(sed -n 's/^Requests\/sec: *//p' "$OUT/gateway-profile.wrk") req/s, profiling build)"
  echo
  echo "## by binary"
  report --sort dso
  echo
  echo "## by symbol (self time)"
  report --sort dso,symbol
} | sed -E -e 's/ {3,}/  /g' -e 's/( +-){2} *$//' >"$OUT/gateway-profile.txt"
sed -n "1,/^## by symbol/p" "$OUT/gateway-profile.txt"
sed -n '/^## by symbol/,$p' "$OUT/gateway-profile.txt" | sed -n "2,$((TOP + 1))p"
log "whole report: $OUT/gateway-profile.txt (perf data: $OUT/gateway-perf.data)"
