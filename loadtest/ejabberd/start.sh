#!/usr/bin/env bash
# Starts the instance setup.sh configured and waits until its WebSocket
# port answers; prints its URL and pid. Run setup.sh first.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
EJ_DIR=${EJ_DIR:-/tmp/chat-loadtest-ejabberd}
EJ_PORT=${EJ_PORT:-15280}
[ -f "$EJ_DIR/conf/ejabberd.yml" ] || { echo "run setup.sh first" >&2; exit 1; }
# Room for many connections: the server inherits this limit (see ctl.sh).
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
"$here/ctl.sh" start
"$here/ctl.sh" started
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$EJ_PORT") 2>/dev/null; then
    pid=$(cat "$EJ_DIR/ejabberd.pid" 2>/dev/null || true)
    echo "ejabberd open-file limit: $(awk '/Max open files/ {print $4}' "/proc/$pid/limits" 2>/dev/null)"
    echo "EJABBERD_URL=ws://127.0.0.1:$EJ_PORT/ws"
    echo "EJABBERD_PID=${pid}"
    exit 0
  fi
  sleep 0.2
done
echo "ejabberd did not open port $EJ_PORT; see $EJ_DIR/logs" >&2
exit 1
