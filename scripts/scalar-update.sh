#!/usr/bin/env bash
# Refreshes the vendored Scalar API reference bundle (the interactive /docs pages):
#   scripts/scalar-update.sh 1.76.0
# Fetches @scalar/api-reference at that exact version from the npm registry (npm pack,
# no install, no scripts run), keeps only dist/browser/standalone.js, gzipped
# reproducibly into shared/assets/scalar/, and records version and checksum. The pages
# never load anything from a CDN at run time: the bundle is compiled into the services.
set -euo pipefail
version="${1:?usage: scripts/scalar-update.sh <version of @scalar/api-reference>}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$ROOT/shared/assets/scalar"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@scalar/api-reference@$version" >/dev/null)
tar -xzf "$work"/scalar-api-reference-"$version".tgz -C "$work" package/dist/browser/standalone.js package/package.json
license="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["license"])' "$work/package/package.json")"
gzip -9 -n -c "$work/package/dist/browser/standalone.js" >"$dest/standalone.js.gz"
sum="$(sha256sum "$work/package/dist/browser/standalone.js" | cut -d' ' -f1)"
printf '%s\n' "$version" >"$dest/VERSION"
echo "@scalar/api-reference $version ($license): standalone.js sha256 $sum, $(wc -c <"$dest/standalone.js.gz") bytes gzipped"
