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
cd crates/scales-python
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests "$@"
