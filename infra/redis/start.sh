#!/usr/bin/env bash
# Starts a throwaway Redis for tests on 127.0.0.1:${REDIS_PORT:-56379}: no
# persistence, daemonized, pidfile and log (named by port) under
# ${CHAT_INFRA_DIR:-/tmp/chat-infra}/redis/. Installs Debian's redis-server
# when it is missing. Idempotent: a Redis already answering on the port is
# reused.
#
# stdout carries exactly one line, REDIS_URL=redis://127.0.0.1:PORT/, so
# callers can `eval "$(infra/redis/start.sh)"`; everything else goes to stderr.
set -euo pipefail

port="${REDIS_PORT:-56379}"
dir="${CHAT_INFRA_DIR:-/tmp/chat-infra}/redis"
pidfile="$dir/redis-$port.pid"
logfile="$dir/redis-$port.log"

log() { echo "redis: $*" >&2; }

answers() { [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null || true)" = "PONG" ]; }

if ! command -v redis-server >/dev/null 2>&1; then
  log "redis-server is missing; installing Debian's package."
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq >&2 &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >&2
fi

mkdir -p "$dir"

if answers; then
  log "Redis already answers on 127.0.0.1:$port."
else
  log "Starting Redis on 127.0.0.1:$port (log: $logfile)."
  redis-server \
    --bind 127.0.0.1 \
    --port "$port" \
    --save '' \
    --appendonly no \
    --daemonize yes \
    --pidfile "$pidfile" \
    --logfile "$logfile" \
    --dir "$dir" >&2
  for _ in $(seq 1 100); do
    if answers; then break; fi
    sleep 0.1
  done
  if ! answers; then
    log "Redis did not answer within 10 s; the end of its log follows."
    tail -n 20 "$logfile" >&2 || true
    exit 1
  fi
fi

echo "REDIS_URL=redis://127.0.0.1:${port}/"
