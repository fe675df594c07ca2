#!/usr/bin/env bash
# Check template.yaml the way a deploy would, without an AWS account:
#   1. install AWS SAM CLI (and for a build cargo-lambda) from PyPI into its own venv .venv-sam/ (apart from the test venv: aws-sam-cli pins boto3/botocore versions that moto would move)
#   2. sam validate --lint           (cfn-lint over the SAM-transformed template)
#   3. sam build                     (every function through rust-cargolambda)
#
# Usage: scripts/sam-check.sh [--validate-only] [--debug-build]
#   --validate-only  stop after step 2 (no Rust compilation)
#   --debug-build    SAM_BUILD_MODE=debug: `cargo lambda build` without
#                    --release (dev profile; far quicker on 2 cores, but not
#                    what a deploy ships)
#
# Environment:
#   CARGO_LAMBDA_COMPILER  default `cargo`: build with the host toolchain, no
#                          zig. Set `cargo-zigbuild` for cargo-lambda's own
#                          default (zig from the venv's ziglang), e.g. to pin
#                          the glibc version or cross-compile.
#   SAM_CHECK_ARCH         Architecture parameter for the build; default: the
#                          host's (x86_64 here). See the note at the build step.
#   AWS_REGION             default us-east-1; nothing is sent to AWS.
#
# What `sam build` runs (SAM CLI 1.170.0, aws-lambda-builders rust_cargo):
# one `cargo lambda build --release --bin <Binary>` per function, in sequence,
# from the workspace root, with CARGO_TARGET_DIR set to the workspace's target/
# so dependencies compile once; each target/lambda/<bin>/bootstrap is copied to
# .aws-sam/build/<Function>/bootstrap.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv-sam"
# aws-sam-cli for validate; cargo-lambda (and zig) only for a build.
REQUIREMENTS="$ROOT/scripts/requirements-sam.txt"
BUILD_REQUIREMENTS="$ROOT/scripts/requirements-lambda.txt"
# shellcheck source=lib/venv.sh
source "$ROOT/scripts/lib/venv.sh"

validate_only=false
debug_build=false
for arg in "$@"; do
  case "$arg" in
    --validate-only) validate_only=true ;;
    --debug-build) debug_build=true ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "sam-check: unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

log() { printf '[sam-check] %s\n' "$*"; }

now() {
  # EPOCHREALTIME (bash >= 5) gives sub-second timings; fall back to seconds.
  if [[ -n "${EPOCHREALTIME:-}" ]]; then printf '%s' "${EPOCHREALTIME/,/.}"; else date +%s; fi
}

TIMINGS=()
# step NAME CMD...: run CMD, report how long it took, keep a summary line.
step() {
  local name="$1"; shift
  local start end elapsed
  log "== $name"
  start="$(now)"
  "$@"
  end="$(now)"
  elapsed="$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }')"
  log "== $name: ${elapsed}s"
  TIMINGS+=("$(printf '%-28s %8ss' "$name" "$elapsed")")
}

summary() {
  log "timings:"
  local line
  for line in "${TIMINGS[@]}"; do log "  $line"; done
}

ensure_venv() {
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating $VENV"
    make_venv "$VENV"
  fi
}

# install_tools REQUIREMENTS BINARY: pip-install a pinned requirements file into the
# venv unless its stamp says it already is (a re-run costs a hash; a changed pin or
# another Python reinstalls).
install_tools() {
  local reqs="$1" binary="$2" stamp want have=""
  stamp="$VENV/.$(basename "$reqs").sha256"
  want="$( { sha256sum "$reqs"; "$VENV/bin/python" --version; } | sha256sum | cut -d' ' -f1)"
  [[ -f "$stamp" ]] && have="$(cat "$stamp")"
  if [[ "$want" == "$have" && -x "$VENV/bin/$binary" ]]; then
    log "$(basename "$reqs") already installed, skipping"
    return
  fi
  "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet -r "$reqs"
  printf '%s\n' "$want" > "$stamp"
  log "installed $(basename "$reqs"): $("$VENV/bin/$binary" --version 2>&1 | head -1)"
}

# SAM needs a region to expand pseudo parameters (AWS::Region) while it
# transforms the template; validate --lint calls no AWS API, so no credentials
# are needed or read. IMDS is switched off so boto never waits on a metadata
# endpoint that isn't there.
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-$AWS_REGION}"
export AWS_EC2_METADATA_DISABLED=true
export SAM_CLI_TELEMETRY=0
# SAM finds `cargo` on PATH and cargo finds the `cargo-lambda` subcommand there.
export PATH="$VENV/bin:$PATH"
if ! command -v cargo >/dev/null 2>&1 && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
  export PATH="$PATH:$HOME/.cargo/bin"
fi

validate() {
  sam validate --lint --template-file "$ROOT/template.yaml"
}

build() {
  # SAM passes cargo-lambda no target for x86_64 on provided.al2023 (only
  # --arm64 for arm64), and cargo-lambda then builds for the *host* target.
  # So the Architecture we claim must be the host's, or the artifact would not
  # match its declared architecture. arm64 from an x86_64 host needs the
  # aarch64 rustup target (not installable offline) and zig.
  local arch="${SAM_CHECK_ARCH:-}"
  if [[ -z "$arch" ]]; then
    case "$(uname -m)" in
      x86_64|amd64) arch=x86_64 ;;
      aarch64|arm64) arch=arm64 ;;
      *) echo "sam-check: unsupported host $(uname -m); set SAM_CHECK_ARCH" >&2; return 1 ;;
    esac
  fi
  # Building for the host needs no cross toolchain, so plain cargo is enough and
  # sidesteps zig; cargo-lambda reads this variable (its --compiler flag).
  export CARGO_LAMBDA_COMPILER="${CARGO_LAMBDA_COMPILER:-cargo}"
  if $debug_build; then export SAM_BUILD_MODE=debug; fi
  log "Architecture=$arch CARGO_LAMBDA_COMPILER=$CARGO_LAMBDA_COMPILER SAM_BUILD_MODE=${SAM_BUILD_MODE:-release}"
  # samconfig.toml [default.build.parameters] adds cached=false, parallel=false
  # and build_in_source=true.
  sam build --parameter-overrides "Architecture=$arch"
}

step "venv" ensure_venv
step "install sam" install_tools "$REQUIREMENTS" sam
step "sam validate --lint" validate
if $validate_only; then
  log "--validate-only: skipping sam build"
else
  step "install cargo-lambda" install_tools "$BUILD_REQUIREMENTS" cargo-lambda
  step "sam build" build
fi
summary
