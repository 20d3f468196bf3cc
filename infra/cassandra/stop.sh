#!/usr/bin/env bash
# stop.sh [--wipe]: stops the Cassandra node that start.sh started (same
# CHAT_INFRA_DIR): SIGTERM (Cassandra drains: flushes memtables, closes the
# commit log), up to ${CASSANDRA_STOP_TIMEOUT:-30} s, then SIGKILL. The
# pidfile is removed. --wipe also deletes the node's data, logs and stdout,
# so the next start begins empty. Does nothing when no node of ours runs.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=common.sh source-path=SCRIPTDIR
. "$here/common.sh"

dir="${CHAT_INFRA_DIR:-/tmp/chat-infra}/cassandra"
data="$dir/data"
pidfile="$dir/node.pid"
outfile="$dir/node.out"
grace="${CASSANDRA_STOP_TIMEOUT:-30}"

wipe=0
for arg in "$@"; do
  case "$arg" in
    --wipe) wipe=1 ;;
    *)
      echo "usage: $0 [--wipe]" >&2
      exit 2
      ;;
  esac
done

log() { echo "cassandra: $*" >&2; }

pid=""
if [ -f "$pidfile" ]; then pid="$(cat "$pidfile")"; fi
if ! is_cassandra_pid "$pid"; then
  # No (live) pidfile: look for a daemon running on this data directory.
  pid="$(cassandra_pid_on "$data")"
fi

if [ -n "$pid" ] && is_cassandra_pid "$pid"; then
  kill -TERM "$pid" 2>/dev/null || true
  waited=0
  # A zombie has an empty cmdline, so it counts as gone.
  while is_cassandra_pid "$pid" && [ "$waited" -lt $((grace * 2)) ]; do
    sleep 0.5
    waited=$((waited + 1))
  done
  if is_cassandra_pid "$pid"; then
    log "node $pid did not stop within $grace s; sending SIGKILL."
    kill -KILL "$pid" 2>/dev/null || true
    while is_cassandra_pid "$pid"; do sleep 0.1; done
  fi
  log "stopped node $pid."
else
  log "no node of ours is running."
fi
rm -f "$pidfile"

if [ "$wipe" = 1 ]; then
  rm -rf "$data" "$outfile"
  log "wiped $data."
fi
