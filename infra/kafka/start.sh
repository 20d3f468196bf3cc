#!/usr/bin/env bash
# Starts a local Apache Kafka broker on loopback for tests and for trying
# the distributed mode: Kafka 4.4.0 in KRaft mode, one node (broker and
# controller), from jars Maven resolves (infra/kafka/pom.xml,
# classpath.sh), run by infra/kafka/broker.sh in the background.
# Data stays in ${CHAT_INFRA_DIR:-/tmp/chat-infra}/kafka/data across restarts
# (infra/kafka/stop.sh --wipe removes it), unless KAFKA_FRESH=1: then a
# broker this script starts starts with no data (infra/test.sh sets it).
# Prints one line, KAFKA_BOOTSTRAP=127.0.0.1:PORT, on stdout, once the broker
# takes requests; idempotent (a broker that answers on the port, twice a
# second apart, is reused: one that was just told to stop answers for a
# moment, and is waited out and replaced; the port held by anything else
# is waited for, up to KAFKA_PORT_WAIT, 90 s).
# infra/kafka/start-tansu.sh starts tansu instead (the earlier broker).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PORT="${KAFKA_PORT:-59092}"
DIR="${CHAT_INFRA_DIR:-/tmp/chat-infra}/kafka"
DATA="$DIR/data"
PIDFILE="$DIR/broker.pid"
LOG="$DATA/broker.log"
TIMEOUT=120
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$HERE/common.sh"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }
# Whether the pid in the pid file is a live broker that broker.sh started.
running() {
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null)" || return 1
  [ -n "$pid" ] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka\|broker\.sh'
}

# A broker that answers, and still answers a second later: one sent
# SIGTERM closes its port within about 300 ms.
steady() {
  kafka_coordinator_ready "$PORT" 2>/dev/null && sleep 1 && kafka_coordinator_ready "$PORT" 2>/dev/null
}

if steady; then
  echo "KAFKA_BOOTSTRAP=127.0.0.1:$PORT"
  exit 0
fi
mkdir -p "$DATA"
# One start at a time; a second one waits, then finds the broker up.
exec 9>"$DIR/start.lock"
flock 9
if steady; then
  echo "KAFKA_BOOTSTRAP=127.0.0.1:$PORT"
  exit 0
fi
# Our broker from an earlier start that does not answer (steadily) is
# starting or stopping: wait until it answers or exits.
if running; then
  old="$(cat "$PIDFILE")"
  echo "broker $old runs but does not answer yet; waiting until it answers (starting) or exits (stopping)" >&2
  deadline=$((SECONDS + TIMEOUT))
  while running; do
    if grep -q 'Kafka Server started' "$LOG" 2>/dev/null && steady; then
      echo "KAFKA_BOOTSTRAP=127.0.0.1:$PORT"
      exit 0
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "broker $old neither answered nor exited within $TIMEOUT s" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "broker $old exited; starting a new one" >&2
fi
# Anything else on the port (a broker whose pidfile is gone, still
# closing; a client's ephemeral port) is waited for.
waited=$SECONDS
while port_open; do
  if [ $((SECONDS - waited)) -ge "${KAFKA_PORT_WAIT:-90}" ]; then
    echo "port $PORT is still in use after ${KAFKA_PORT_WAIT:-90} s" >&2
    exit 1
  fi
  sleep 0.5
done
if ! command -v java >/dev/null 2>&1; then
  echo "java (17 or later) is needed to run Kafka" >&2
  exit 1
fi
KAFKA_CLASSPATH="$("$HERE/classpath.sh")"
export KAFKA_CLASSPATH
# broker.sh does this too; done here first so that the wait below never
# reads the previous run's log.
if [ -f "$LOG" ]; then
  mv -f "$LOG" "$LOG.1"
fi
if [ "${KAFKA_FRESH:-0}" = 1 ]; then
  echo "KAFKA_FRESH=1: the broker starts with no data" >&2
  rm -rf "$DATA/data"
fi
echo "starting Kafka on 127.0.0.1:$PORT (data in $DATA)" >&2
nohup "$HERE/broker.sh" "$PORT" "$DATA" >"$DIR/broker.out" 2>&1 </dev/null 9>&- &
echo $! >"$PIDFILE"

pid="$(cat "$PIDFILE")"
deadline=$((SECONDS + TIMEOUT))
while [ "$SECONDS" -lt "$deadline" ]; do
  if grep -q 'Kafka Server started' "$LOG" 2>/dev/null && kafka_coordinator_ready "$PORT"; then
    echo "Kafka is up (pid $pid)" >&2
    echo "KAFKA_BOOTSTRAP=127.0.0.1:$PORT"
    exit 0
  fi
  if ! running; then
    echo "the broker exited during its start" >&2
    break
  fi
  sleep 0.2
done
echo "Kafka did not start on 127.0.0.1:$PORT (waited up to ${TIMEOUT} s); $DIR/broker.out:" >&2
tail -n 20 "$DIR/broker.out" >&2 || true
echo "the end of $LOG:" >&2
tail -n 60 "$LOG" >&2 || true
"$HERE/stop.sh" >&2 || true
exit 1
