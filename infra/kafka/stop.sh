#!/usr/bin/env bash
# Stops the broker infra/kafka/start.sh (or start-tansu.sh) started:
# SIGTERM (Kafka shuts down cleanly, in about a second; the very first
# clean stop also writes broker.sh's class-data archive, a few seconds
# more), then SIGKILL after 20 s.
# The data stays for the next start unless --wipe is given.
set -euo pipefail
DIR="${CHAT_INFRA_DIR:-/tmp/chat-infra}/kafka"
PIDFILE="$DIR/broker.pid"
WIPE=0
for arg in "$@"; do
  case "$arg" in
    --wipe) WIPE=1 ;;
    *) echo "usage: $0 [--wipe]" >&2; exit 2 ;;
  esac
done

# Whether $1 is still the broker (not a process that reused its pid).
ours() {
  tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -q 'kafka\.Kafka\|broker\.sh\|tansu'
}
# Whether every thread of process $1 has exited, so its sockets are closed
# (its command line empties earlier, while the JVM's threads still exit),
# or its pid is another process's already.
gone() {
  [ -d "/proc/$1" ] || return 0
  if grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; then
    [ "$(find "/proc/$1/task" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)" -le 1 ]
    return
  fi
  ! ours "$1"
}
# wait_gone PID TENTHS: waits up to TENTHS tenths of a second.
wait_gone() {
  local i
  for ((i = 0; i < $2; i++)); do
    gone "$1" && return 0
    sleep 0.1
  done
  return 1
}

if [ -f "$PIDFILE" ]; then
  pid="$(cat "$PIDFILE")"
  if [ -n "$pid" ] && ours "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" 200; then
      echo "the broker (pid $pid) did not stop within 20 s; killing it" >&2
      if ours "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
      wait_gone "$pid" 50 || true
    fi
  fi
  rm -f "$PIDFILE"
fi
if [ "$WIPE" = 1 ]; then
  rm -rf "$DIR/data"
fi
