#!/usr/bin/env bash
# broker.sh PORT DATA_DIR
#
# Runs one Apache Kafka broker (the version of infra/kafka/pom.xml) in the
# FOREGROUND: after its setup this script execs java, so its pid is the
# broker's, and a test can SIGKILL it and run this script again on the same
# DATA_DIR to get the same broker back with its topics, records and
# committed offsets.
#
# The broker is a single KRaft node, broker and controller in one process:
#   - clients: PLAINTEXT on 127.0.0.1:PORT (advertised as such);
#   - controller: 127.0.0.1:<port picked on the first run>, kept in
#     DATA_DIR/controller.port so that it stays the same across restarts;
#   - DATA_DIR/server.properties and DATA_DIR/log4j2.properties are
#     rewritten on every start; the logs (data) are in DATA_DIR/data,
#     formatted on the first start (when DATA_DIR/data/meta.properties is
#     absent);
#   - its log is DATA_DIR/broker.log (the previous run's is moved to
#     DATA_DIR/broker.log.1); "Kafka Server started" in it means the broker
#     takes requests.
#   - KAFKA_EXTRA_LISTENERS, when set ("NAME:PORT:ADVERTISED_PORT[,…]",
#     NAME in capitals), adds a PLAINTEXT listener NAME on 127.0.0.1:PORT
#     advertised as 127.0.0.1:ADVERTISED_PORT: a client that bootstraps
#     through a TCP proxy on ADVERTISED_PORT (forwarding to PORT) keeps
#     going through it (the fault harness, services/chat-faults, cuts
#     processors from the broker that way). Unset: only the two above.
# A dev/test setup: one broker, replication factor 1, every topic's data
# on this one disk, no authentication. The JVM gets -Xms256m -Xmx512m
# (KAFKA_HEAP_OPTS replaces that) and KAFKA_JVM_OPTS is appended.
# KAFKA_CLASSPATH, when set, saves running classpath.sh.
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 PORT DATA_DIR" >&2
  exit 2
fi
PORT="$1"
case "$PORT" in
  '' | *[!0-9]*) echo "broker.sh: PORT must be a number, not '$PORT'" >&2; exit 2 ;;
esac
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$2"
DATA="$(cd "$2" && pwd)"
CP="${KAFKA_CLASSPATH:-$("$HERE/classpath.sh")}"

# shellcheck source-path=SCRIPTDIR source=common.sh
. "$HERE/common.sh"

# The controller's port: picked once (below the kernel's ephemeral range,
# so that client sockets do not take it later), then kept.
if [ -s "$DATA/controller.port" ]; then
  CPORT="$(cat "$DATA/controller.port")"
else
  CPORT=""
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12000))
    if [ "$p" != "$PORT" ] && ! port_used "$p"; then
      CPORT="$p"
      break
    fi
  done
  if [ -z "$CPORT" ]; then
    echo "broker.sh: found no free port for the controller" >&2
    exit 1
  fi
  echo "$CPORT" >"$DATA/controller.port"
fi
if port_used "$CPORT" listen; then
  echo "broker.sh: warning: the controller port $CPORT (kept in $DATA/controller.port) is taken; the broker will fail to start" >&2
fi

# Extra listeners (KAFKA_EXTRA_LISTENERS, above).
LISTENERS="PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT"
ADVERTISED="PLAINTEXT://127.0.0.1:$PORT"
PROTOCOLS="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
if [ -n "${KAFKA_EXTRA_LISTENERS:-}" ]; then
  IFS=',' read -r -a extra <<<"$KAFKA_EXTRA_LISTENERS"
  for l in "${extra[@]}"; do
    IFS=':' read -r lname lport ladv <<<"$l"
    case "$lname:$lport:$ladv" in
      [A-Z]*:[0-9]*:[0-9]*) ;;
      *) echo "broker.sh: KAFKA_EXTRA_LISTENERS: '$l' is not NAME:PORT:ADVERTISED_PORT" >&2; exit 2 ;;
    esac
    LISTENERS="$LISTENERS,$lname://127.0.0.1:$lport"
    ADVERTISED="$ADVERTISED,$lname://127.0.0.1:$ladv"
    PROTOCOLS="$PROTOCOLS,$lname:PLAINTEXT"
  done
fi

cat >"$DATA/server.properties" <<EOF
# Written by infra/kafka/broker.sh on every start; edits are lost.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
listeners=$LISTENERS
advertised.listeners=$ADVERTISED
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=$PROTOCOLS
log.dirs=$DATA/data

# One broker: every internal topic with one replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=8
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
default.replication.factor=1

# Topics are created by the application (admin API), with 8 partitions
# unless it says otherwise.
auto.create.topics.enable=false
num.partitions=8
group.initial.rebalance.delay.ms=0

# After a kill -9, the restarted controller refuses the broker's new
# registration until the old one's session times out (9 s by default):
# short sessions make a restart take seconds less.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000

# Small segments; the compaction buffer is sized for a small heap.
log.segment.bytes=16777216
log.cleaner.dedupe.buffer.size=33554432

# Fewer threads on a small machine.
num.network.threads=2
num.io.threads=4
background.threads=4
num.recovery.threads.per.data.dir=2
EOF

cat >"$DATA/log4j2.properties" <<EOF
# Written by infra/kafka/broker.sh on every start; edits are lost.
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $DATA/broker.log
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
EOF

if [ -f "$DATA/broker.log" ]; then
  mv -f "$DATA/broker.log" "$DATA/broker.log.1"
fi

# Kafka's own JVM flags (kafka-run-class.sh), a small heap, few GC and
# compiler threads for a 2-core machine, and only the C1 compiler: it starts
# faster and compiles with less CPU, and a test broker needs no peak
# throughput (KAFKA_JVM_OPTS=-XX:TieredStopAtLevel=4 brings C2 back).
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
# shellcheck disable=SC2206
JAVA_OPTS=(
  $HEAP_OPTS
  -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
  -XX:+ExplicitGCInvokesConcurrent -XX:ParallelGCThreads=2 -XX:ConcGCThreads=1
  -XX:TieredStopAtLevel=1 -XX:CICompilerCount=1 -XX:+ExitOnOutOfMemoryError
  -Djava.awt.headless=true
  -Dlog4j2.configurationFile="$DATA/log4j2.properties"
)

# A class-data-sharing archive of the broker's classes (AppCDS) halves the
# JVM's start. It is written by the first broker that exits cleanly
# (SIGTERM, e.g. stop.sh; a SIGKILLed JVM writes none; writing takes a few
# seconds at exit), next to the jars in the cache of classpath.sh, one per
# JDK build; later starts map it. KAFKA_CDS=0 turns this off. The JVM
# checks the archive and runs without it when it does not fit.
CDS_OPTS=()
CACHED="$(dirname "$(dirname "${CP%%:*}")")"
if [ "${KAFKA_CDS:-1}" = 1 ] && [ -f "$CACHED/classpath" ] && [ "$(cat "$CACHED/classpath")" = "$CP" ]; then
  JAVA_BIN="$(readlink -f "$(command -v java)")"
  JDK_ID="$(stat -c %Y-%s "$(dirname "$(dirname "$JAVA_BIN")")/lib/server/libjvm.so" 2>/dev/null || echo unknown)"
  ARCHIVE="$CACHED/kafka-broker-$JDK_ID.jsa"
  # Archives written at exit by earlier brokers (named after their pid):
  # the first one the JVM checks as whole (a JVM killed while writing
  # leaves a broken one, which would crash the next JVM) is kept, the
  # others removed.
  for f in "$CACHED"/kafka-broker-*.jsa.tmp-*; do
    [ -e "$f" ] || continue
    if [ -n "$(tr -d '\0' 2>/dev/null <"/proc/${f##*.tmp-}/cmdline")" ]; then
      continue # still running (or writing); a zombie's cmdline is empty
    fi
    case "$f" in
      "$ARCHIVE".tmp-*)
        if [ ! -e "$ARCHIVE" ] && java -Xshare:on -XX:+VerifySharedSpaces \
          -XX:SharedArchiveFile="$f" -XX:ErrorFile=/dev/null -XX:-CreateCoredumpOnCrash \
          -cp "$CP" -version >/dev/null 2>&1; then
          mv -f "$f" "$ARCHIVE" 2>/dev/null || true
        fi
        ;;
    esac
    rm -f "$f"
  done
  if [ -f "$ARCHIVE" ]; then
    CDS_OPTS=(-XX:SharedArchiveFile="$ARCHIVE")
  else
    # $$ is the JVM's pid too (exec below).
    CDS_OPTS=(-XX:ArchiveClassesAtExit="$ARCHIVE.tmp-$$")
  fi
fi
# shellcheck disable=SC2206
JAVA_OPTS+=("${CDS_OPTS[@]}" ${KAFKA_JVM_OPTS:-})

if [ ! -f "$DATA/data/meta.properties" ]; then
  # A random cluster id: 16 random bytes, URL-safe base64 without padding
  # (what kafka-storage random-uuid prints; one JVM start less).
  CLUSTER_ID=""
  while [ -z "$CLUSTER_ID" ] || [ "${CLUSTER_ID#-}" != "$CLUSTER_ID" ]; do
    CLUSTER_ID="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  done
  echo "broker.sh: formatting $DATA/data (cluster id $CLUSTER_ID)" >&2
  # Quick flags for this one short run.
  FORMAT_CDS=()
  if [ -n "${ARCHIVE:-}" ] && [ -f "$ARCHIVE" ]; then
    FORMAT_CDS=(-XX:SharedArchiveFile="$ARCHIVE")
  fi
  java -Xms64m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "${FORMAT_CDS[@]}" \
    -Dlog4j2.configurationFile="$DATA/log4j2.properties" -cp "$CP" \
    kafka.tools.StorageTool format --config "$DATA/server.properties" \
    --cluster-id "$CLUSTER_ID" >&2
fi

# Once the broker has started, a detached background process (ends by
# itself) asks it for a group coordinator, so that the first consumer group
# of a new cluster need not wait seconds (see kafka_coordinator_ready).
(
  (
    exec </dev/null >/dev/null 2>&1
    broker_pid=$$ # the JVM's, after the exec below
    for _ in $(seq 1 600); do
      [ -n "$(tr -d '\0' 2>/dev/null <"/proc/$broker_pid/cmdline")" ] || exit 0
      if grep -q 'Kafka Server started' "$DATA/broker.log" 2>/dev/null; then
        for _ in $(seq 1 50); do
          kafka_coordinator_ready "$PORT" && exit 0
          sleep 0.2
        done
        exit 0
      fi
      sleep 0.2
    done
  ) &
)

echo "broker.sh: Kafka on 127.0.0.1:$PORT (controller 127.0.0.1:$CPORT), data in $DATA/data, log in $DATA/broker.log" >&2
exec java "${JAVA_OPTS[@]}" -cp "$CP" kafka.Kafka "$DATA/server.properties"
