#!/usr/bin/env bash
# Tests of infra/cassandra/start.sh against the states a machine is left in
# when an earlier run's node is still going away: start.sh must wait for
# the CQL, storage and JMX ports to be let go, then start a node that
# answers, instead of launching a node that cannot bind and failing.
#
#   1. the node's storage port held by something that is not a node (a
#      listener that answers nothing and lets go after 25 s; a node binds
#      that port in its first seconds);
#   2. our own node sent SIGTERM (it drains: CQL is closed at once, the
#      ports are held until the JVM exits) and start.sh run straight after.
#
# Runs a node of its own (CQL port 51042, storage 52042, JMX 53042, under a
# temporary CHAT_INFRA_DIR), so it never touches the suite's node, and stops
# it at the end. Takes about a minute on 2 cores.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
port="${CASSANDRA_TEST_PORT:-51042}"
dir="$(mktemp -d /tmp/chat-cassandra-start.XXXXXX)"
export CHAT_INFRA_DIR="$dir" CASSANDRA_PORT="$port"
holder=""

finish() {
  if [ -n "$holder" ]; then kill "$holder" 2>/dev/null || true; fi
  "$here/cassandra/stop.sh" --wipe >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap finish EXIT

fail() {
  echo "cassandra-start: FAILED: $*" >&2
  exit 1
}

# shellcheck source=../cassandra/common.sh
. "$here/cassandra/common.sh"
port_open() { port_listening "$1"; }

# 1. A listener on the storage port that answers nothing and exits after 25 s.
python3 -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
time.sleep(25)
' "$((port + 1000))" &
holder=$!
for _ in $(seq 50); do port_open "$((port + 1000))" && break; sleep 0.1; done
port_open "$((port + 1000))" || fail "the test's listener did not bind $((port + 1000))"

out="$("$here/cassandra/start.sh")" || fail "start.sh failed while port $((port + 1000)) was held for 25 s"
[ "$out" = "CASSANDRA_NODES=127.0.0.1:$port" ] || fail "start.sh printed '$out'"
wait "$holder" 2>/dev/null || true
holder=""
echo "cassandra-start: a node started once the held storage port was let go" >&2

# 2. Our node told to stop, and start.sh run at once.
pid="$(cat "$dir/cassandra/node.pid")"
kill -TERM "$pid"
out="$("$here/cassandra/start.sh")" || fail "start.sh failed right after node $pid was sent SIGTERM"
[ "$out" = "CASSANDRA_NODES=127.0.0.1:$port" ] || fail "start.sh printed '$out'"
new="$(cat "$dir/cassandra/node.pid")"
[ "$new" != "$pid" ] || fail "start.sh reported the stopping node $pid as ready"
is_cassandra_pid "$pid" && fail "the stopping node $pid still runs beside the new one"
echo "cassandra-start: a new node started after the old one ($pid) drained" >&2
echo "cassandra-start: ok" >&2
