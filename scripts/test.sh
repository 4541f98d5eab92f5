#!/usr/bin/env bash
# Runs every check and test of the workspace; `.ci/run` calls this script.
#
# End-to-end suites talk to real servers (carbon-cache, Prometheus, headless Chromium). Each
# server has a script in scripts/services/<name>.sh that answers four commands:
#   packages  print the Debian packages still missing for it (nothing when installed)
#   start     start it on 127.0.0.1 and wait until it is ready; print nothing on stdout but
#             progress on stderr; state lives under target/e2e/<name>
#   env       print the shell assignments (NAME=value lines) the tests need to reach the
#             running server (its ports, files); nothing when there are none
#   stop      stop it (idempotent)
# No server listens on a fixed port: each takes free ports at start unless its variables
# (CARBON_PORT, PROM_PORT, ...) are set, and checks that the port answering is its own.
# Missing packages are installed in the background while cargo builds. The servers are
# started before the tests run, their `env` is exported, and they are stopped on exit.
# Tests that need them run when SCALES_E2E=1 (set here) and fail if a server is missing;
# plain `cargo test` skips them. When a step fails, the script says which one and shows
# its log.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=scripts/lib/ports.sh
. "$ROOT/scripts/lib/ports.sh"
shopt -s nullglob
SERVICES=(scripts/services/*.sh)
mkdir -p target/e2e

STEP="setting up"
step() {
  STEP=$*
  printf '\n== %s\n' "$*"
}
fail() {
  echo "scripts/test.sh: $*" >&2
  exit 1
}
stop_services() {
  for service in "${SERVICES[@]}"; do "$ROOT/$service" stop || true; done
}
on_exit() {
  local status=$?
  stop_services
  if [ "$status" -ne 0 ]; then
    printf '\nscripts/test.sh: FAILED (exit status %s) in step: %s\n' "$status" "$STEP" >&2
  fi
  exit "$status"
}
trap on_exit EXIT

# 1) Debian packages the end-to-end suites need, installed while cargo builds.
step "checking the Debian packages the end-to-end tests need"
need=()
for service in "${SERVICES[@]}"; do
  missing=$("$service" packages) || fail "$service packages failed"
  read -r -a missing <<<"$missing"
  need+=("${missing[@]}")
done
APT_PID=
if [ ${#need[@]} -gt 0 ]; then
  how="apt-get install --no-install-recommends ${need[*]}"
  command -v apt-get >/dev/null ||
    fail "the end-to-end tests need the Debian packages ${need[*]}, and apt-get is missing: install them by hand"
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null ||
      fail "the end-to-end tests need the Debian packages ${need[*]}; installing them needs root and sudo is missing: run as root, or have them installed ($how)"
    if ! sudo -n true 2>/dev/null; then
      [ -t 0 ] ||
        fail "the end-to-end tests need the Debian packages ${need[*]}; sudo needs a password and there is no terminal to ask on: run 'sudo $how' first"
      echo "sudo asks for your password to install ${need[*]}"
      sudo -v || fail "sudo failed; the end-to-end tests need the Debian packages ${need[*]} ($how)"
    fi
    SUDO=(sudo -n)
  fi
  step "installing in the background${SUDO:+ with sudo}: ${need[*]}"
  (
    "${SUDO[@]}" apt-get update -q &&
      "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${need[@]}"
  ) >target/e2e/apt.log 2>&1 &
  APT_PID=$!
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "module dependencies point one way (scripts/module-graph.sh)"
bash scripts/module-graph.sh >/dev/null || bash scripts/module-graph.sh

step "rustdoc -D warnings (broken intra-doc links, bad examples' markup)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --locked --quiet
# Private items' docs too: their links are read by whoever works on the code.
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --locked --quiet \
    --document-private-items

step "cargo build (tests, benchmarks, binaries)"
cargo build --workspace --all-targets --locked
cargo bench --workspace --locked --no-run
# A program that only records builds the core without any output format.
cargo clippy -p scales-core --no-default-features --all-targets --locked -- -D warnings

if [ -n "$APT_PID" ]; then
  step "waiting for the installation of ${need[*]}"
  if ! wait "$APT_PID"; then
    echo "apt-get could not install ${need[*]}; the end of target/e2e/apt.log:" >&2
    tail -40 target/e2e/apt.log >&2
    exit 1
  fi
fi

# 2) Real servers for the end-to-end suites, on ports they pick; the tests get them from
# the environment.
for service in "${SERVICES[@]}"; do
  name=$(basename "$service" .sh)
  step "starting $name"
  "$service" start || fail "$service start failed (its log is above)"
  assignments=$("$service" env) || fail "$service env failed"
  set -a
  eval "$assignments"
  set +a
  [ -z "$assignments" ] || echo "$name: $(echo "$assignments" | tr '\n' ' ')"
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
# Free ports and a name of its own: the page must show that name, so another program on the
# same port (another demo, say) cannot pass for it.
demo_serves() {   # PORT NAME
  curl -fsS --max-time 5 "http://127.0.0.1:$1/status/" -o target/e2e/demo.html 2>/dev/null &&
    grep -qF "<title>$2 - Status</title>" target/e2e/demo.html &&
    curl -fsS --max-time 5 "http://127.0.0.1:$1/status/?format=json" -o target/e2e/demo.json 2>/dev/null &&
    python3 -c 'import json; d=json.load(open("target/e2e/demo.json")); assert d["web"]["success"] > 0 and d["processor"]["thread-0"]["finished"] >= 0' 2>/dev/null
}
# Built first, so that the polling below does not run out while cargo compiles (`cargo run
# -p` may rebuild it with other features than the workspace build).
cargo build --quiet --locked -p scales-demo --bin scales-demo
DEMO_BIN=${CARGO_TARGET_DIR:-target}/debug/scales-demo
for attempt in 1 2 3; do
  mapfile -t demo_ports < <(free_ports 2)
  [ ${#demo_ports[@]} -eq 2 ] || fail "cannot pick free ports for the demo (python3 missing?)"
  demo_name="scales-test-$$-$attempt-$RANDOM"
  echo "scales-demo --name $demo_name --port ${demo_ports[0]} --app-port ${demo_ports[1]}"
  "$DEMO_BIN" --duration 8 --name "$demo_name" \
    --port "${demo_ports[0]}" --app-port "${demo_ports[1]}" >target/e2e/demo.log 2>&1 &
  DEMO_PID=$!
  demo_ok=
  for _ in $(seq 1 100); do
    if demo_serves "${demo_ports[0]}" "$demo_name"; then
      demo_ok=1
      break
    fi
    kill -0 "$DEMO_PID" 2>/dev/null || break
    sleep 0.2
  done
  demo_status=0
  wait "$DEMO_PID" || demo_status=$?
  if [ -n "$demo_ok" ] && [ "$demo_status" -eq 0 ]; then
    break
  fi
  if [ -z "$demo_ok" ] && [ "$attempt" -lt 3 ] && grep -qiE 'address already in use|port .* is in use' target/e2e/demo.log; then
    echo "a port was taken before the demo bound it; trying other ports"
    continue
  fi
  if [ -n "$demo_ok" ]; then
    echo "the demo served live stats, then exited with status $demo_status; target/e2e/demo.log:" >&2
  else
    echo "the demo's status page never showed live stats under the name $demo_name (demo exit status $demo_status); target/e2e/demo.log:" >&2
  fi
  cat target/e2e/demo.log >&2
  exit 1
done
echo "the demo served live stats on its status page"

step "fuzzing the parsers of outside input (scripts/fuzz.sh, 15 s a target)"
./scripts/fuzz.sh 15

step "soak: recording, churning keys and objects, scraping and pushing to carbon (20 s)"
cargo run --quiet --locked -p scales-demo --example soak -- --duration 20 \
  --graphite "$CARBON_ADDR" >target/e2e/soak.log 2>&1 || {
  echo "the soak failed; target/e2e/soak.log:" >&2
  cat target/e2e/soak.log >&2
  exit 1
}
tail -2 target/e2e/soak.log

step "Python drop-in: greplin.scales on the Rust core (scripts/python-tests.sh: venv, maturin, pytest)"
./scripts/python-tests.sh
