#!/usr/bin/env bash
# tmux for the `scales watch` end-to-end test (crates/scales-cli/tests/it/watch.rs), which
# runs the live view in a detached tmux session of its own (its own -L socket), types keys
# with send-keys and reads the screen with capture-pane (contract: see the top of
# scripts/test.sh).
#
#   tmux.sh packages   print the Debian package still missing (tmux)
#   tmux.sh start      nothing runs in the background: each test starts its own tmux server;
#                      this checks it is installed
#   tmux.sh env        nothing to export
#   tmux.sh stop       nothing to stop
set -euo pipefail

case "${1:-}" in
  packages)
    if ! command -v tmux >/dev/null; then echo "tmux"; fi
    ;;
  start)
    if ! command -v tmux >/dev/null; then
      echo "[tmux.sh] tmux is missing" >&2
      exit 1
    fi
    echo "[tmux.sh] $(tmux -V), run per test" >&2
    ;;
  env) ;;
  stop) ;;
  *)
    echo "usage: $0 packages|start|env|stop" >&2
    exit 2
    ;;
esac
