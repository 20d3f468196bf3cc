#!/usr/bin/env bash
# Starts a one-node Apache Cassandra 5.0 (version pinned in pom.xml, jars
# from Maven Central, see classpath.sh) for tests on
# 127.0.0.1:${CASSANDRA_PORT:-59042}, in the background (node.sh under
# nohup, in its own session), with its data, system.log, stdout and pidfile
# under ${CHAT_INFRA_DIR:-/tmp/chat-infra}/cassandra/. Idempotent: a node
# that answers CQL on the port, twice a second apart, is reused (one just
# sent SIGTERM answers for a moment); a node running on our
# data folder that does not answer yet is waited for: reused once it
# answers (it was starting), replaced once it exits (it was stopping, as
# after a SIGTERM). Ports held by anything else are waited for, up to
# ${CASSANDRA_PORT_WAIT:-90} s, and a node that lost a bind race is started
# again. Installs Debian's OpenJDK 17 when no Java 17 is found.
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

if cql_steady "$port"; then
  log "a node already answers CQL on 127.0.0.1:$port."
  echo "CASSANDRA_NODES=127.0.0.1:$port"
  exit 0
fi

mkdir -p "$dir" "$data"
# One start at a time on this folder; a second one waits, then finds the
# node up.
exec 9>"$dir/start.lock"
flock 9
if cql_steady "$port"; then
  log "a node already answers CQL on 127.0.0.1:$port."
  echo "CASSANDRA_NODES=127.0.0.1:$port"
  exit 0
fi

if ! cassandra_java >/dev/null; then
  log "no Java 17 found; installing Debian's openjdk-17-jre-headless."
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq >&2 &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >&2
  cassandra_java >/dev/null || { log "still no Java 17."; exit 1; }
fi

began=$SECONDS
# How long a port held by something else (an earlier node still draining,
# a client's ephemeral port: this range is inside Linux's 32768-60999) is
# waited for before giving up.
port_wait="${CASSANDRA_PORT_WAIT:-90}"

fail() {
  log "$1"
  log "the end of $data/system.log:"
  tail -n 40 "$data/system.log" >&2 2>/dev/null || true
  log "the end of $outfile:"
  tail -n 20 "$outfile" >&2 2>/dev/null || true
  exit 1
}

ready() {
  log "ready on 127.0.0.1:$port after $((SECONDS - began)) s (pid $1)."
  echo "CASSANDRA_NODES=127.0.0.1:$port"
  exit 0
}

# A node already running on this data folder (ours from the pidfile, or one
# whose pidfile is gone) is either starting or stopping: wait until it
# answers CQL (reuse it) or exits (then start a new one). Starting a second
# node beside it would share its data folder and fail to bind its ports.
pid=""
if [ -f "$pidfile" ]; then pid="$(cat "$pidfile")"; fi
if ! is_cassandra_pid "$pid"; then pid="$(cassandra_pid_on "$data")"; fi
if is_cassandra_pid "$pid"; then
  log "node $pid runs on $data but does not answer CQL; waiting until it answers (starting) or exits (stopping)."
  while is_cassandra_pid "$pid"; do
    if cql_steady "$port"; then ready "$pid"; fi
    if [ $((SECONDS - began)) -ge "$timeout" ]; then
      fail "node $pid neither answered CQL nor exited within $timeout s."
    fi
    sleep 0.5
  done
  log "node $pid exited; starting a new one."
fi
rm -f "$pidfile"

# Waits until nothing listens on the node's three ports.
wait_ports_free() {
  local p since=$SECONDS
  for p in "$port" "$storage_port" "$jmx_port"; do
    if port_listening "$p"; then
      log "port $p is in use ($(port_holder "$p")); waiting up to $port_wait s for it."
    fi
    while port_listening "$p"; do
      if [ $((SECONDS - since)) -ge "$port_wait" ]; then
        fail "port $p is still in use after $port_wait s: $(port_holder "$p")"
      fi
      sleep 0.5
    done
  done
}

# Whether the node that just exited failed to bind a port (its stdout, or
# the end of system.log for the storage port's wording).
lost_bind() {
  { cat "$outfile" 2>/dev/null; tail -n 100 "$data/system.log" 2>/dev/null || true; } |
    grep -E 'Address already in use|in use by another process' >/dev/null
}

cp="$("$here/classpath.sh")"
# A port can also be taken between the check and the node's bind (the CQL
# port is bound last, some seconds into the start): a node that exits for
# that reason is started again, up to three times.
for attempt in 1 2 3; do
  wait_ports_free
  log "starting Cassandra on 127.0.0.1:$port (storage port $storage_port, JMX $jmx_port; data and system.log in $data)."
  # setsid: its own session, so a Ctrl-C meant for the caller does not stop
  # it. In a non-interactive shell the background child is no group leader,
  # so setsid execs in place and $! is the pid that becomes java.
  CASSANDRA_CLASSPATH="$cp" setsid nohup "$here/node.sh" "$port" "$data" \
    >"$outfile" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" >"$pidfile"

  while ! cql_ready "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$pidfile"
      if [ "$attempt" -lt 3 ] && lost_bind; then
        log "node $pid could not bind a port (attempt $attempt of 3); starting it again."
        continue 2
      fi
      fail "the node exited before it answered CQL."
    fi
    if [ $((SECONDS - began)) -ge "$timeout" ]; then
      log "no CQL answer within $timeout s; stopping node $pid."
      "$here/stop.sh" >&2 || true
      fail "the node did not become ready."
    fi
    sleep 0.5
  done
  ready "$pid"
done
