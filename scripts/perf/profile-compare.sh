#!/usr/bin/env bash
# The release-profile comparison behind Cargo.toml's [profile.release] (BENCHMARKS.md,
# "Release profile"): the auth-svc bootstrap built from clean under each variant, then
# its size, cold start and a CPU-bound warm invocation measured the way bench.sh does.
#
#   default    lto = false, codegen-units = 16, opt-level = 3   (cargo's own defaults)
#   thin-cgu1  lto = "thin", codegen-units = 1, opt-level = 3   (what `cargo lambda build
#              --release` fills in for keys [profile.release] leaves unset)
#   fat-cgu1   lto = "fat",  codegen-units = 1, opt-level = 3
#
# Every variant sets all three keys on the command line (`--config profile.release.*`,
# which overrides Cargo.toml), keeps the manifest's strip/panic, and builds like
# `cargo lambda build --release --x86-64`: --target x86_64-unknown-linux-gnu with
# RUSTFLAGS="-C target-cpu=haswell" (cargo-lambda's x86_64 default). Each has its own
# target dir (target/perf/profile-<variant>/), so build times are clean builds and the
# shared target/ is left alone.
#
# Build time is reported as wall clock and as CPU time (user + sys of cargo and every
# rustc/linker under it): on a shared 2-core machine the wall clock follows whatever
# else runs, the CPU time much less so. The load average at the start goes alongside.
#
# Usage: scripts/perf/profile-compare.sh [--runs N] [--keep] [VARIANT...]
#   --keep   reuse an existing build of the variant (and its recorded build times)
#            instead of building from clean
# Output: a markdown table on stdout (and target/perf/profiles.md).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
log() { printf '[profile-compare] %s\n' "$*" >&2; }
# shellcheck source=lib.sh
source "$ROOT/scripts/perf/lib.sh"

RUNS=15 keep=false variants=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) RUNS="$2"; shift ;;
    --keep) keep=true ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) variants+=("$1") ;;
  esac
  shift
done
((${#variants[@]})) || variants=(default thin-cgu1 fat-cgu1)

settings() {
  case "$1" in
    default) echo 'lto=false codegen-units=16 opt-level=3' ;;
    thin-cgu1) echo 'lto="thin" codegen-units=1 opt-level=3' ;;
    fat-cgu1) echo 'lto="fat" codegen-units=1 opt-level=3' ;;
    *) log "unknown variant $1"; exit 2 ;;
  esac
}

OUT="$ROOT/target/perf"
mkdir -p "$OUT"
TRIPLE=x86_64-unknown-linux-gnu
trap moto_stop EXIT

# 1. builds, one after the other (2 cores: parallel builds only slow each other down).
for v in "${variants[@]}"; do
  dir="$OUT/profile-$v"
  if $keep && [[ -x "$dir/$TRIPLE/release/auth-svc" && -f "$OUT/profile-$v.build.json" ]]; then
    log "$v: keeping the existing build"
    continue
  fi
  args=()
  for kv in $(settings "$v"); do args+=(--config "profile.release.$kv"); done
  rm -rf "$dir"
  log "$v: cargo build --release -p auth-svc --bin auth-svc --target $TRIPLE ${args[*]} (RUSTFLAGS=-C target-cpu=haswell, CARGO_TARGET_DIR=$dir)"
  # build.json: wall and CPU seconds (getrusage of all waited-for descendants), the
  # auth-svc binary unit from --timings (its compile + the (LTO) link: what an edit to
  # a service costs), the load average before.
  RUSTFLAGS="-C target-cpu=haswell" CARGO_TARGET_DIR="$dir" python3 - "$OUT/profile-$v.build.json" \
    "$dir/cargo-timings/cargo-timing.html" cargo build --release -p auth-svc --bin auth-svc \
    --target "$TRIPLE" --timings "${args[@]}" 2>"$OUT/profile-$v.build.log" <<'EOF'
import json, re, resource, subprocess, sys, time
out, timings, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
load = open("/proc/loadavg").read().split()[:3]
t0 = time.monotonic()
subprocess.run(cmd, check=True)
wall = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
unit = None
try:
    html = open(timings).read()
    m = re.search(r"const UNIT_DATA = (\[.*?\]);\n", html, re.S)
    units = [u for u in json.loads(m.group(1)) if u.get("name") == "auth-svc"] if m else []
    unit = units[-1]["duration"] if units else None
except (OSError, ValueError):
    pass
json.dump({"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "bin_unit_s": unit,
           "loadavg_before": " ".join(load)}, open(out, "w"))
EOF
  log "$v: $(cat "$OUT/profile-$v.build.json")"
done

# 2. measurements, with a private moto holding the table (and keys) as deployed.
ensure_bootstrap_admin() {
  [[ -x "$ROOT/target/lambda/auth-admin/bootstrap" ]] || {
    log "target/lambda/auth-admin/bootstrap missing: run scripts/lambda-check.sh (or bench.sh) once"; exit 2; }
}
ensure_bootstrap_admin
moto_start "$OUT/moto.log"
PLAN="$OUT/plan.json"
lambda_plan >"$PLAN"
aws_prepare "$PLAN" >&2
mapfile -t health_env < <(function_env_args "$PLAN" AuthHealthFunction)
mapfile -t session_env < <(function_env_args "$PLAN" AuthSessionFunction)
login_events=()
for _ in 1 2 3 4 5 6; do login_events+=(events/auth/session-login.json); done

{
  echo "| variant | lto | codegen-units | opt-level | clean build: wall / CPU (load before) | auth-svc bin unit | size | cold start median (min-max) | login warm invoke median |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
} >"$OUT/profiles.md"
for v in "${variants[@]}"; do
  bin="$OUT/profile-$v/$TRIPLE/release/auth-svc"
  size="$(stat -c %s "$bin")"
  cold="$(python3 "$PERF/runtime_api.py" coldstart --runs "$RUNS" --name AuthHealthFunction \
    "${health_env[@]}" events/auth/get-health.json -- "$bin")"
  # session-login on the empty table: an unknown account still costs a full argon2id
  # verification (no-enumeration dummy hash), the CPU-heaviest path auth has. The first
  # invocation also loads keys, so the median is of the later five.
  python3 "$PERF/runtime_api.py" run --name AuthSessionFunction --json "$OUT/profile-$v.login.json" \
    "${session_env[@]}" "${login_events[@]}" -- "$bin" >/dev/null || true
  python3 - "$v" "$(settings "$v")" "$OUT/profile-$v.build.json" "$size" "$cold" \
    "$OUT/profile-$v.login.json" >>"$OUT/profiles.md" <<'EOF'
import json, statistics, sys
v, settings, build, size, cold, login = sys.argv[1:7]
s = dict(kv.split("=") for kv in settings.split())
b = json.load(open(build))
c = json.loads(cold)
inv = json.load(open(login))["invocations"][1:]
warm = statistics.median(r["ms"] for r in inv if r["ms"] is not None) if inv else None
print("| %s | %s | %s | %s | %.0f s / %.0f s (%s) | %s | %.1f MiB | %.1f ms (%.1f-%.1f) | %s |" % (
    v, s["lto"].strip('"'), s["codegen-units"], s["opt-level"], b["wall_s"], b["cpu_s"],
    b["loadavg_before"].split()[0], "%.0f s" % b["bin_unit_s"] if b["bin_unit_s"] else "?",
    int(size) / 1048576, c["median_ms"], c["min_ms"], c["max_ms"],
    "%.0f ms" % warm if warm is not None else "-"))
EOF
done
moto_stop
cat "$OUT/profiles.md"
