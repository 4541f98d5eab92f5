#!/usr/bin/env bash
# A real Prometheus for the scales-http end-to-end test (contract: see the top of
# scripts/test.sh).
#
#   prometheus.sh packages   print the Debian packages still missing (prometheus, with promtool)
#   prometheus.sh start      start Prometheus on 127.0.0.1:9090, scraping /metrics of
#                            127.0.0.1:9187 every second, and wait until it is ready
#   prometheus.sh stop       stop it (SIGTERM, then wait; idempotent)
#
# State lives under target/e2e/prometheus (prometheus.yml, data/, prometheus.log, pid).
# Ports: PROM_PORT (9090) for Prometheus, PROM_TARGET (127.0.0.1:9187) for the test's exporter.
#
# Notes from running it (Debian prometheus 2.42):
# - Started early on purpose: its first scrape comes 5-6 s after start (targets are applied
#   on a fixed 5 s tick), but once it runs, a target that starts listening later is scraped
#   within one interval. Until the test binds 9187 the target is "down"; that is fine.
# - Nothing else starts it: without systemd the package's init script is blocked.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR=${PROM_DIR:-$ROOT/target/e2e/prometheus}
PORT=${PROM_PORT:-9090}
TARGET=${PROM_TARGET:-127.0.0.1:9187}
PIDFILE=$DIR/prometheus.pid

log() { echo "[prometheus.sh] $*" >&2; }

packages() {
  if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
    echo "prometheus"
  fi
}

ready() { curl -fsS "http://127.0.0.1:$PORT/-/ready" >/dev/null 2>&1; }

write_config() {
  printf '%s\n' \
    'global:' \
    '  scrape_interval: 1s' \
    '  scrape_timeout: 1s' \
    '  evaluation_interval: 1s' \
    'scrape_configs:' \
    '  - job_name: scales-e2e' \
    '    metrics_path: /metrics' \
    '    static_configs:' \
    "      - targets: ['$TARGET']" >"$DIR/prometheus.yml"
}

start() {
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    log "already running (pid $(cat "$PIDFILE"))"
    return 0
  fi
  rm -rf "$DIR/data"
  mkdir -p "$DIR/data"
  write_config
  if ! promtool check config "$DIR/prometheus.yml" >"$DIR/check-config.log" 2>&1; then
    cat "$DIR/check-config.log" >&2
    return 1
  fi
  nohup prometheus \
    --config.file="$DIR/prometheus.yml" \
    --storage.tsdb.path="$DIR/data" \
    --web.listen-address="127.0.0.1:$PORT" \
    --log.level=warn \
    >"$DIR/prometheus.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$PIDFILE"
  for _ in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "prometheus died:"
      tail -20 "$DIR/prometheus.log" >&2
      return 1
    fi
    if ready; then
      log "ready on 127.0.0.1:$PORT (pid $pid), scraping $TARGET every 1 s"
      return 0
    fi
    sleep 0.1
  done
  log "timeout waiting for 127.0.0.1:$PORT/-/ready"
  return 1
}

stop() {
  [ -f "$PIDFILE" ] || return 0
  local pid
  pid=$(cat "$PIDFILE")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
    log "stopped pid $pid"
  fi
  rm -f "$PIDFILE"
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
