# shellcheck shell=bash
# Sourced by the scripts beside it; not run on its own.
#
# Ports: a node whose CQL (native transport) port is PORT uses PORT+1000 for
# its storage (inter-node) port and PORT+2000 for JMX (loopback only), so
# nodes whose CQL ports differ by less than 1000 never collide, and none
# uses Cassandra's defaults (9042 CQL, 7000 storage, 7199 JMX) unless PORT is
# chosen so.

cassandra_ports() {
  local port=$1
  if ! [[ "$port" =~ ^[0-9]+$ ]] || [ "$port" -lt 1024 ] || [ "$port" -gt 63535 ]; then
    echo "cassandra: the CQL port must be a number in 1024..63535, not '$port'" >&2
    return 1
  fi
  # shellcheck disable=SC2034 # used by the scripts that source this file
  storage_port=$((port + 1000))
  # shellcheck disable=SC2034
  jmx_port=$((port + 2000))
}

# Prints the path of a Java 17 (Cassandra 5.0 runs on Java 11 or 17, not on
# newer ones): $CASSANDRA_JAVA, else `java` on the PATH, else Debian's.
cassandra_java() {
  local j v
  for j in "${CASSANDRA_JAVA:-}" "$(command -v java || true)" /usr/lib/jvm/java-17-openjdk-*/bin/java; do
    if [ -z "$j" ] || [ ! -x "$j" ]; then continue; fi
    v="$("$j" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p')"
    if [ "$v" = 17 ]; then
      echo "$j"
      return 0
    fi
  done
  return 1
}

# True when a CQL server answers on 127.0.0.1:$1: sends an OPTIONS request
# (protocol v4 frame: version 0x04, flags 0, stream 0, opcode 0x05, empty
# body) and expects a SUPPORTED response (version 0x84, opcode 0x06). An open
# port alone is not enough: Cassandra binds before it is ready for queries.
cql_ready() {
  local reply
  # shellcheck disable=SC2016 # $1 expands in the inner shell
  reply="$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "\x04\x00\x00\x00\x05\x00\x00\x00\x00" >&3
    head -c 9 <&3 | od -An -tx1
  ' _ "$1" 2>/dev/null || true)"
  reply="$(tr -d ' \n' <<<"$reply")"
  [ "${reply:0:2}" = 84 ] && [ "${reply:8:2}" = 06 ]
}

# True when $1 is the pid of a running Cassandra daemon.
is_cassandra_pid() {
  [ -n "${1:-}" ] && [ -r "/proc/$1/cmdline" ] &&
    tr '\0' ' ' <"/proc/$1/cmdline" | grep -q 'org\.apache\.cassandra\.service\.CassandraDaemon'
}

# Prints the pid of a Cassandra daemon running on the data folder $1 (its
# generated cassandra.yaml), if one is; prints nothing otherwise.
cassandra_pid_on() {
  local p
  for p in /proc/[0-9]*; do
    # (grep reads to the end: with -q it could stop early, and tr's
    # SIGPIPE would fail the pipeline under pipefail.)
    if tr '\0' '\n' <"$p/cmdline" 2>/dev/null | grep -xF -- "-Dcassandra.config=file://$1/cassandra.yaml" >/dev/null; then
      echo "${p#/proc/}"
      return 0
    fi
  done
}

# shellcheck source=../ports.sh
. "$(dirname "${BASH_SOURCE[0]}")/../ports.sh"

# True when a socket listens on port $1 (read from /proc/net/tcp: a
# connect would hang on a listener whose queue is full).
port_listening() { port_used "$1" listen; }

# True when a node answers CQL now and still does a second later: one just
# sent SIGTERM answers for a moment before its drain closes CQL.
cql_steady() { cql_ready "$1" && sleep 1 && cql_ready "$1"; }

# Says what holds 127.0.0.1:$1 (ss's line with the process, when ss is here).
port_holder() {
  local line=""
  if command -v ss >/dev/null 2>&1; then
    line="$(ss -Htanp "sport = :$1" 2>/dev/null | head -n 3 | tr -s ' ' | tr '\n' ';' || true)"
  fi
  echo "${line:-an unknown process}"
}
