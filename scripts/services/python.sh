#!/usr/bin/env bash
# Python's venv module for the Python drop-in's tests (scripts/python-tests.sh), which
# Debian ships apart from python3 (contract: see the top of scripts/test.sh).
#
#   python.sh packages   print python3-venv when `python3 -m venv` is missing
#   python.sh start      nothing runs in the background; checks that venv works
#   python.sh env        nothing to export
#   python.sh stop       nothing to stop
set -euo pipefail

has_venv() { python3 -m venv --help >/dev/null 2>&1; }

case "${1:-}" in
  packages)
    if ! has_venv; then echo "python3-venv"; fi
    ;;
  start)
    if ! has_venv; then
      echo "[python.sh] python3 -m venv is missing" >&2
      exit 1
    fi
    echo "[python.sh] $(python3 --version) with venv" >&2
    ;;
  env) ;;
  stop) ;;
  *)
    echo "usage: $0 packages|start|env|stop" >&2
    exit 2
    ;;
esac
