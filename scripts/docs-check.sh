#!/usr/bin/env bash
# The API reference in a real browser, offline: starts eventzr-local on a free loopback
# port, opens /docs in headless Chromium with every host but loopback unresolvable, and
# checks that the rendered page lists auth's login route and shows the gateway it came
# from as the server requests go to. Saves what it saw:
#   target/docs-check/docs.png   screenshot
#   target/docs-check/dom.html   the DOM after the page's scripts ran
# Chromium comes from Debian (`apt-get install chromium`; installed here when missing and
# this runs as root).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/target/docs-check"
mkdir -p "$OUT"

browser="$(command -v chromium || command -v chromium-browser || true)"
if [[ -z "$browser" ]]; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "docs-check: installing Debian's chromium" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
    browser="$(command -v chromium)"
  else
    echo "docs-check: no chromium; install Debian's package 'chromium'" >&2
    exit 1
  fi
fi

cargo build --quiet -p eventzr-local
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
target/debug/eventzr-local --port "$port" >"$OUT/gateway.log" 2>&1 &
gateway=$!
profile="$(mktemp -d)"
trap 'kill "$gateway" 2>/dev/null || true; rm -rf "$profile"' EXIT
for _ in $(seq 100); do
  python3 -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
    "http://127.0.0.1:$port/auth/v1/health" 2>/dev/null && break
  sleep 0.2
done

# No network but loopback: every other host name fails to resolve, and the background
# services Chromium would call are off.
flags=(
  --headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --disable-extensions --user-data-dir="$profile"
  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
  --virtual-time-budget=15000 --window-size=1400,1800
)
url="http://127.0.0.1:$port/docs"
"$browser" "${flags[@]}" --dump-dom "$url" >"$OUT/dom.html" 2>"$OUT/chromium.log"
"$browser" "${flags[@]}" --screenshot="$OUT/docs.png" "$url" 2>>"$OUT/chromium.log" >/dev/null

if ! grep -q "/auth/v1/login" "$OUT/dom.html" || ! grep -q "Sign in with a password" "$OUT/dom.html"; then
  echo "docs-check: FAIL — the rendered /docs does not list auth's login route; see $OUT/dom.html and $OUT/chromium.log" >&2
  exit 1
fi
# "Test Request" goes to the server the page shows: the gateway that served it, on
# whatever port (the document's server is relative), not a fixed :3000.
if ! grep -q ">http://127.0.0.1:$port<" "$OUT/dom.html"; then
  echo "docs-check: FAIL — /docs does not show http://127.0.0.1:$port as its server; see $OUT/dom.html" >&2
  exit 1
fi
echo "docs-check: PASS — /docs lists POST /auth/v1/login, server http://127.0.0.1:$port ($(wc -c <"$OUT/dom.html") bytes of DOM); screenshot $OUT/docs.png"
