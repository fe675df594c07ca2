#!/usr/bin/env bash
# Local AWS emulator (moto server) for DynamoDB, Secrets Manager and SES tests.
#
#   scripts/emulator.sh setup            create .venv/ and install scripts/requirements-test.txt
#   eval "$(scripts/emulator.sh start)"  start moto on a free port, print the AWS_* exports
#   scripts/emulator.sh stop             stop it (no error if it is not running)
#   scripts/emulator.sh run -- CMD...    setup + start, run CMD with the exports, always stop
#
# Only the exports go to stdout (so `eval` works); everything else goes to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
REQS="$ROOT/scripts/requirements-test.txt"
STAMP="$VENV/.requirements.sha256"
STATE="$ROOT/.moto"
PIDFILE="$STATE/pid"
LOG="$STATE/moto.log"

log() { echo "emulator: $*" >&2; }
# shellcheck source=lib/venv.sh
source "$ROOT/scripts/lib/venv.sh"

# Pid from the pid file if that process is still our moto server (guards against pid reuse).
running_pid() {
  local pid
  [[ -f "$PIDFILE" ]] || return 1
  pid="$(cat "$PIDFILE")"
  # /proc rather than ps: procps is not on every clean machine.
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q moto_serial || return 1
  echo "$pid"
}

print_exports() {
  # Dummy credentials: moto accepts any, but the SDKs refuse to sign without some.
  cat <<EOF
export AWS_ENDPOINT_URL=$(cat "$STATE/endpoint")
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
EOF
}

cmd_setup() {
  local want
  want="$(sha256sum "$REQS" | cut -d' ' -f1)"
  # The stamp makes a repeated setup a no-op until the requirements change.
  if [[ -x "$VENV/bin/moto_server" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    return 0
  fi
  log "installing $(basename "$REQS") into .venv/"
  [[ -x "$VENV/bin/python" ]] || make_venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQS" >&2
  echo "$want" >"$STAMP"
}

cmd_start() {
  mkdir -p "$STATE"
  if running_pid >/dev/null; then
    log "already running at $(cat "$STATE/endpoint")"
    print_exports
    return 0
  fi
  [[ -x "$VENV/bin/moto_server" ]] || { log "run '$0 setup' first"; exit 1; }

  # Let the kernel pick a free port so parallel runs and other services never collide.
  local port endpoint pid
  port="$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  endpoint="http://127.0.0.1:$port"

  # setsid: own process group, so stop can kill moto and any children together.
  # All fds are redirected so `$(emulator.sh start)` does not wait for the server to exit.
  # scripts/moto_serial.py: moto_server with requests serialised (DynamoDB's transaction
  # isolation; moto's threads alone break it under load).
  setsid "$VENV/bin/python" "$ROOT/scripts/moto_serial.py" -H 127.0.0.1 -p "$port" </dev/null >"$LOG" 2>&1 &
  pid=$!
  echo "$pid" >"$PIDFILE"
  echo "$endpoint" >"$STATE/endpoint"

  for _ in $(seq 60); do
    if "$VENV/bin/python" -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1]+"/moto-api/", timeout=1)' "$endpoint" 2>/dev/null; then
      log "moto $("$VENV/bin/python" -c 'import moto; print(moto.__version__)') ready at $endpoint (pid $pid)"
      print_exports
      return 0
    fi
    running_pid >/dev/null || break  # died early (e.g. bad install): don't wait 30 s
    sleep 0.5
  done
  log "moto did not come up at $endpoint; log tail:"
  tail -n 30 "$LOG" >&2 || true
  cmd_stop
  exit 1
}

cmd_stop() {
  local pid
  if pid="$(running_pid)"; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    # Not our child when called standalone, so poll instead of `wait`; escalate after ~10 s.
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    log "stopped (pid $pid)"
  fi
  rm -f "$PIDFILE"
}

cmd_run() {
  [[ "${1:-}" == "--" ]] && shift
  [[ $# -gt 0 ]] || { log "usage: $0 run -- CMD..."; exit 2; }
  cmd_setup
  trap cmd_stop EXIT
  local exports child status=0
  exports="$(cmd_start)"  # a plain assignment, so set -e sees a failed start
  eval "$exports"
  # CMD runs in the background and we `wait`, because bash defers traps until a
  # foreground command ends. On INT/TERM we TERM it (background jobs ignore INT),
  # then the EXIT trap stops moto. `<&0` keeps stdin (else it would be /dev/null).
  "$@" <&0 &
  child=$!
  trap 'kill -TERM "$child" 2>/dev/null; exit 130' INT
  trap 'kill -TERM "$child" 2>/dev/null; exit 143' TERM
  wait "$child" || status=$?
  exit "$status"
}

case "${1:-}" in
  setup) cmd_setup ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  run) shift; cmd_run "$@" ;;
  *) echo "usage: $0 {setup|start|stop|run -- CMD...}" >&2; exit 2 ;;
esac
