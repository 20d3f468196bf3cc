#!/usr/bin/env bash
# Tests of infra/kafka/start.sh against a broker still going away: run
# straight after its broker was sent SIGTERM (it answers for a moment,
# then closes its port and exits within about a second), start.sh must end
# with a broker that stays up, not hand out the one that is stopping.
#
# Runs a broker of its own (port 51092, under a temporary CHAT_INFRA_DIR),
# so it never touches the suite's, and stops it at the end. About 20 s.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=../kafka/common.sh
. "$here/kafka/common.sh"
port="${KAFKA_TEST_PORT:-51092}"
dir="$(mktemp -d /tmp/chat-kafka-start.XXXXXX)"
export CHAT_INFRA_DIR="$dir" KAFKA_PORT="$port"

finish() {
  "$here/kafka/stop.sh" --wipe >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap finish EXIT

fail() {
  echo "kafka-start: FAILED: $*" >&2
  exit 1
}

"$here/kafka/start.sh" >/dev/null || fail "the first start failed"
pid="$(cat "$dir/kafka/broker.pid")"

kill -TERM "$pid"
out="$("$here/kafka/start.sh")" || fail "start.sh failed right after broker $pid was sent SIGTERM"
[ "$out" = "KAFKA_BOOTSTRAP=127.0.0.1:$port" ] || fail "start.sh printed '$out'"
# The old broker is gone within a second or two; the one start.sh gave
# must still answer after that.
sleep 3
kafka_coordinator_ready "$port" 2>/dev/null || fail "no broker answers on $port: start.sh gave the one that was stopping"
new="$(cat "$dir/kafka/broker.pid")"
[ "$new" != "$pid" ] || fail "the pidfile still names the stopped broker $pid"
echo "kafka-start: a new broker ($new) runs after the old one ($pid) stopped" >&2
echo "kafka-start: ok" >&2
