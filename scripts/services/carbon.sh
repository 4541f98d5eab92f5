#!/usr/bin/env bash
# A real Graphite carbon-cache for the scales-graphite end-to-end tests (contract: see the
# top of scripts/test.sh).
#
#   carbon.sh packages   print the Debian packages still missing (graphite-carbon python3-whisper)
#   carbon.sh start      start carbon-cache on 127.0.0.1 and wait until it listens
#   carbon.sh env        print its ports and directory (the env file below) while it runs
#   carbon.sh stop       stop it (SIGTERM, then wait; idempotent)
#
# State lives under target/e2e/carbon: conf/ (written here), storage/whisper/ (the .wsp
# files the tests read with Debian's /usr/bin/python3 and its whisper module), log/, run/.
# Stored data survives a stop/start (the outage test restarts carbon); tests use unique
# metric names per run.
#
# Ports: CARBON_PORT (plaintext), CARBON_PICKLE_PORT, CARBON_QUERY_PORT. Each one that is
# unset is a free port picked at start (tried again with other ports if another program
# binds it first). `start` writes the ports it took to target/e2e/carbon/env
# (CARBON_PORT=..., CARBON_ADDR=127.0.0.1:..., CARBON_DIR=...), which `env` prints and
# scripts/test.sh exports for the tests; with those exported, a restart (`stop`, `start`) takes the same
# ports again. Carbon is ready when its own process listens on all three ports: a foreign
# server on one of them does not count.
#
# Notes from running it (graphite-carbon 1.1.7 on Debian 12):
# - Debian's own carbon.conf sets MAX_CREATES_PER_MINUTE = 50 (new metrics beyond that are
#   dropped silently) and USER = _graphite; both are overridden here.
# - Points still in carbon's memory cache when it stops are lost; the pusher resends
#   batches whose connection closed within a few seconds of writing them.
# - With --nodaemon every log line goes to log/stdout.log; a port taken by another program
#   ends carbon-cache at once with "OSError: [Errno 98] Address already in use".
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/lib/ports.sh
. "$ROOT/scripts/lib/ports.sh"
DIR=${CARBON_DIR:-$ROOT/target/e2e/carbon}
PIDFILE=$DIR/run/carbon-cache.pid
ENVFILE=$DIR/env
LOG=$DIR/log/stdout.log
PORT= PICKLE_PORT= QUERY_PORT=

log() { echo "[carbon.sh] $*" >&2; }
running_pid() {
  local pid
  [ -f "$PIDFILE.shell" ] || return 1
  pid=$(cat "$PIDFILE.shell")
  alive "$pid" && echo "$pid"
}

packages() {
  if [ ! -x /usr/bin/carbon-cache ] || ! /usr/bin/python3 -c 'import whisper' 2>/dev/null; then
    echo "graphite-carbon python3-whisper"
  fi
}

write_config() {
  mkdir -p "$DIR"/{conf,storage/whisper,storage/lists,log,run}
  cat >"$DIR/conf/carbon.conf" <<EOF
[cache]
STORAGE_DIR    = $DIR/storage/
LOCAL_DATA_DIR = $DIR/storage/whisper/
WHITELISTS_DIR = $DIR/storage/lists/
CONF_DIR       = $DIR/conf/
LOG_DIR        = $DIR/log/
PID_DIR        = $DIR/run/
DATABASE = whisper
ENABLE_LOGROTATION = False
USER =
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = inf
MAX_CREATES_PER_MINUTE = inf
MIN_TIMESTAMP_RESOLUTION = 1
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = $PORT
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = $PICKLE_PORT
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = $QUERY_PORT
USE_FLOW_CONTROL = True
LOG_UPDATES = False
LOG_CREATES = True
LOG_LISTENER_CONN_SUCCESS = True
CACHE_WRITE_STRATEGY = sorted
WHISPER_AUTOFLUSH = True
WHISPER_FALLOCATE_CREATE = False
ENABLE_TAGS = False
CARBON_METRIC_INTERVAL = 0
EOF
  # bench.*: small files (748 bytes, one point a minute for an hour; the default schema
  # makes 146,920-byte files) for the 100,000-metric push example
  # crates/scales-graphite/examples/carbon_push.rs. Everything else as before.
  cat >"$DIR/conf/storage-schemas.conf" <<EOF
[bench]
pattern = ^bench\\.
retentions = 1m:1h

[default]
pattern = .*
retentions = 1s:1h,10s:1d
EOF
  cat >"$DIR/conf/storage-aggregation.conf" <<EOF
[default]
pattern = .*
xFilesFactor = 0
aggregationMethod = average
EOF
}

# Sets PORT, PICKLE_PORT and QUERY_PORT: the ones from the environment, free ones for the rest.
pick_ports() {
  local free
  mapfile -t free < <(free_ports 3)
  [ ${#free[@]} -eq 3 ] || { log "cannot pick free ports (python3 missing?)"; return 1; }
  PORT=${CARBON_PORT:-${free[0]}}
  PICKLE_PORT=${CARBON_PICKLE_PORT:-${free[1]}}
  QUERY_PORT=${CARBON_QUERY_PORT:-${free[2]}}
}

show_log() {   # OFFSET: the log from that byte on
  log "its log ($LOG):"
  tail -c +"$(($1 + 1))" "$LOG" | grep -v -e CryptographyDeprecationWarning -e 'algorithms\.' | tail -40 >&2 || true
}

start() {
  local pid
  if pid=$(running_pid); then
    log "already running (pid $pid, ports in $ENVFILE)"
    return 0
  fi
  local attempt offset
  for attempt in 1 2 3 4 5; do
    pick_ports
    write_config
    offset=$(stat -c %s "$LOG" 2>/dev/null || echo 0)
    nohup /usr/bin/carbon-cache --config="$DIR/conf/carbon.conf" --pidfile="$PIDFILE" \
      --nodaemon start >>"$LOG" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PIDFILE.shell"
    for _ in $(seq 1 300); do
      if ! alive "$pid"; then
        wait "$pid" 2>/dev/null || true
        rm -f "$PIDFILE.shell"
        if tail -c +"$((offset + 1))" "$LOG" | grep -q 'Address already in use'; then
          if [ -n "${CARBON_PORT:-}" ] && [ -n "${CARBON_PICKLE_PORT:-}" ] && [ -n "${CARBON_QUERY_PORT:-}" ]; then
            log "another program holds one of the ports CARBON_PORT=$PORT CARBON_PICKLE_PORT=$PICKLE_PORT CARBON_QUERY_PORT=$QUERY_PORT"
            show_log "$offset"
            return 1
          fi
          log "a port was taken before carbon-cache bound it (attempt $attempt); trying other ports"
          continue 2
        fi
        log "carbon-cache died during start-up"
        show_log "$offset"
        return 1
      fi
      if listens "$pid" "$PORT" && listens "$pid" "$PICKLE_PORT" && listens "$pid" "$QUERY_PORT"; then
        write_env "$ENVFILE" CARBON_PORT="$PORT" CARBON_PICKLE_PORT="$PICKLE_PORT" \
          CARBON_QUERY_PORT="$QUERY_PORT" CARBON_ADDR="127.0.0.1:$PORT" CARBON_DIR="$DIR"
        log "ready on 127.0.0.1:$PORT (pickle $PICKLE_PORT, query $QUERY_PORT; pid $pid)"
        return 0
      fi
      sleep 0.1
    done
    log "carbon-cache (pid $pid) did not listen on 127.0.0.1:$PORT, $PICKLE_PORT and $QUERY_PORT within 30 s"
    show_log "$offset"
    stop
    return 1
  done
  log "gave up after $attempt attempts: other programs kept taking the ports picked"
  return 1
}

stop() {
  local pid
  rm -f "$ENVFILE"
  if ! pid=$(running_pid); then
    rm -f "$PIDFILE.shell"
    return 0
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 100); do
    if ! alive "$pid"; then
      wait "$pid" 2>/dev/null || true
      rm -f "$PIDFILE.shell"
      log "stopped (pid $pid)"
      return 0
    fi
    sleep 0.1
  done
  log "pid $pid ignored SIGTERM for 10 s, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PIDFILE.shell"
}

case "${1:-}" in
  packages) packages ;;
  start) start ;;
  env)
    if running_pid >/dev/null && [ -f "$ENVFILE" ]; then cat "$ENVFILE"; fi
    ;;
  stop) stop ;;
  *)
    echo "usage: $0 packages|start|env|stop" >&2
    exit 2
    ;;
esac
