#!/usr/bin/env bash
# Everything the tests need, then every test: the README's test command.
#
#   scripts/test.sh [extra cargo test args]
#
# Installs moto (PyPI) into .venv/, starts it on a free loopback port, and with
# AWS_ENDPOINT_URL pointing at it (so the over-the-wire tests run instead of skipping):
#   1. runs the whole workspace's tests (memory store, plus each crate's wire tests);
#   2. runs auth-svc's API suite again with every test on a fresh DynamoDB table
#      (EVENTZR_TEST_STORE=dynamodb).
# It stops the emulator whatever happens, and fails if either pass fails.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# The binary test starts the real eventzr-local; build it first.
cargo build --quiet -p eventzr-local

# shellcheck disable=SC2016 # expanded by the inner shell
scripts/emulator.sh run -- bash -c '
  status=0
  cargo test --workspace --no-fail-fast "$@" || status=$?
  echo "=== auth-svc API suite on DynamoDB (EVENTZR_TEST_STORE=dynamodb)"
  EVENTZR_TEST_STORE=dynamodb cargo test -p auth-svc --test api --no-fail-fast "$@" || status=$?
  exit "$status"
' test.sh "$@"
