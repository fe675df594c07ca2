#!/usr/bin/env bash
# What position-independent executables cost at cold start (BENCHMARKS.md, "Cold start:
# relocations"): each binary built twice with the release profile, as `cargo lambda build
# --release --x86-64` builds it (--target x86_64-unknown-linux-gnu, RUSTFLAGS="-C
# target-cpu=haswell"), once as rustc makes it (PIE: the loader applies every relative
# relocation at start, copying each page of pointers it touches) and once with `-C
# relocation-model=static` (non-PIE: addresses fixed at link time, no dynamic
# relocations; the executable's own image is no longer placed at a random address).
# Then started in turns under scripts/perf/runtime_api.py, each answering a first event
# that calls no AWS API (as bench.sh's budget column), with its binary read into the page
# cache just before. Per variant and binary: relative relocations, size, wall time to the
# first answer, the process's CPU time and minor page faults at that moment.
#
# Usage: scripts/perf/pie-compare.sh [--runs N] [--keep] [BINARY...]
#   BINARY   service binaries of template.yaml (default: every health function's);
#            hello-lambda, the floor, is always measured
#   --keep   reuse the builds in target/perf/pie-<variant>/
# Output: a markdown table on stdout (and target/perf/pie.md). Needs no emulator.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
log() { printf '[pie-compare] %s\n' "$*" >&2; }
# shellcheck source=lib.sh
source "$ROOT/scripts/perf/lib.sh"

RUNS=20 keep=false bins=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) RUNS="$2"; shift ;;
    --keep) keep=true ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) bins+=("$1") ;;
  esac
  shift
done

OUT="$ROOT/target/perf"
mkdir -p "$OUT/events"
TRIPLE=x86_64-unknown-linux-gnu
"$ROOT/scripts/emulator.sh" setup   # the Python environment lambda_plan.py runs in
PLAN="$OUT/plan.json"
lambda_plan >"$PLAN"
mapfile -t HEALTH_FNS < <(plan_get "$PLAN" '[f["name"] for f in p["functions"] if f["env"].get("ROUTE_GROUP") == "health"]')
declare -A FN_OF
for fn in "${HEALTH_FNS[@]}"; do
  b="$(plan_get "$PLAN" "next(f['binary'] for f in p['functions'] if f['name'] == '$fn')")"
  FN_OF[$b]="$fn"
  event="$(plan_get "$PLAN" "next(e for f in p['functions'] if f['name'] == '$fn' for e in f['events'] if e.endswith('/get-health.json'))")"
  noaws_event "$event" "$OUT/events/$b-404.json"
done
((${#bins[@]})) || mapfile -t bins < <(printf '%s\n' "${!FN_OF[@]}" | sort)
for b in "${bins[@]}"; do
  [[ -n "${FN_OF[$b]:-}" ]] || { log "unknown binary $b (one of: ${!FN_OF[*]})"; exit 2; }
done

variant_flags() {
  case "$1" in
    pie) echo "-C target-cpu=haswell" ;;
    nopie) echo "-C target-cpu=haswell -C relocation-model=static" ;;
  esac
}

# 1. builds, one variant after the other. --target keeps RUSTFLAGS off build scripts and
# proc macros, which must stay position-independent.
for v in pie nopie; do
  dir="$OUT/pie-$v"
  if $keep && [[ -x "$dir/$TRIPLE/release/hello-lambda" ]]; then
    log "$v: keeping the existing build"
    continue
  fi
  args=(-p perf --bin hello-lambda)
  for b in "${bins[@]}"; do args+=(-p "$b" --bin "$b"); done
  log "$v: cargo build --release --target $TRIPLE ${args[*]} (RUSTFLAGS=$(variant_flags $v), CARGO_TARGET_DIR=$dir)"
  RUSTFLAGS="$(variant_flags $v)" CARGO_TARGET_DIR="$dir" \
    cargo build --release --target "$TRIPLE" "${args[@]}"
done

# 2. starts, interleaved: round after round, every variant and binary once. No emulator:
# the probe event makes no AWS call, and the endpoint below refuses at once if one did.
export AWS_ENDPOINT_URL=http://127.0.0.1:9 AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
samples="$OUT/pie-samples.jsonl"
rm -f "$samples"
first_event="$OUT/events/${bins[0]}-404.json"
for ((round = 1; round <= RUNS; round++)); do
  for v in pie nopie; do
    rel="$OUT/pie-$v/$TRIPLE/release"
    for b in hello-lambda "${bins[@]}"; do
      env_args=() event="$first_event"
      if [[ $b != hello-lambda ]]; then
        mapfile -t env_args < <(function_env_args "$PLAN" "${FN_OF[$b]}")
        event="$OUT/events/$b-404.json"
      fi
      warm "$rel/$b"
      python3 "$PERF/runtime_api.py" coldstart --runs 1 --name "$b" "${env_args[@]}" \
        "$event" -- "$rel/$b" | python3 -c 'import json,sys; d=json.load(sys.stdin); d["variant"]=sys.argv[1]; d["binary"]=sys.argv[2]; print(json.dumps(d))' "$v" "$b" >>"$samples" || true
    done
  done
done

# 3. the table.
python3 - "$samples" "$OUT" "$TRIPLE" "$RUNS" hello-lambda "${bins[@]}" <<'EOF' | tee "$OUT/pie.md"
import json, statistics, subprocess, sys, os
samples, out, triple, runs, *bins = sys.argv[1:]
rows = [json.loads(l) for l in open(samples) if l.strip()]
def of(v, b, key):
    return [x for r in rows if r.get("variant") == v and r.get("binary") == b for x in r.get(key, [])]
def relocations(path):
    text = subprocess.run(["readelf", "-rW", path], capture_output=True, text=True).stdout
    return text.count("R_X86_64_RELATIVE")
print("| variant | binary | relative relocations | size | first answer: median | x floor | CPU median | x floor | minor faults |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for v in ("pie", "nopie"):
    floor_w = statistics.median(of(v, "hello-lambda", "samples_ms") or [0]) or None
    floor_c = statistics.median(of(v, "hello-lambda", "cpu_samples_ms") or [0]) or None
    for b in bins:
        path = os.path.join(out, "pie-" + v, triple, "release", b)
        w, c = of(v, b, "samples_ms"), of(v, b, "cpu_samples_ms")
        faults = [r["minflt_median"] for r in rows if r.get("variant") == v and r.get("binary") == b and r.get("minflt_median") is not None]
        if not w:
            print("| %s | %s | | | failed | | | | |" % (v, b))
            continue
        wm, cm = statistics.median(w), statistics.median(c) if c else None
        print("| %s | %s | %d | %.1f MiB | %.2f ms | %s | %s | %s | %s |" % (
            v, b, relocations(path), os.path.getsize(path) / 1048576, wm,
            "%.2fx" % (wm / floor_w) if floor_w else "-",
            "%.2f ms" % cm if cm is not None else "-",
            "%.2fx" % (cm / floor_c) if cm is not None and floor_c else "-",
            "%d" % statistics.median(faults) if faults else "-"))
print()
print("%s starts per variant and binary, interleaved; floor = that variant's hello-lambda." % runs)
EOF
