"""Times the original's recording operations as its users write them; run under either
greplin.scales (the original 1.0.9 or this drop-in). Prints JSON: {op: best ns per call}."""

import io
import json
import math
import random
import sys
import timeit

from greplin import scales
from greplin.scales import formats, meter

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
for v in VALUES:  # fill the original's 1028-entry reservoir, as in steady state
    STATS.latency = v


class Worker(object):
    """A tree of 100 objects with a counter, a distribution and a keyed counter each."""

    done = scales.IntStat("done")
    latency = scales.PmfStat("latency")
    byCode = scales.IntDictStat("byCode")

    def __init__(self, i):
        scales.init(self, "/workers/w%d" % i)


WORKERS = [Worker(i) for i in range(100)]
for w in WORKERS:
    for v in VALUES[:200]:
        w.latency = v
    for code in CODES[:4]:
        w.byCode[code] += 3
    w.done += 7


def json_render():
    out = io.StringIO()
    formats.jsonFormat(out)
    return out


def best_ns(stmt, number):
    env = {"STATS": STATS, "VALUES": VALUES, "json_render": json_render}
    times = timeit.repeat(stmt, number=number, repeat=int(sys.argv[1]) if len(sys.argv) > 1 else 7,
                          globals=env)
    return min(times) / number * 1e9


result = {
    "counter": best_ns("STATS.hits += 1", 200_000),
    "pmf": best_ns("STATS.latency = 0.0012", 20_000),
    "meter": best_ns("STATS.meter.mark()", 50_000),
    "dict": best_ns("STATS.byCode['200'] += 1", 100_000),
    "timer": best_ns("with STATS.latency.time(): pass", 20_000),
    "json": best_ns("json_render()", 20),
    "empty_loop": best_ns("pass", 1_000_000),
}
try:
    from greplin.scales import _scales  # the drop-in: the bare crossing into Rust

    scope = _scales.scope("/crossing")
    HANDLE = scope.int_stat("n")
    result["crossing"] = min(timeit.repeat("HANDLE.add(1)", number=500_000, repeat=7,
                                           globals={"HANDLE": HANDLE})) / 500_000 * 1e9
except ImportError:
    pass
json.dump(result, sys.stdout)
