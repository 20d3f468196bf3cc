# shellcheck shell=bash
# Sourced by infra/kafka/common.sh and infra/cassandra/common.sh: what the
# local services' scripts ask of the machine's ports.

# port_used PORT [listen]: whether some local TCP socket (IPv4 or
# IPv6) has port PORT: in any state, or, with "listen", listening.
port_used() {
  local hex state=any
  hex="$(printf '%04X' "$1")"
  [ "${2:-}" = listen ] && state=0A
  awk -v p=":$hex" -v s="$state" '
    NR > 1 && substr($2, length($2) - 4) == p && (s == "any" || $4 == s) { f = 1 }
    END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
