#!/usr/bin/env bash
# Times the recording operations of the Python original (scales 1.0.9 from PyPI) and of this
# crate side by side, and prints how many times faster the Rust version is. Not part of CI.
#
#   scripts/bench-python.sh            # table
#   scripts/bench-python.sh --json     # the same numbers as JSON
#
# Python: a venv under target/bench-python (created once), `timeit` best of 7 repeats of
# 20 000–200 000 calls per operation, the same operations as the original's users write them
# (`STATS.hits += 1`, `STATS.latency = x`, `STATS.byCode[k] += 1`, `STATS.meter.mark()`,
# `with STATS.latency.time(): pass`). Rust: `examples/hot_path_probe.rs`, best of 7 runs of
# 2 M calls, the handle black-boxed on every call. Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=target/bench-python/venv
if [[ ! -x $VENV/bin/python ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check scales==1.0.9 six
fi

cargo build --quiet --release -p scales-core --example hot_path_probe
RUST_JSON=$(target/release/examples/hot_path_probe --json)

"$VENV/bin/python" - "$RUST_JSON" "${1:-}" <<'PY'
import json
import math
import random
import sys
import timeit

from greplin import scales
from greplin.scales import meter

STATS = scales.collection(
    "/bench",
    scales.IntStat("hits"),
    scales.PmfStat("latency"),
    scales.IntDictStat("byCode"),
    meter.MeterStat("meter"),
)
CODES = ["200", "201", "204", "301", "302", "304", "400", "401", "403", "404", "409",
         "429", "500", "502", "503", "504"]
for code in CODES:
    STATS.byCode[code] += 1
rng = random.Random(1)
VALUES = [math.exp(rng.gauss(0, 1)) * 1e-3 for _ in range(4096)]
for v in VALUES:  # fill the 1028-entry reservoir, as in steady state
    STATS.latency = v


def best_ns(stmt, number, setup="pass"):
    env = {"STATS": STATS, "VALUES": VALUES, "CODES": CODES}
    times = timeit.repeat(stmt, setup=setup, number=number, repeat=7, globals=env)
    return min(times) / number * 1e9


python = {
    "counter": best_ns("STATS.hits += 1", 200_000),
    "pmf": best_ns("STATS.latency = VALUES[0]", 20_000),
    "meter": best_ns("STATS.meter.mark()", 50_000),
    "dict": best_ns("STATS.byCode['200'] += 1", 100_000),
    "timer": best_ns("with STATS.latency.time(): pass", 20_000),
}
rust = json.loads(sys.argv[1])
names = {
    "counter": "IntStat increment",
    "pmf": "PmfStat sample",
    "meter": "MeterStat mark",
    "dict": "IntDictStat increment (existing key)",
    "timer": "PmfStat time() block",
}
rows = [(names[k], python[k], rust[k], python[k] / rust[k]) for k in names]
if sys.argv[2] == "--json":
    print(json.dumps({k: {"python_ns": python[k], "rust_ns": rust[k]} for k in names}))
else:
    print(f"{'operation':<38} {'Python ns':>11} {'Rust ns':>9} {'× faster':>10}")
    for name, py, rs, ratio in rows:
        print(f"{name:<38} {py:>11.1f} {rs:>9.2f} {ratio:>10.0f}")
    worst = min(r[3] for r in rows)
    print(f"\nslowest ratio: {worst:.0f}× ({'meets' if worst >= 100 else 'misses'} the 100× target)")
PY
