#!/usr/bin/env bash
# Runs every check and test of the workspace; `.ci/run` calls this script.
#
# End-to-end suites talk to real servers (carbon-cache, Prometheus, headless Chromium). Each
# server has a script in scripts/services/<name>.sh that answers three commands:
#   packages  print the Debian packages still missing for it (nothing when installed)
#   start     start it on 127.0.0.1 and wait until it is ready; export nothing, print nothing
#             but progress; state lives under target/e2e/<name>
#   stop      stop it (idempotent)
# Missing packages are installed in the background while cargo builds. The servers are
# started before the tests run and stopped on exit. Tests that need them run when
# SCALES_E2E=1 (set here) and fail if a server is missing; plain `cargo test` skips them.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
shopt -s nullglob
SERVICES=(scripts/services/*.sh)
mkdir -p target/e2e

step() { printf '\n== %s\n' "$*"; }

# 1) Debian packages the end-to-end suites need, installed while cargo builds.
need=()
for service in "${SERVICES[@]}"; do
  read -r -a missing <<<"$("$service" packages)"
  need+=("${missing[@]}")
done
APT_PID=
if [ ${#need[@]} -gt 0 ]; then
  step "installing in the background: ${need[*]}"
  ( apt-get update -q && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends "${need[@]}" ) >target/e2e/apt.log 2>&1 &
  APT_PID=$!
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo build (tests, benchmarks, binaries)"
cargo build --workspace --all-targets --locked
cargo bench --workspace --locked --no-run

if [ -n "$APT_PID" ]; then
  wait "$APT_PID" || { echo "apt-get install failed:"; tail -40 target/e2e/apt.log; exit 1; }
fi

# 2) Real servers for the end-to-end suites.
stop_services() {
  for service in "${SERVICES[@]}"; do "$ROOT/$service" stop || true; done
}
trap stop_services EXIT
for service in "${SERVICES[@]}"; do
  step "starting $(basename "$service" .sh)"
  "$service" start
done
export SCALES_E2E=1

step "cargo test (unit, integration, end-to-end, doc, README)"
cargo test --workspace --locked

step "loom models of the per-thread cells (scales-core/src/cells.rs)"
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
  cargo test --locked -p scales-core --lib --release loom

step "README example runs"
cargo run --quiet --locked -p scales-core --example readme \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["processor"]["finished"] == 6, d'
echo "example printed valid JSON"

step "the demo runs (README's main command, debug build) and serves its status page"
cargo run --quiet --locked --bin scales-demo -- --duration 8 --port 18765 --app-port 18080 \
  >target/e2e/demo.log 2>&1 &
DEMO_PID=$!
demo_ok=
for _ in $(seq 1 60); do
  if curl -fsS 'http://127.0.0.1:18765/status/?format=json' -o target/e2e/demo.json 2>/dev/null \
    && python3 -c 'import json; d=json.load(open("target/e2e/demo.json")); assert d["web"]["success"] > 0 and d["processor"]["thread-0"]["finished"] >= 0' 2>/dev/null; then
    demo_ok=1
    break
  fi
  sleep 0.2
done
wait "$DEMO_PID"
if [ -z "$demo_ok" ]; then
  echo "the demo's status page never showed live stats:"
  cat target/e2e/demo.log
  exit 1
fi
echo "the demo served live stats on its status page"
