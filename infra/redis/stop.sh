#!/usr/bin/env bash
# Stops the Redis that start.sh started (same REDIS_PORT and CHAT_INFRA_DIR).
# Does nothing when none is running.
set -euo pipefail

port="${REDIS_PORT:-56379}"
dir="${CHAT_INFRA_DIR:-/tmp/chat-infra}/redis"
pidfile="$dir/redis-$port.pid"

log() { echo "redis: $*" >&2; }

if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null || true)" != "PONG" ]; then
  log "No Redis answers on 127.0.0.1:$port."
  rm -f "$pidfile"
  exit 0
fi

pid=""
if [ -f "$pidfile" ]; then pid="$(cat "$pidfile")"; fi
redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
gone() { if [ -n "$pid" ]; then ! kill -0 "$pid" 2>/dev/null; else ! redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; fi; }
for _ in $(seq 1 50); do
  if gone; then break; fi
  sleep 0.1
done
if ! gone && [ -n "$pid" ]; then
  log "Redis did not shut down within 5 s; sending SIGTERM to $pid."
  kill "$pid" 2>/dev/null || true
fi
rm -f "$pidfile"
log "Stopped Redis on 127.0.0.1:$port."
