#!/usr/bin/env bash
# Starts a one-node Apache Cassandra 5.0 (version pinned in pom.xml, jars
# from Maven Central, see classpath.sh) for tests on
# 127.0.0.1:${CASSANDRA_PORT:-59042}, in the background (node.sh under
# nohup, in its own session), with its data, system.log, stdout and pidfile
# under ${CHAT_INFRA_DIR:-/tmp/chat-infra}/cassandra/. Idempotent: a node
# that already answers CQL on the port is reused, and one of ours that is
# still starting is waited for. Installs Debian's OpenJDK 17 when no Java 17
# is found.
#
# Ready means it answers a CQL OPTIONS request, not just that the port is
# open; that takes about 10-15 s on 2 cores (longer the very first time,
# when Maven downloads about 95 MB of jars). Gives up after
# ${CASSANDRA_START_TIMEOUT:-240} s, printing the end of the log, and exits 1.
#
# stdout carries exactly one line, CASSANDRA_NODES=127.0.0.1:PORT, so callers
# can `eval "$(infra/cassandra/start.sh)"`; everything else goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=common.sh source-path=SCRIPTDIR
. "$here/common.sh"

port="${CASSANDRA_PORT:-59042}"
dir="${CHAT_INFRA_DIR:-/tmp/chat-infra}/cassandra"
data="$dir/data"
pidfile="$dir/node.pid"
outfile="$dir/node.out"
timeout="${CASSANDRA_START_TIMEOUT:-240}"

log() { echo "cassandra: $*" >&2; }

cassandra_ports "$port"

if cql_ready "$port"; then
  log "a node already answers CQL on 127.0.0.1:$port."
  echo "CASSANDRA_NODES=127.0.0.1:$port"
  exit 0
fi

mkdir -p "$dir" "$data"

if ! cassandra_java >/dev/null; then
  log "no Java 17 found; installing Debian's openjdk-17-jre-headless."
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq >&2 &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >&2
  cassandra_java >/dev/null || { log "still no Java 17."; exit 1; }
fi

began=$SECONDS
pid=""
if [ -f "$pidfile" ]; then pid="$(cat "$pidfile")"; fi
if is_cassandra_pid "$pid"; then
  log "node $pid is running but does not answer CQL yet; waiting for it."
else
  cp="$("$here/classpath.sh")"
  log "starting Cassandra on 127.0.0.1:$port (storage port $storage_port, JMX $jmx_port; data and system.log in $data)."
  # setsid: its own session, so a Ctrl-C meant for the caller does not stop
  # it. In a non-interactive shell the background child is no group leader,
  # so setsid execs in place and $! is the pid that becomes java.
  CASSANDRA_CLASSPATH="$cp" setsid nohup "$here/node.sh" "$port" "$data" \
    >"$outfile" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$pidfile"
fi

fail() {
  log "$1"
  log "the end of $data/system.log:"
  tail -n 40 "$data/system.log" >&2 2>/dev/null || true
  log "the end of $outfile:"
  tail -n 20 "$outfile" >&2 2>/dev/null || true
  exit 1
}

while ! cql_ready "$port"; do
  if ! kill -0 "$pid" 2>/dev/null; then
    rm -f "$pidfile"
    fail "the node exited before it answered CQL."
  fi
  if [ $((SECONDS - began)) -ge "$timeout" ]; then
    log "no CQL answer within $timeout s; stopping node $pid."
    "$here/stop.sh" >&2 || true
    fail "the node did not become ready."
  fi
  sleep 0.5
done

log "ready on 127.0.0.1:$port after $((SECONDS - began)) s (pid $pid)."
echo "CASSANDRA_NODES=127.0.0.1:$port"
