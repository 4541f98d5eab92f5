#!/usr/bin/env bash
# Fuzzes every parser of outside input with cargo-fuzz (libFuzzer): the `?query=` language
# (fuzz/fuzz_targets/query.rs), stat names and paths (paths.rs), HTTP paths and query
# strings against the status server's router (http.rs), and the JSON reader (json_read.rs).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   default 20; scripts/test.sh runs it with 15
#
# Installs cargo-fuzz when missing (`cargo install cargo-fuzz --locked`, about two minutes).
# cargo-fuzz wants a nightly compiler for its flags; RUSTC_BOOTSTRAP=1 lets the stable
# toolchain accept them. Crashes are saved under fuzz/artifacts/<target>/ and make this
# script fail; turn each into a regression test (see RELIABILITY.md).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-20}
TARGETS=(query paths http json_read)

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "[fuzz.sh] installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi
export RUSTC_BOOTSTRAP=1
cd fuzz
cargo fuzz build -O
mkdir -p ../target/e2e
for target in "${TARGETS[@]}"; do
  log=../target/e2e/fuzz-$target.log
  mkdir -p "corpus/$target"
  if ! cargo fuzz run -O "$target" -- -max_total_time="$SECONDS_PER_TARGET" >"$log" 2>&1; then
    echo "[fuzz.sh] fuzz target $target found a crash; its log ($log) ends:" >&2
    tail -40 "$log" >&2
    exit 1
  fi
  echo "[fuzz.sh] $target: $(grep -E '^Done [0-9]+ runs' "$log" | tail -1)"
done
