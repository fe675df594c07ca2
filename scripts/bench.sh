#!/usr/bin/env bash
# Whole-process benchmarks; writes the generated part of BENCHMARKS.md (between the
# `bench.sh:begin`/`bench.sh:end` markers) and prints each budget as PASS/FAIL.
#
#   cold start   every template.yaml function binary: process spawn -> first event
#                answered through scripts/perf/runtime_api.py on loopback (a private
#                moto as AWS), median of --runs; hello-lambda (perf/) is the floor, and
#                the ratio to it on the single-threaded runtime is reported beside it.
#                Budget: median <= 1.5x the floor for a first event that, like the
#                floor's, calls no AWS API (a path no route serves: 404 through the
#                whole pipeline); GET /<svc>/v1/health (init + the first DescribeTable)
#                is reported beside it.
#   throughput   eventzr-local (release, memory store) on loopback under wrk: GET
#                /auth/v1/health and GET /auth/v1/profile with a bearer token from
#                POST /auth/v1/login; hello-axum (perf/) is the floor, and hello-axum
#                --access-log (the floor plus the access-log line every request must
#                write) beside it. Budget: profile >= 70% of hello-axum. Then
#                scripts/perf/headroom.py (wrk only): the same with the server and
#                wrk each on a core of its own, and the per-request CPU the budget
#                leaves a handler (hello-axum --busy-ns N).
#   size, RSS    each release bootstrap's size; each template function's peak RSS
#                (VmHWM) after serving all of its events/ files, before it is stopped.
#   in-process   `cargo bench -p shared --bench pipeline`, `cargo bench -p auth-svc
#                --bench auth`, `cargo test -p auth-svc --test api requests` and
#                `cargo test -p notify-svc --test api requests` (with the emulator),
#                whose fragments target/bench/{inprocess-shared,inprocess-auth,
#                dynamo-requests,dynamo-requests-notify}.md are pasted in when present.
#                Budgets, from their JSON: JWT-verified GET p50 < 50 us over bare axum;
#                argon2id >= 50% of login's p50; login refused for an unknown email
#                and for a wrong password within 1.1x of each other at p50 (no user
#                enumeration by timing); an authenticated read <= 1 DynamoDB
#                request plus auth's live-session check; Idempotency-Key <= +3 requests.
#                A command that fails is a FAIL line of its own, and leaves no
#                fragment (an earlier run's are removed before they run).
#
# Usage: scripts/bench.sh [--runs N] [--duration S] [--threads T] [--connections C]
#                         [--no-build] [--skip-inprocess] [--strict]
#   --runs N          cold starts per binary (default 31)
#   --duration S      seconds per wrk run (default 10); --threads 2, --connections 32
#   --no-build        reuse target/lambda/*/bootstrap and target/release binaries
#   --skip-inprocess  do not run the four in-process commands (still pastes fragments
#                     that exist from an earlier run)
#   --strict          exit 1 when a budget fails (default: report only)
# Needs: Rust, Python 3 with pip, and wrk (`apt-get install wrk`) or oha on PATH.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf '[bench] %s\n' "$*" >&2; }
# shellcheck source=perf/lib.sh
source "$ROOT/scripts/perf/lib.sh"

RUNS=31 DURATION=10 THREADS=2 CONNECTIONS=32
build=true inprocess=true strict=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) RUNS="$2"; shift ;;
    --duration) DURATION="$2"; shift ;;
    --threads) THREADS="$2"; shift ;;
    --connections) CONNECTIONS="$2"; shift ;;
    --no-build) build=false ;;
    --skip-inprocess) inprocess=false ;;
    --strict) strict=true ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) log "unknown argument: $1 (try --help)"; exit 2 ;;
  esac
  shift
done

if command -v wrk >/dev/null 2>&1; then LOADGEN=wrk
elif command -v oha >/dev/null 2>&1; then LOADGEN=oha
else log "needs wrk (apt-get install wrk) or oha on PATH"; exit 2; fi

OUT="$ROOT/target/bench"
mkdir -p "$OUT"
RESULTS="$OUT/whole-process.json"   # everything measured, for the report step
echo '{}' >"$RESULTS"
SERVER_PID="" CHILD_PID=""
cleanup() {
  local pid
  for pid in $CHILD_PID $SERVER_PID; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  moto_stop
  # A run stopped under load leaves a whole access log: keep its start (why a server
  # did not come up, say), not the whole.
  keep_head "$OUT/eventzr-local.log"
  keep_head "$OUT/hello-axum-logged.log"
}
# keep_head FILE: an access log is a line per request (~150 MB after a wrk run): keep its
# first lines, as a sample, in FILE's .head.log beside it.
keep_head() {
  [[ -f $1 ]] || return 0
  head -n 50 "$1" >"${1%.log}.head.log" || true
  rm -f "$1"
}
# Long commands (wrk, cargo bench) run in the background and are waited for: bash
# runs a trap only once the foreground command ends, so a TERM would otherwise wait
# minutes; cleanup stops CHILD_PID.
waited() {
  local status=0
  "$@" &
  CHILD_PID=$!
  wait "$CHILD_PID" || status=$?
  CHILD_PID=""
  return "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# record KEY JSON: merge one measurement into $RESULTS.
record() {
  python3 - "$RESULTS" "$1" "$2" <<'EOF'
import json, sys
path, key, value = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
data = json.load(open(path))
data[key] = value
json.dump(data, open(path, "w"), indent=2)
EOF
}

t_all="$(now)"
# Other work on the machine skews every figure: keep the load average with them.
record loadavg "\"$(cut -d' ' -f1-3 /proc/loadavg)\""
# The run's date, so re-rendering the report later does not re-date the figures.
record started "\"$(date -u '+%Y-%m-%d %H:%M UTC')\""

# --- build ---------------------------------------------------------------------------
if $build; then
  ensure_cargo_lambda
  t="$(now)"
  lambda_build
  log "cargo build --release -p eventzr-local -p perf --bin eventzr-local --bin hello-axum"
  cargo build --release -p eventzr-local -p perf --bin eventzr-local --bin hello-axum
  log "build: $(since "$t")s"
fi
lambda_bins
for b in "${LAMBDA_BINS[@]}"; do
  [[ -x "target/lambda/$b/bootstrap" ]] || { log "target/lambda/$b/bootstrap missing: run without --no-build"; exit 2; }
done
for b in eventzr-local hello-axum; do
  [[ -x "target/release/$b" ]] || { log "target/release/$b missing: run without --no-build"; exit 2; }
done

# --- emulator ------------------------------------------------------------------------
moto_start "$OUT/moto.log"
PLAN="$OUT/plan.json"
lambda_plan >"$PLAN"
aws_prepare "$PLAN" >&2

# --- cold start ----------------------------------------------------------------------
# One binary per service: its health function's environment and health event. The
# floor answers the same event. Interleaved by round, so a burst of load elsewhere on
# the machine lands on every binary rather than on one.
mapfile -t HEALTH_FNS < <(plan_get "$PLAN" '[f["name"] for f in p["functions"] if f["env"].get("ROUTE_GROUP") == "health"]')
declare -A FN_BIN FN_EVENT
for fn in "${HEALTH_FNS[@]}"; do
  FN_BIN[$fn]="$(plan_get "$PLAN" "next(f['binary'] for f in p['functions'] if f['name'] == '$fn')")"
  # The health event by name: events[0] is whichever file sorts first (get-docs-script.json
  # for most services, a 3 MB answer), which is what this row timed until 2026-12-02.
  FN_EVENT[$fn]="$(plan_get "$PLAN" "next(e for f in p['functions'] if f['name'] == '$fn' for e in f['events'] if e.endswith('/get-health.json'))")"
done
floor_event="${FN_EVENT[${HEALTH_FNS[0]}]}"
# The same event on a path no route serves: it separates init from the first round trip.
mkdir -p "$OUT/events"
for fn in "${HEALTH_FNS[@]}"; do
  noaws_event "${FN_EVENT[$fn]}" "$OUT/events/${FN_BIN[$fn]}-404.json"
done
log "cold start: ${#HEALTH_FNS[@]} service binaries + hello-lambda (both runtimes), $RUNS runs each"
rm -f "$OUT"/coldstart-*.jsonl
for ((round = 1; round <= RUNS; round++)); do
  warm target/lambda/hello-lambda/bootstrap
  python3 "$PERF/runtime_api.py" coldstart --runs 1 --name hello-lambda "$floor_event" \
    -- target/lambda/hello-lambda/bootstrap >>"$OUT/coldstart-hello-lambda.jsonl" || true
  # The same floor on the single-threaded runtime our functions use: reported, not judged.
  python3 "$PERF/runtime_api.py" coldstart --runs 1 --name hello-lambda \
    --env HELLO_RUNTIME=current_thread "$floor_event" \
    -- target/lambda/hello-lambda/bootstrap >>"$OUT/coldstart-hello-lambda-ct.jsonl" || true
  for fn in "${HEALTH_FNS[@]}"; do
    mapfile -t env_args < <(function_env_args "$PLAN" "$fn")
    warm "target/lambda/${FN_BIN[$fn]}/bootstrap"
    python3 "$PERF/runtime_api.py" coldstart --runs 1 --name "$fn" "${env_args[@]}" \
      "${FN_EVENT[$fn]}" -- "target/lambda/${FN_BIN[$fn]}/bootstrap" >>"$OUT/coldstart-${FN_BIN[$fn]}.jsonl" || true
    warm "target/lambda/${FN_BIN[$fn]}/bootstrap"
    python3 "$PERF/runtime_api.py" coldstart --runs 1 --name "$fn" "${env_args[@]}" \
      "$OUT/events/${FN_BIN[$fn]}-404.json" -- "target/lambda/${FN_BIN[$fn]}/bootstrap" \
      >>"$OUT/coldstart-${FN_BIN[$fn]}-noaws.jsonl" || true
  done
done

# --- size and peak RSS -----------------------------------------------------------------
log "peak RSS: every function serving its events"
mapfile -t ALL_FNS < <(plan_get "$PLAN" '[f["name"] for f in p["functions"] if f["events"]]')
rm -f "$OUT"/rss-*.json
for fn in "${ALL_FNS[@]}"; do
  binary="$(plan_get "$PLAN" "next(f['binary'] for f in p['functions'] if f['name'] == '$fn')")"
  mapfile -t events < <(plan_get "$PLAN" "next(f['events'] for f in p['functions'] if f['name'] == '$fn')")
  mapfile -t env_args < <(function_env_args "$PLAN" "$fn")
  python3 "$PERF/runtime_api.py" run --name "$fn" --json "$OUT/rss-$fn.json" "${env_args[@]}" \
    "${events[@]}" -- "target/lambda/$binary/bootstrap" >/dev/null || true
done
python3 "$PERF/runtime_api.py" run --name hello-lambda --json "$OUT/rss-hello-lambda.json" \
  "$floor_event" -- target/lambda/hello-lambda/bootstrap >/dev/null || true
sizes="{"
for b in "${LAMBDA_BINS[@]}"; do
  [[ "$b" == auth-admin ]] && continue
  sizes+="\"$b\": $(stat -c %s "target/lambda/$b/bootstrap"),"
done
sizes+="\"eventzr-local\": $(stat -c %s target/release/eventzr-local), \"hello-axum\": $(stat -c %s target/release/hello-axum)}"
record sizes "$sizes"

# --- throughput ----------------------------------------------------------------------
# load NAME URL [HEADER]: one wrk (or oha) run; its parsed figures into $RESULTS.
load() {
  local name="$1" url="$2" header="${3:-}" raw="$OUT/load-$1.txt"
  log "$LOADGEN ${THREADS} threads, ${CONNECTIONS} connections, ${DURATION}s: $name"
  if [[ $LOADGEN == wrk ]]; then
    waited wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency ${header:+-H "$header"} "$url" >"$raw"
  else
    waited oha --no-tui -z "${DURATION}s" -c "$CONNECTIONS" --output-format json ${header:+-H "$header"} "$url" >"$raw"
  fi
  record "load_$name" "$(python3 - "$LOADGEN" "$raw" <<'EOF'
import json, re, sys
tool, text = sys.argv[1], open(sys.argv[2]).read()
def ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
if tool == "wrk":
    rps = float(re.search(r"Requests/sec:\s*([\d.]+)", text).group(1))
    p = {k: ms(v, u) for k, v, u in re.findall(r"^\s*(50|90|99)%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)}
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    errors = re.search(r"Socket errors:(.*)", text)
    total = int(re.search(r"(\d+) requests in", text).group(1))
    out = {"rps": rps, "p50_ms": p.get("50"), "p90_ms": p.get("90"), "p99_ms": p.get("99"),
           "requests": total, "non_2xx": int(non2xx.group(1)) if non2xx else 0,
           "socket_errors": errors.group(1).strip() if errors else None}
else:
    d = json.loads(text)
    codes = d.get("statusCodeDistribution", {})
    out = {"rps": d["summary"]["requestsPerSec"],
           "p50_ms": d["latencyPercentiles"]["p50"] * 1000,
           "p90_ms": d["latencyPercentiles"]["p90"] * 1000,
           "p99_ms": d["latencyPercentiles"]["p99"] * 1000,
           "requests": sum(codes.values()),
           "non_2xx": sum(v for k, v in codes.items() if not k.startswith("2")),
           "socket_errors": None}
print(json.dumps(out))
EOF
)"
}

vmhwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status"; }

port="$(free_port)"
log "eventzr-local --port $port (memory store; access log to a file, then only its head kept)"
target/release/eventzr-local --port "$port" >"$OUT/eventzr-local.log" 2>&1 &
SERVER_PID=$!
wait_http "http://127.0.0.1:$port/auth/v1/health" "$SERVER_PID" || { log "eventzr-local did not come up"; exit 2; }
token="$(login_token "http://127.0.0.1:$port")"
load health "http://127.0.0.1:$port/auth/v1/health"
load profile "http://127.0.0.1:$port/auth/v1/profile" "Authorization: Bearer $token"
record rss_eventzr_local "$(vmhwm "$SERVER_PID")"
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
keep_head "$OUT/eventzr-local.log"

port="$(free_port)"
target/release/hello-axum "$port" >/dev/null 2>&1 &
SERVER_PID=$!
wait_http "http://127.0.0.1:$port/" "$SERVER_PID" || { log "hello-axum did not come up"; exit 2; }
load hello_axum "http://127.0.0.1:$port/auth/v1/health"
record rss_hello_axum "$(vmhwm "$SERVER_PID")"
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""

# The same floor plus only the access-log line ARCHITECTURE.md requires of every request.
port="$(free_port)"
target/release/hello-axum "$port" --access-log >"$OUT/hello-axum-logged.log" 2>&1 &
SERVER_PID=$!
wait_http "http://127.0.0.1:$port/" "$SERVER_PID" || { log "hello-axum --access-log did not come up"; exit 2; }
load hello_axum_logged "http://127.0.0.1:$port/auth/v1/health"
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
keep_head "$OUT/hello-axum-logged.log"

# What the throughput budget leaves for per-request work, with the server and the load
# generator each on a core of its own (scripts/perf/headroom.py).
rm -f "$OUT/headroom.md" "$OUT/headroom.json"
if [[ $LOADGEN == wrk ]]; then
  log "scripts/perf/headroom.py --rounds 5 --duration 5 (the server and wrk on a CPU each)"
  waited python3 "$PERF/headroom.py" --rounds 5 --duration 5 \
    --out "$OUT/headroom.md" --json "$OUT/headroom.json" >/dev/null \
    || log "  headroom.py failed (its message is above); the report goes on without it"
else
  log "headroom.py needs wrk: skipped"
fi

# --- in-process ----------------------------------------------------------------------
INPROC_CMDS=(
  "cargo bench -p shared --bench pipeline"
  "cargo bench -p auth-svc --bench auth"
  "cargo test -p auth-svc --test api requests"
  "cargo test -p notify-svc --test api requests"
)
if $inprocess; then
  # Their fragments from an earlier run go first: a command that fails now must leave
  # no figures behind to be reported as this run's.
  rm -f "$OUT"/{inprocess-shared,inprocess-auth,dynamo-requests,dynamo-requests-notify}.{md,json}
  failed=()
  for c in "${INPROC_CMDS[@]}"; do
    log "$c"
    # With the emulator's AWS_* exports, so DynamoDB-wire measurements run too.
    status=0 out_log="$(echo "$c" | tr ' ' '_').log"
    # shellcheck disable=SC2086 # the command's words
    waited $c >"$OUT/$out_log" 2>&1 || status=$?
    if ((status != 0)); then
      log "  failed, exit $status (see target/bench/$out_log)"
      failed+=("$(python3 -c 'import json, sys; print(json.dumps({"command": sys.argv[1], "exit": int(sys.argv[2]), "log": sys.argv[3]}))' \
        "$c" "$status" "target/bench/$out_log")")
    fi
  done
  # The report prints a FAIL line for each: a bench that stops is a failed budget check.
  record inprocess_failed "[$(IFS=,; echo "${failed[*]}")]"
fi
moto_stop

# --- report --------------------------------------------------------------------------
total_secs="$(since "$t_all")"
python3 "$PERF/bench_report.py" "$ROOT" "$RESULTS" \
  --runs "$RUNS" --duration "$DURATION" --threads "$THREADS" --connections "$CONNECTIONS" \
  --loadgen "$LOADGEN" --total-secs "$total_secs" --inprocess "$inprocess" >"$OUT/verdict.txt"
cat "$OUT/verdict.txt"
log "BENCHMARKS.md updated; total ${total_secs}s"
if $strict && grep -q '^FAIL' "$OUT/verdict.txt"; then exit 1; fi
