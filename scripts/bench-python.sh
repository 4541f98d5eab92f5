#!/usr/bin/env bash
# Times the recording operations of the Python original (scales 1.0.9 from PyPI) and of this
# crate side by side, and prints how many times faster the Rust version is. Not part of CI.
#
#   scripts/bench-python.sh            # table
#   scripts/bench-python.sh --json     # the same numbers as JSON
#   ROUNDS=9 scripts/bench-python.sh   # more rounds (default 5)
#
# Python: a venv under target/bench-python (created once), `timeit` best of 7 repeats of
# 20 000–200 000 calls per operation, the same operations as the original's users write them
# (`STATS.hits += 1`, `STATS.latency = x`, `STATS.byCode[k] += 1`, `STATS.meter.mark()`,
# `with STATS.latency.time(): pass`). Rust: `examples/hot_path_probe.rs`, best of 7 runs of
# 1 M calls, the handle black-boxed on every call.
#
# The host of a VM can change the vCPU's clock between launches (every op then moves by the
# same factor), so the two are interleaved: each round times Rust, then Python, then Rust
# again, and the round's ratio is Python over the mean of the two Rust runs. The table gives
# the median round and the slowest round. Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=target/bench-python/venv
if [[ ! -x $VENV/bin/python ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check scales==1.0.9 six
fi

cargo build --quiet --release -p scales-core --example hot_path_probe

"$VENV/bin/python" - target/release/examples/hot_path_probe "${ROUNDS:-5}" "${1:-}" <<'PY'
import json
import math
import random
import statistics
import subprocess
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


def python_round():
    return {
        "counter": best_ns("STATS.hits += 1", 200_000),
        "pmf": best_ns("STATS.latency = VALUES[0]", 20_000),
        "meter": best_ns("STATS.meter.mark()", 50_000),
        "dict": best_ns("STATS.byCode['200'] += 1", 100_000),
        "timer": best_ns("with STATS.latency.time(): pass", 20_000),
    }


def rust_round():
    out = subprocess.run([sys.argv[1], "--json", "--n", "1000000"], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


names = {
    "counter": "IntStat increment",
    "pmf": "PmfStat sample",
    "meter": "MeterStat mark",
    "dict": "IntDictStat increment (existing key)",
    "timer": "PmfStat time() block",
}
rounds = []
for _ in range(int(sys.argv[2])):
    before, python, after = rust_round(), python_round(), rust_round()
    rounds.append({k: (python[k], (before[k] + after[k]) / 2) for k in names})


def median_round(k):
    return statistics.median(r[k][0] / r[k][1] for r in rounds)


def slowest_round(k):
    return min(r[k][0] / r[k][1] for r in rounds)


if sys.argv[3] == "--json":
    print(json.dumps({k: [{"python_ns": py, "rust_ns": rs} for r in rounds
                          for (py, rs) in [r[k]]] for k in names}))
else:
    print(f"{len(rounds)} rounds (Rust, Python, Rust)")
    print(f"{'operation':<38} {'Python ns':>10} {'Rust ns':>8} {'× median':>9} {'× slowest':>10}")
    for k, name in names.items():
        py = statistics.median(r[k][0] for r in rounds)
        rs = statistics.median(r[k][1] for r in rounds)
        print(f"{name:<38} {py:>10.1f} {rs:>8.2f} {median_round(k):>9.0f} {slowest_round(k):>10.0f}")
    worst = min(slowest_round(k) for k in names)
    print(f"\nslowest ratio of any round: {worst:.0f}× "
          f"({'meets' if worst >= 100 else 'misses'} the 100× target)")
PY
