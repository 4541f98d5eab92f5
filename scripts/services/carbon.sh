#!/usr/bin/env bash
# A real Graphite carbon-cache for the scales-graphite end-to-end tests (contract: see the
# top of scripts/test.sh).
#
#   carbon.sh packages   print the Debian packages still missing (graphite-carbon python3-whisper)
#   carbon.sh start      start carbon-cache on 127.0.0.1:2003 and wait until it accepts
#   carbon.sh stop       stop it (SIGTERM, then wait; idempotent)
#
# State lives under target/e2e/carbon: conf/ (written here), storage/whisper/ (the .wsp
# files the tests read with Debian's /usr/bin/python3 and its whisper module), log/, run/.
# Stored data survives a stop/start (the outage test restarts carbon); tests use unique
# metric names per run. Ports: CARBON_PORT (2003, plaintext), CARBON_PICKLE_PORT (2004),
# CARBON_QUERY_PORT (7002).
#
# Notes from running it (graphite-carbon 1.1.7 on Debian 12):
# - Debian's own carbon.conf sets MAX_CREATES_PER_MINUTE = 50 (new metrics beyond that are
#   dropped silently) and USER = _graphite; both are overridden here.
# - Points still in carbon's memory cache when it stops are lost; the pusher resends
#   batches whose connection closed within a few seconds of writing them.
# - With --nodaemon every log line goes to log/stdout.log.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR=${CARBON_DIR:-$ROOT/target/e2e/carbon}
PORT=${CARBON_PORT:-2003}
PICKLE_PORT=${CARBON_PICKLE_PORT:-2004}
QUERY_PORT=${CARBON_QUERY_PORT:-7002}
PIDFILE=$DIR/run/carbon-cache.pid

log() { echo "[carbon.sh] $*" >&2; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
running_pid() {
  local pid
  [ -f "$PIDFILE.shell" ] || return 1
  pid=$(cat "$PIDFILE.shell")
  kill -0 "$pid" 2>/dev/null && echo "$pid"
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

start() {
  if pid=$(running_pid); then
    log "already running (pid $pid)"
    return 0
  fi
  if port_open "$PORT"; then
    log "port $PORT is taken by another process"
    return 1
  fi
  write_config
  nohup /usr/bin/carbon-cache --config="$DIR/conf/carbon.conf" --pidfile="$PIDFILE" \
    --nodaemon start >>"$DIR/log/stdout.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$PIDFILE.shell"
  for _ in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "carbon-cache died during start-up:"
      tail -30 "$DIR/log/stdout.log" >&2 || true
      rm -f "$PIDFILE.shell"
      return 1
    fi
    if port_open "$PORT"; then
      log "ready on 127.0.0.1:$PORT (pid $pid)"
      return 0
    fi
    sleep 0.1
  done
  log "timeout waiting for port $PORT"
  return 1
}

stop() {
  local pid
  if ! pid=$(running_pid); then
    rm -f "$PIDFILE.shell"
    return 0
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 100); do
    if ! kill -0 "$pid" 2>/dev/null; then
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
  stop) stop ;;
  *)
    echo "usage: $0 packages|start|stop" >&2
    exit 2
    ;;
esac
