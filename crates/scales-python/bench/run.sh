#!/usr/bin/env bash
# The Python drop-in against the original (scales==1.0.9 from PyPI), same interpreter, same
# run: each round runs bench/ops.py under the original, then under the drop-in, then the
# original again, and prints the median per op and the ratio. Not part of CI.
#
#   crates/scales-python/bench/run.sh          # 3 rounds
#   ROUNDS=5 crates/scales-python/bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
ORIG=target/bench-python/venv      # shared with scripts/bench-python.sh
if [[ ! -x $ORIG/bin/python ]]; then
    python3 -m venv "$ORIG"
    "$ORIG/bin/pip" install --quiet --disable-pip-version-check scales==1.0.9 six
fi
OURS=target/python-venv
if ! "$OURS/bin/python" -c 'import greplin.scales._scales' 2>/dev/null; then
    echo "build the drop-in first: scripts/python-tests.sh" >&2
    exit 1
fi
[[ "$("$ORIG/bin/python" -c 'import sys; print(sys.version)')" == "$("$OURS/bin/python" -c 'import sys; print(sys.version)')" ]] ||
    { echo "the two venvs run different interpreters" >&2; exit 1; }
ops=crates/scales-python/bench/ops.py
rounds=()
for _ in $(seq 1 "${ROUNDS:-3}"); do
    a=$(cd /tmp && "$OLDPWD/$ORIG/bin/python" "$OLDPWD/$ops")
    b=$(cd /tmp && "$OLDPWD/$OURS/bin/python" "$OLDPWD/$ops")
    c=$(cd /tmp && "$OLDPWD/$ORIG/bin/python" "$OLDPWD/$ops")
    rounds+=("[$a,$b,$c]")
done
IFS=,; python3 - "[${rounds[*]}]" <<'PY'
import json, statistics, sys
rounds = json.loads(sys.argv[1])
names = {"counter": "IntStat +=", "pmf": "PmfStat = v", "meter": "MeterStat.mark()",
         "dict": "IntDictStat[k] +=", "timer": "with PmfStat.time()", "json": "jsonFormat (100 objects)"}
print(f"{len(rounds)} rounds (original, drop-in, original); {sys.version.split()[0]}")
print(f"{'operation':<26} {'original ns':>12} {'drop-in ns':>11} {'× median':>9} {'× worst':>8}")
for k, name in names.items():
    orig = [(a[k] + c[k]) / 2 for a, b, c in rounds]
    ours = [b[k] for a, b, c in rounds]
    ratios = [o / n for o, n in zip(orig, ours)]
    print(f"{name:<26} {statistics.median(orig):>12.0f} {statistics.median(ours):>11.0f} "
          f"{statistics.median(ratios):>9.1f} {min(ratios):>8.1f}")
print(f"bare crossing into Rust (handle.add(1)): {statistics.median(b['crossing'] for a, b, c in rounds):.0f} ns;"
      f" empty timeit loop: {statistics.median(b['empty_loop'] for a, b, c in rounds):.0f} ns")
PY
