#!/usr/bin/env bash
# Stops the moto server that start.sh started (same S3_PORT and
# CHAT_INFRA_DIR) and removes its temp files; its objects are gone with it.
# Does nothing when none is running; leaves alone a process on the port that
# start.sh did not start.
set -euo pipefail

port="${S3_PORT:-59000}"
dir="${CHAT_INFRA_DIR:-/tmp/chat-infra}/s3"
pidfile="$dir/moto-$port.pid"
spill="$dir/tmp-$port"

log() { echo "s3: $*" >&2; }

pid=""
if [ -f "$pidfile" ]; then pid="$(cat "$pidfile")"; fi
# Only the moto_server process that start.sh recorded.
ours() { [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "moto_server -H 127.0.0.1 -p $port"; }

if ! ours; then
  log "no moto started by start.sh runs on 127.0.0.1:$port."
  rm -f "$pidfile"
  exit 0
fi

kill "$pid" 2>/dev/null || true
for _ in $(seq 1 50); do
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
  log "moto did not stop within 5 s; sending SIGKILL to $pid."
  kill -9 "$pid" 2>/dev/null || true
fi
rm -f "$pidfile"
rm -rf "$spill"
log "stopped moto on 127.0.0.1:$port."
