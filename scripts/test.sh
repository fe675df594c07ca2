#!/usr/bin/env bash
# Everything the tests need, then every test: the README's test command.
#
#   scripts/test.sh [extra cargo test args]
#
# Installs moto (PyPI) into .venv/, starts it on a free loopback port, and with
# AWS_ENDPOINT_URL pointing at it (so the over-the-wire tests run instead of skipping):
#   1. runs the whole workspace's tests (memory store, plus each crate's wire tests);
#   2. runs auth-svc's API suite again with every test on a fresh DynamoDB table
#      (EVENTZR_TEST_STORE=dynamodb);
#   3. validates the OpenAPI documents the services serve (written to target/openapi/ by
#      the tests crate in pass 1) with openapi-spec-validator, independently of utoipa,
#      and every example in them against its schema (scripts/openapi-examples.py);
#   4. holds each route's DynamoDB actions (noted by the requests-per-route tests in
#      target/bench/iam-actions-*.json) against its template function's IAM policy
#      (scripts/iam-check.py): neither store enforces IAM, AWS does;
#   5. runs the criterion benches once each (`cargo test --bench`: every benchmark once,
#      unmeasured, a few seconds), so a bench that no longer runs fails here and not
#      first in scripts/bench.sh, which CI does not run.
# (The eventzr-local binary test lives in local/tests, so cargo builds the binary itself.)
# It stops the emulator whatever happens, and fails if either pass fails.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# shellcheck disable=SC2016 # expanded by the inner shell
scripts/emulator.sh run -- bash -c '
  status=0
  # Written afresh by this run, checked at the end.
  rm -rf target/openapi target/bench/iam-actions-*.json
  cargo test --workspace --no-fail-fast "$@" || status=$?
  echo "=== auth-svc API suite on DynamoDB (EVENTZR_TEST_STORE=dynamodb)"
  # --workspace (not -p auth-svc) keeps the same feature resolution as the first pass,
  # so nothing is rebuilt; it reruns the api tests of every crate, those of auth-svc on DynamoDB.
  EVENTZR_TEST_STORE=dynamodb cargo test --workspace --test api --no-fail-fast "$@" || status=$?
  echo "=== OpenAPI documents (openapi-spec-validator)"
  shopt -s nullglob
  docs=(target/openapi/*.json)
  if (( ${#docs[@]} == 0 )); then
    echo "no documents in target/openapi/ (the tests crate writes them)"; status=1
  else
    .venv/bin/openapi-spec-validator "${docs[@]}" || status=$?
    echo "=== OpenAPI examples against their schemas (scripts/openapi-examples.py)"
    .venv/bin/python scripts/openapi-examples.py "${docs[@]}" || status=$?
  fi
  echo "=== IAM actions per route (scripts/iam-check.py)"
  .venv/bin/python scripts/iam-check.py || status=$?
  echo "=== benches, each run once (cargo test --bench pipeline --bench auth)"
  cargo test --workspace --bench pipeline --bench auth --no-fail-fast || status=$?
  exit "$status"
' test.sh "$@"
