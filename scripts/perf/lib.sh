# Sourced by scripts/lambda-check.sh, scripts/bench.sh and the scripts/perf/*.sh
# comparisons: tool install, the release bootstrap build, a private AWS emulator and what
# the functions expect to find in it, cold-start probes, and loopback helpers (a free
# port, waiting for a server, a test account's token). Expects ROOT (the checkout) and a
# `log` function.

# shellcheck source=../lib/venv.sh
source "$ROOT/scripts/lib/venv.sh"

SAM_VENV="$ROOT/.venv-sam"
TEST_VENV="$ROOT/.venv"
PERF="$ROOT/scripts/perf"
STAGE_UNDER_TEST=dev

now() {
  if [[ -n "${EPOCHREALTIME:-}" ]]; then printf '%s' "${EPOCHREALTIME/,/.}"; else date +%s; fi
}
since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1f", e - s }'; }

# Cargo from rustup when it is not on PATH (a fresh shell after installing rustup).
if ! command -v cargo >/dev/null 2>&1 && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
  export PATH="$PATH:$HOME/.cargo/bin"
fi

# cargo-lambda, pinned in scripts/requirements-lambda.txt, into .venv-sam/ exactly as
# scripts/sam-check.sh installs it (same venv, same stamp file), so either script
# reuses the other's install.
ensure_cargo_lambda() {
  local reqs="$ROOT/scripts/requirements-lambda.txt" stamp want have=""
  [[ -x "$SAM_VENV/bin/python" ]] || { log "creating $SAM_VENV"; make_venv "$SAM_VENV"; }
  stamp="$SAM_VENV/.$(basename "$reqs").sha256"
  want="$( { sha256sum "$reqs"; "$SAM_VENV/bin/python" --version; } | sha256sum | cut -d' ' -f1)"
  [[ -f "$stamp" ]] && have="$(cat "$stamp")"
  if [[ "$want" != "$have" || ! -x "$SAM_VENV/bin/cargo-lambda" ]]; then
    log "installing $(basename "$reqs") into .venv-sam/"
    "$SAM_VENV/bin/python" -m pip install --disable-pip-version-check --quiet -r "$reqs"
    printf '%s\n' "$want" >"$stamp"
  fi
  export PATH="$SAM_VENV/bin:$PATH"
  log "$(cargo lambda --version)"
}

# The function binaries of template.yaml, plus auth-admin (key setup) and the
# hello-lambda floor, built the way `sam build` builds them (`cargo lambda build
# --release`, so with cargo-lambda's release defaults for whatever [profile.release]
# leaves unset, and its -C target-cpu for the target), for x86_64 with the host
# toolchain (CARGO_LAMBDA_COMPILER=cargo: no zig needed for the host's own target).
# Output: target/lambda/<bin>/bootstrap.
LAMBDA_BINS=()
lambda_bins() {
  mapfile -t LAMBDA_BINS < <(sed -n 's/^ *Binary: *\([A-Za-z0-9_-]*\).*/\1/p' "$ROOT/template.yaml" | sort -u)
  LAMBDA_BINS+=(auth-admin hello-lambda)
}
lambda_build() {
  lambda_bins
  local args=() b
  for b in "${LAMBDA_BINS[@]}"; do args+=(--bin "$b"); done
  export CARGO_LAMBDA_COMPILER="${CARGO_LAMBDA_COMPILER:-cargo}"
  log "cargo lambda build --release --x86-64 ${args[*]} (CARGO_LAMBDA_COMPILER=$CARGO_LAMBDA_COMPILER)"
  (cd "$ROOT" && cargo lambda build --release --x86-64 "${args[@]}" "$@")
}

# A private moto server (scripts/moto_serial.py from the emulator's .venv/) on a free
# loopback port. Not `scripts/emulator.sh start/run`: that keeps one instance per
# checkout in .moto/, reuses it when one is up and stops it at exit, so a check running
# beside scripts/test.sh would stop the tests' emulator (or be stopped by them).
MOTO_PID=""
moto_start() {
  local port pid
  "$ROOT/scripts/emulator.sh" setup
  port="$("$TEST_VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  # MOTO_NO_AUTH_COUNT=N: moto authenticates and authorizes every request after its
  # first N (IAM users and policies; scripts/perf/iam_setup.py).
  INITIAL_NO_AUTH_ACTION_COUNT="${MOTO_NO_AUTH_COUNT:-inf}" \
    setsid "$TEST_VENV/bin/python" "$ROOT/scripts/moto_serial.py" -H 127.0.0.1 -p "$port" \
    </dev/null >"$1" 2>&1 &
  pid=$!
  MOTO_PID=$pid
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
  for _ in $(seq 100); do
    if "$TEST_VENV/bin/python" -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1]+"/moto-api/", timeout=1)' "$AWS_ENDPOINT_URL" 2>/dev/null; then
      log "moto ready at $AWS_ENDPOINT_URL (pid $pid)"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  log "moto did not come up; log tail:"; tail -n 20 "$1" >&2 || true
  return 1
}
moto_stop() {
  [[ -n "$MOTO_PID" ]] || return 0
  # setsid made it a process group leader: stop it and anything it started.
  kill -TERM -- "-$MOTO_PID" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$MOTO_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$MOTO_PID" 2>/dev/null || true
  MOTO_PID=""
}

# The plan (functions, their template environment, their events) for the stage, with
# the template parameter overrides in PARAM_OVERRIDES (NAME=VALUE words).
PARAM_OVERRIDES=()
lambda_plan() {
  "$TEST_VENV/bin/python" "$PERF/lambda_plan.py" "$ROOT" "$STAGE_UNDER_TEST" "${PARAM_OVERRIDES[@]}"
}

# What the stack holds before the first invocation: tables, cursor secret, SES
# identity (aws_setup.py) and the JWT key sets (the operator command, as deployed).
# The tables are left empty, as the events' sidecars assume (e.g. the staging
# password login answers 401): no `auth-admin seed`.
aws_prepare() {
  local plan_file="$1"
  "$TEST_VENV/bin/python" "$PERF/aws_setup.py" <"$plan_file" | sed 's/^/  /'
  "${AUTH_ADMIN:-$ROOT/target/lambda/auth-admin/bootstrap}" keys init --stage "$STAGE_UNDER_TEST" \
    | sed 's/^/  /'
}

# The environment a function gets in AWS, as --env arguments for runtime_api.py.
function_env_args() {
  local plan_file="$1" fn="$2"
  python3 - "$plan_file" "$fn" <<'EOF'
import json, sys
plan = json.load(open(sys.argv[1]))
fn = next(f for f in plan["functions"] if f["name"] == sys.argv[2])
for k, v in fn["env"].items():
    print("--env")
    print("%s=%s" % (k, v))
EOF
}

# Field of the plan: plan_get FILE PYTHON-EXPR (p = the plan), one value a line.
plan_get() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
out = eval(sys.argv[2])
for v in (out if isinstance(out, list) else [out]):
    print(v)
EOF
}

# noaws_event SRC DST: SRC (an API Gateway v2 event) sent to a path no route serves, so
# the answer (404 in the envelope) crosses the runtime and the whole pipeline but calls no
# AWS API: a cold start of init alone, comparable with the floor's.
noaws_event() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
e = json.load(open(sys.argv[1]))
path = e["rawPath"].rsplit("/", 1)[0] + "/perf-probe"
e["rawPath"] = e["requestContext"]["http"]["path"] = path
e["routeKey"] = e["requestContext"]["routeKey"] = "$default"
json.dump(e, open(sys.argv[2], "w"), indent=2)
EOF
}

# warm BINARY: read it into the page cache just before a timed start. This machine's
# memory manager (kdamond, DAMON reclaim) evicts cold file pages soon, and a start that
# pages its binary in from disk measured 20-1500 ms instead of 4-9 (2026-12-03).
warm() { cat "$1" >/dev/null; }

# A free TCP port on loopback.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_http URL PID: until URL answers, for up to 15 s, or PID (the server) has exited.
wait_http() {
  local url="$1" pid="$2"
  for _ in $(seq 150); do
    python3 -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$url" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# login_token BASE_URL: an access token of the published partner test account, from the
# local gateway's POST /auth/v1/login (what the JWT-verified GET is measured with).
login_token() {
  python3 - "$1/auth/v1/login" <<'PY'
import json, sys, urllib.request
body = json.dumps({"email": "partner@eventzr.com", "password": "Password123!"}).encode()
req = urllib.request.Request(sys.argv[1], body, {"content-type": "application/json"})
print(json.load(urllib.request.urlopen(req, timeout=30))["data"]["accessToken"])
PY
}
