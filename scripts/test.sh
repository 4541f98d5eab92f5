#!/usr/bin/env bash
# Runs every check and test of the workspace. `.ci/run` calls this script.
#
# Later suites that need real servers (carbon-cache, Prometheus, Chromium) install them here
# when missing and start/stop them on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (unit, integration, doc, README)"
cargo test --workspace --locked

step "cargo bench --no-run (benchmarks compile)"
cargo bench --workspace --locked --no-run

step "example runs"
cargo run --quiet --locked -p scales-core --example readme | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["processor"]["finished"] == 6, d'
echo "example printed valid JSON"
