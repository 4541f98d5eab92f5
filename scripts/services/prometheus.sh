#!/usr/bin/env bash
# A real Prometheus for the scales-http end-to-end test (contract: see the top of
# scripts/test.sh).
#
#   prometheus.sh packages   print the Debian packages still missing (prometheus, with promtool)
#   prometheus.sh start      start Prometheus on 127.0.0.1, scraping every second the targets
#                            listed in its file_sd file, and wait until it is ready
#   prometheus.sh env        print its port, URL and targets file (the env file below)
#   prometheus.sh stop       stop it (SIGTERM, then wait; idempotent)
#
# State lives under target/e2e/prometheus (prometheus.yml, targets/, data/, prometheus.log,
# pid). Port: PROM_PORT, or else a free port picked at start (tried again with another one
# if a program binds it first). `start` writes target/e2e/prometheus/env (PROM_PORT=...,
# PROM_URL=http://127.0.0.1:..., PROM_TARGETS_FILE=...), which `env` prints and
# scripts/test.sh exports for the tests. Prometheus is ready when its own process listens
# on the port, answers /-/ready, and /api/v1/status/flags names this config file: a foreign
# server on the port does not count.
#
# The scraped program is not on a fixed port either: the test binds port 0 and writes its
# address to PROM_TARGETS_FILE (file_sd_configs, JSON `[{"targets": ["127.0.0.1:N"]}]`,
# written to a temporary file and renamed); the job is `scales-e2e`. The file starts as `[]`.
#
# Notes from running it (Debian prometheus 2.42):
# - Started early on purpose: the scrape manager applies discovered targets on a fixed 5 s
#   tick, so a target written to the file is first scraped 5-7 s later.
# - Nothing else starts it: without systemd the package's init script is blocked.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/lib/ports.sh
. "$ROOT/scripts/lib/ports.sh"
DIR=${PROM_DIR:-$ROOT/target/e2e/prometheus}
PIDFILE=$DIR/prometheus.pid
ENVFILE=$DIR/env
TARGETS=$DIR/targets/scales-e2e.json
PORT=

log() { echo "[prometheus.sh] $*" >&2; }

packages() {
  if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
    echo "prometheus"
  fi
}

# Whether the Prometheus on PORT is ours: its /api/v1/status/flags names our config file.
ours() {
  curl -fsS --max-time 2 "http://127.0.0.1:$PORT/api/v1/status/flags" 2>/dev/null |
    python3 -c 'import json, sys; sys.exit(json.load(sys.stdin)["data"]["config.file"] != sys.argv[1])' \
      "$DIR/prometheus.yml" 2>/dev/null
}

ready() { curl -fsS --max-time 2 "http://127.0.0.1:$PORT/-/ready" >/dev/null 2>&1; }

write_config() {
  printf '%s\n' \
    'global:' \
    '  scrape_interval: 1s' \
    '  scrape_timeout: 1s' \
    '  evaluation_interval: 1s' \
    'scrape_configs:' \
    '  - job_name: scales-e2e' \
    '    metrics_path: /metrics' \
    '    file_sd_configs:' \
    "      - files: ['$TARGETS']" \
    '        refresh_interval: 1s' >"$DIR/prometheus.yml"
}

start() {
  if [ -f "$PIDFILE" ] && alive "$(cat "$PIDFILE")"; then
    log "already running (pid $(cat "$PIDFILE"), port in $ENVFILE)"
    return 0
  fi
  rm -rf "$DIR/data" "$DIR/targets"
  mkdir -p "$DIR/data" "$DIR/targets"
  echo '[]' >"$TARGETS"
  write_config
  if ! promtool check config "$DIR/prometheus.yml" >"$DIR/check-config.log" 2>&1; then
    log "promtool rejects $DIR/prometheus.yml:"
    cat "$DIR/check-config.log" >&2
    return 1
  fi
  local attempt pid
  for attempt in 1 2 3 4 5; do
    PORT=${PROM_PORT:-$(free_ports 1)}
    [ -n "$PORT" ] || { log "cannot pick a free port (python3 missing?)"; return 1; }
    nohup prometheus \
      --config.file="$DIR/prometheus.yml" \
      --storage.tsdb.path="$DIR/data" \
      --web.listen-address="127.0.0.1:$PORT" \
      --log.level=warn \
      >"$DIR/prometheus.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PIDFILE"
    for _ in $(seq 1 300); do
      if ! alive "$pid"; then
        rm -f "$PIDFILE"
        if grep -q 'address already in use' "$DIR/prometheus.log"; then
          if [ -n "${PROM_PORT:-}" ]; then
            log "another program holds PROM_PORT=$PORT:"
            tail -20 "$DIR/prometheus.log" >&2
            return 1
          fi
          log "port $PORT was taken before Prometheus bound it (attempt $attempt); trying another"
          continue 2
        fi
        log "prometheus died; its log ($DIR/prometheus.log):"
        tail -20 "$DIR/prometheus.log" >&2
        return 1
      fi
      if listens "$pid" "$PORT" && ready && ours; then
        write_env "$ENVFILE" PROM_PORT="$PORT" PROM_URL="http://127.0.0.1:$PORT" \
          PROM_TARGETS_FILE="$TARGETS"
        log "ready on 127.0.0.1:$PORT (pid $pid), scraping the targets in $TARGETS every 1 s"
        return 0
      fi
      sleep 0.1
    done
    log "prometheus (pid $pid) was not ready on 127.0.0.1:$PORT within 30 s; its log:"
    tail -20 "$DIR/prometheus.log" >&2
    stop
    return 1
  done
  log "gave up after $attempt attempts: other programs kept taking the ports picked"
  return 1
}

stop() {
  rm -f "$ENVFILE"
  [ -f "$PIDFILE" ] || return 0
  local pid
  pid=$(cat "$PIDFILE")
  if alive "$pid"; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then kill -KILL "$pid"; fi
    log "stopped pid $pid"
  fi
  rm -f "$PIDFILE"
}

case "${1:-}" in
  packages) packages ;;
  start) start ;;
  env)
    if [ -f "$PIDFILE" ] && alive "$(cat "$PIDFILE")" && [ -f "$ENVFILE" ]; then cat "$ENVFILE"; fi
    ;;
  stop) stop ;;
  *)
    echo "usage: $0 packages|start|env|stop" >&2
    exit 2
    ;;
esac
