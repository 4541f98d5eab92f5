#!/usr/bin/env bash
# Builds the Python drop-in for greplin.scales (crates/scales-python) into a virtualenv and
# runs its pytest suite; scripts/test.sh runs it as one step.
#
#   scripts/python-tests.sh              # venv, build, tests
#   scripts/python-tests.sh -k threads   # extra arguments go to pytest
#
# The venv is target/python-venv (created once with `python3 -m venv`; maturin, pytest,
# and flask, bottle, tornado and twisted for the handler tests, from PyPI). The package is
# built with `maturin develop --release` (an abi3 wheel for Python 3.8+, installed editable), then
# `python -m pytest crates/scales-python/tests`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/target/python-venv
PYTHON=${PYTHON:-python3}

if ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
fi
# flask, bottle, tornado and twisted (seconds to install) let the handler tests mount the
# page in real apps; without them those tests skip.
if ! { "$VENV/bin/maturin" --version && "$VENV/bin/python" -m pytest --version &&
       "$VENV/bin/python" -c 'import bottle, flask, tornado, twisted.web'; } >/dev/null 2>&1; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "maturin>=1.5,<2" "pytest>=7" \
    "bottle>=0.12" "flask>=2" "tornado>=6" "twisted>=22"
fi

export VIRTUAL_ENV=$VENV PATH="$VENV/bin:$PATH"
maturin develop --quiet --release --locked -m crates/scales-python/Cargo.toml
(cd crates/scales-python && "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests "$@")
[[ $# -eq 0 ]] || exit 0   # a selection of tests: not the install check below

# The README's install command, as a user runs it: `pip` builds the wheel from the source
# tree (fetching maturin from PyPI into an isolated build env; cargo reuses target/), then
# the wheel goes into a fresh venv of every Python 3 on the machine, where a smoke test runs
# from outside the tree.
WHEELS=$ROOT/target/python-wheel
rm -rf "$WHEELS" && mkdir -p "$WHEELS"
CARGO_TARGET_DIR=$ROOT/target "$VENV/bin/python" -m pip wheel --quiet --disable-pip-version-check \
  --no-deps -w "$WHEELS" ./crates/scales-python
wheel=$(ls "$WHEELS"/scales_rs-*-cp38-abi3-*.whl)   # one abi3 wheel for Python 3.8+
declare -A seen=()
for python in "$PYTHON" /usr/bin/python3 /usr/bin/python3.* /usr/local/bin/python3.*; do
  [[ $python == *-config ]] && continue
  exe=$("$python" -c 'import sys; import os; print(sys.version_info >= (3, 8) and os.path.realpath(sys.executable) or "")' 2>/dev/null) || continue
  [[ -n $exe && -z ${seen[$exe]:-} ]] || continue
  seen[$exe]=1
  env=$ROOT/target/python-install-check/$(basename "$exe")-${#seen[@]}
  rm -rf "$env"
  if ! "$exe" -m venv "$env" >/dev/null 2>&1; then
    echo "install check: $exe cannot make a venv (Debian: python3-venv), skipped" >&2
    continue
  fi
  "$env/bin/python" -m pip install --quiet --disable-pip-version-check --no-index "$wheel"
  (cd /tmp && "$env/bin/python" "$ROOT/crates/scales-python/tests/installed_smoke.py")
  installed=$((${installed:-0} + 1))
done
[[ ${installed:-0} -gt 0 ]] || { echo "install check: no Python 3.8+ could install the wheel" >&2; exit 1; }
