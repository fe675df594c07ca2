#!/usr/bin/env bash
# Everything the tests need, then every test: the README's test command.
#
#   scripts/test.sh [extra cargo test args]
#
# Installs moto (PyPI) into .venv/, starts it on a free loopback port, runs the whole
# workspace's tests with AWS_ENDPOINT_URL pointing at it (so the over-the-wire tests
# run instead of skipping), and stops it again whatever happens.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# The binary test starts the real eventzr-local; build it first.
cargo build --quiet -p eventzr-local
scripts/emulator.sh run -- cargo test --workspace --no-fail-fast "$@"
