#!/usr/bin/env bash
# Copies the files the portal's pages load from the pinned npm packages (package-lock.json) into
# services/portal/static/vendor/, served at /static/vendor/<file>. Never a CDN (issue 18).
# Only what a page loads: minified bundles, the four ES modules of @noble/hashes that sha2.js needs, and
# pako's inflate-only ES module (raw inflate with a preset dictionary: a family's receipt, extra format 3).
set -euo pipefail
web="$(cd "$(dirname "$0")" && pwd)"
src="$web/node_modules"
out="$web/../static/vendor"
rm -rf "$out"
mkdir -p "$out/noble-hashes"
cp "$src/htmx.org/dist/htmx.min.js" "$out/htmx.min.js"
cp "$src/echarts/dist/echarts.min.js" "$out/echarts.min.js"
cp "$src/axe-core/axe.min.js" "$out/axe.min.js"
cp "$src/@noble/ed25519/index.js" "$out/noble-ed25519.js"
cp "$src/pako/dist/browser/pako_inflate.esm.min.mjs" "$out/pako-inflate.js"
for f in sha2.js _md.js _u64.js utils.js; do cp "$src/@noble/hashes/$f" "$out/noble-hashes/$f"; done
for p in htmx.org echarts axe-core @noble/ed25519 @noble/hashes pako; do
  printf '%s %s\n' "$p" "$(node -p "require('$src/$p/package.json').version")"
done > "$out/VERSIONS"
echo '{"type": "module"}' > "$out/package.json"  # Node reads these ES modules as the browser does (the verifier's tests)
