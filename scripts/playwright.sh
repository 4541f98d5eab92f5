#!/usr/bin/env bash
# playwright-core (the automation library, no browser of its own) for the scales-http
# browser tests, which drive Debian's chromium with it. Idempotent and offline-tolerant:
# nothing is fetched when target/e2e/node already has it; when it is missing and the npm
# registry cannot be reached, this says so and exits 1.
#
#   scripts/playwright.sh        installs it if missing; prints the node_modules directory
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
prefix="${CARGO_TARGET_DIR:-$root/target}/e2e/node"
if [ ! -f "$prefix/node_modules/playwright-core/package.json" ]; then
  if ! command -v npm >/dev/null; then
    echo "[playwright.sh] npm is missing: install the Debian package npm" >&2
    exit 1
  fi
  mkdir -p "$prefix"
  if ! npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error playwright-core@1 >&2; then
    echo "[playwright.sh] could not install playwright-core from the npm registry" >&2
    exit 1
  fi
fi
echo "$prefix/node_modules"
