#!/usr/bin/env bash
# Headless Chromium for the scales-http browser tests (contract: see the top of
# scripts/test.sh).
#
#   chromium.sh packages   print the Debian packages still missing (chromium, npm)
#   chromium.sh start      nothing runs in the background: each test starts the browser
#                          itself (`--headless --dump-dom` / `--screenshot`); this checks it
#                          is installed
#   chromium.sh env        nothing to export
#   chromium.sh stop       nothing to stop
#
# The tests call /usr/lib/chromium/chromium (the real binary; /usr/bin/chromium is a shell
# wrapper that prints a harmless warning here) with --no-sandbox (we run as root), a fresh
# profile and TMPDIR in a short directory of their own (/tmp/scales-chromium.*, removed
# afterwards), and --virtual-time-budget so that the page's scripts have run when the DOM is
# dumped. Screenshots land in target/e2e/. The browser listens on no port.
#
# The profile must not live under the clone: Chromium puts a Unix socket
# (SingletonSocket) in TMPDIR and links it from the profile, and a socket path longer than
# 107 bytes makes it abort (SIGABRT) at start.
#
# Notes from running it (Debian chromium, 2 cores): --dump-dom and --screenshot take about
# 1 s each. scripts/test.sh installs with --no-install-recommends; with recommends chromium
# drags in systemd, avahi and cups helpers.
set -euo pipefail

BIN=/usr/lib/chromium/chromium

case "${1:-}" in
  packages)
    if [ ! -x "$BIN" ]; then echo "chromium"; fi
    # node and npm: the tests drive the browser with playwright-core (scripts/playwright.sh)
    if ! command -v npm >/dev/null; then echo "npm"; fi
    ;;
  start)
    if [ ! -x "$BIN" ]; then
      echo "[chromium.sh] $BIN is missing" >&2
      exit 1
    fi
    echo "[chromium.sh] $("$BIN" --version 2>/dev/null || echo chromium), run per test" >&2
    ;;
  env) ;;
  stop) ;;
  *)
    echo "usage: $0 packages|start|env|stop" >&2
    exit 2
    ;;
esac
