#!/usr/bin/env bash
# Lambda runtime check (ARCHITECTURE.md, testing layer 6): the release bootstraps, built
# as a deploy builds them, answer every events/<svc>/*.json through the real Lambda
# runtime path (lambda_runtime polling a Runtime API, lambda_http, the service router)
# with the status (and error code) of its `<name>.expect.json`.
#
#   1. cargo-lambda from scripts/requirements-lambda.txt into .venv-sam/ (as sam-check.sh)
#   2. cargo lambda build --release --x86-64 of every template.yaml `Binary` (+ auth-admin)
#   3. a private moto server (.venv/ from scripts/emulator.sh setup) holding what the
#      stack would: the tables, the cursor secret, the SES sender identity
#      (scripts/perf/aws_setup.py) and the JWT key sets (`auth-admin keys init`), and
#      enforcing IAM: each function calls it as a user of its own, allowed the actions of
#      its template policy and no others (scripts/perf/iam_setup.py; moto matches
#      actions, not resources), so a call the template does not grant answers
#      AccessDenied here as in AWS
#   4. for each template function (auth: one per route group, same binary, its own
#      ROUTE_GROUP and environment), its bootstrap under scripts/perf/runtime_api.py, a
#      small Lambda Runtime API on loopback, fed the events API Gateway would route to
#      that function (by routeKey), in file order; one PASS/FAIL line per event.
#
# Our own Runtime API rather than `cargo lambda watch`: watch builds and runs the crate
# itself (`cargo run`), one function at a time, with its own environment; this runs the
# very bootstrap files a deploy ships, each with its template environment, several
# functions per binary.
#
# The function environment, the event-to-function routing, the tables and the secret
# names are all read from template.yaml (scripts/perf/lambda_plan.py), stage `dev`, with
# one parameter changed: LinkBaseUrl=http://127.0.0.1:3000, the link base of the local
# gateway and of the replay test, which events/ are written against (the magic-link
# event's redirectUri lies under it; under the template's default front end,
# https://app.eventzr.com, that event answers 400 ERR_AUTH_VALIDATION instead of 202).
#
# Usage: scripts/lambda-check.sh [--no-build | --debug] [--param NAME=VALUE]...
#   --no-build          use the bootstraps already in target/lambda/ (after a previous run)
#   --debug             debug builds of the same binaries (`cargo build`, as the tests
#                       leave them) in place of the release bootstraps: the same runtime
#                       path, events and IAM check in a fraction of the build time (CI)
#   --param NAME=VALUE  a template parameter other than its default, as `sam local invoke
#                       --parameter-overrides` (e.g. LinkBaseUrl=https://app.eventzr.com
#                       to run with the template's own default)
# Exit status: 0 all events as expected, 1 any mismatch, 2 setup failure.
# Output kept in target/lambda-check/: each function's log and results JSON, moto's log.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf '[lambda-check] %s\n' "$*" >&2; }
# shellcheck source=perf/lib.sh
source "$ROOT/scripts/perf/lib.sh"

build=true
debug=false
PARAM_OVERRIDES=(LinkBaseUrl=http://127.0.0.1:3000)
while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-build) build=false ;;
    --debug) debug=true ;;
    --param) [[ "${2:-}" == *=* ]] || { log "--param wants NAME=VALUE"; exit 2; }
      PARAM_OVERRIDES+=("$2"); shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) log "unknown argument: $1 (try --help)"; exit 2 ;;
  esac
  shift
done

OUT="$ROOT/target/lambda-check"
mkdir -p "$OUT"
RUNNER_PID=""
# Per run, so two checks in one checkout cannot read each other's half-written plan.
PLAN="$(mktemp "${TMPDIR:-/tmp}/lambda-check-plan.XXXXXX")"
cleanup() {
  # runtime_api.py stops its bootstrap on SIGTERM; then moto goes.
  if [[ -n "$RUNNER_PID" ]] && kill -0 "$RUNNER_PID" 2>/dev/null; then
    kill -TERM "$RUNNER_PID" 2>/dev/null || true
    wait "$RUNNER_PID" 2>/dev/null || true
  fi
  moto_stop
  rm -f "$PLAN"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

t_all="$(now)"
build_secs="skipped (--no-build)"
lambda_bins
if $debug; then
  # hello-lambda is the benchmarks' floor: no function runs it.
  mapfile -t LAMBDA_BINS < <(printf '%s\n' "${LAMBDA_BINS[@]}" | grep -vx hello-lambda)
  bin_args=()
  for b in "${LAMBDA_BINS[@]}"; do bin_args+=(--bin "$b"); done
  t="$(now)"
  cargo build "${bin_args[@]}"
  build_secs="$(since "$t")s (debug)"
  bootstrap() { echo "target/debug/$1"; }
elif $build; then
  ensure_cargo_lambda
  t="$(now)"
  lambda_build
  build_secs="$(since "$t")s"
  bootstrap() { echo "target/lambda/$1/bootstrap"; }
else
  bootstrap() { echo "target/lambda/$1/bootstrap"; }
fi
log "build: ${build_secs}"
for b in "${LAMBDA_BINS[@]}"; do
  [[ -x "$(bootstrap "$b")" ]] || { log "$(bootstrap "$b") missing: run without --no-build"; exit 2; }
done
export AUTH_ADMIN="$ROOT/$(bootstrap auth-admin)"

t_run="$(now)"
# Three unauthenticated calls make the administrator that sets up everything else.
MOTO_NO_AUTH_COUNT=3 moto_start "$OUT/moto.log" || exit 2
admin="$("$TEST_VENV/bin/python" "$PERF/iam_setup.py" admin)" || { log "IAM setup failed"; exit 2; }
eval "$admin"
lambda_plan >"$PLAN"
unassigned="$(plan_get "$PLAN" 'p["unassigned"]')"
if [[ -n "$unassigned" ]]; then
  log "events no template function serves (routeKey not in any HttpApi event):"
  printf '  %s\n' $unassigned >&2
  exit 1
fi
log "preparing the emulator"
aws_prepare "$PLAN" >&2 || { log "emulator setup failed"; exit 2; }
USERS="$OUT/iam-users.txt"  # the emulator's throwaway keys, one line per function
"$TEST_VENV/bin/python" "$PERF/iam_setup.py" functions <"$PLAN" >"$USERS" \
  || { log "IAM users setup failed"; exit 2; }

total=0 failed_fns=0 RESULT_FILES=()
mapfile -t FUNCTIONS < <(plan_get "$PLAN" '[f["name"] for f in p["functions"] if f["events"]]')
for fn in "${FUNCTIONS[@]}"; do
  binary="$(plan_get "$PLAN" "next(f['binary'] for f in p['functions'] if f['name'] == '$fn')")"
  service="$(plan_get "$PLAN" "next(f['env']['SERVICE'] for f in p['functions'] if f['name'] == '$fn')")"
  mapfile -t events < <(plan_get "$PLAN" "next(f['events'] for f in p['functions'] if f['name'] == '$fn')")
  mapfile -t env_args < <(function_env_args "$PLAN" "$fn")
  read -r _ key_id secret < <(grep "^$fn " "$USERS")
  env_args+=(--env "AWS_ACCESS_KEY_ID=$key_id" --env "AWS_SECRET_ACCESS_KEY=$secret")
  total=$((total + ${#events[@]}))
  printf '== %s (%s, %d events)\n' "$fn" "$binary" "${#events[@]}"
  : >"$OUT/$fn.log"
  rm -f "$OUT/$fn.json"; RESULT_FILES+=("$OUT/$fn.json")
  # In the background and waited for, so a TERM/INT reaches the trap (and the runner).
  python3 "$PERF/runtime_api.py" run --expect --meta-service "$service-svc" \
    --name "$fn" --log "$OUT/$fn.log" --json "$OUT/$fn.json" --label "$fn " \
    "${env_args[@]}" "${events[@]}" -- "$(bootstrap "$binary")" &
  RUNNER_PID=$!
  status=0
  wait "$RUNNER_PID" || status=$?
  RUNNER_PID=""
  if ((status != 0)); then
    failed_fns=$((failed_fns + 1))
    ((status == 1)) || log "$fn: did not answer every event (log: target/lambda-check/$fn.log)"
  fi
done
moto_stop

failed_events="$(cat "${RESULT_FILES[@]}" 2>/dev/null | python3 -c '
import json, sys
text = sys.stdin.read()
dec, i, bad = json.JSONDecoder(), 0, 0
while i < len(text):
    while i < len(text) and text[i].isspace(): i += 1
    if i >= len(text): break
    obj, i = dec.raw_decode(text, i)
    bad += sum(1 for r in obj.get("invocations", []) if r.get("ok") is False)
print(bad)' 2>/dev/null || echo "?")"
run_secs="$(since "$t_run")"
log "build: ${build_secs}, run: ${run_secs}s, total: $(since "$t_all")s"
if ((failed_fns == 0)); then
  log "PASS: all $total events answered as their sidecars expect (${#FUNCTIONS[@]} functions)"
  exit 0
fi
log "FAIL: $failed_fns of ${#FUNCTIONS[@]} functions had mismatches or stopped ($failed_events events failed of $total)"
exit 1
