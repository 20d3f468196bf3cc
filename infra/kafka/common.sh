# shellcheck shell=bash
# Helpers of infra/kafka/broker.sh and start.sh (sourced, not run).

# shellcheck source=../ports.sh
. "$(dirname "${BASH_SOURCE[0]}")/../ports.sh"

kafka_hex() { printf %s "$1" | od -An -tx1 | tr -d ' \n'; }

# kafka_coordinator_ready PORT: whether the broker on 127.0.0.1:PORT names
# a coordinator for a consumer group. Sends a FindCoordinator request
# (version 0) by hand and checks the error code of the answer. The first
# such request on a new cluster makes the broker create __consumer_offsets,
# and only once that is loaded is the answer no error; librdkafka, told
# "not available", asks again only seconds later, so asking first spares
# the first consumer group those seconds.
kafka_coordinator_ready() {
  local client=chat-infra key=chat-infra-ready req reply
  # Request header v1 (api key 10, version 0, correlation id 1, client id)
  # and body (the group id), in hex, after the request's size.
  req="000a000000000001$(printf %04x ${#client})$(kafka_hex "$client")$(printf %04x ${#key})$(kafka_hex "$key")"
  req="$(printf %08x $((${#req} / 2)))$req"
  reply="$(
    exec 3<>"/dev/tcp/127.0.0.1/$1"
    # shellcheck disable=SC2059,SC2001
    printf "$(sed 's/../\\x&/g' <<<"$req")" >&3
    timeout 5 head -c 10 <&3 | od -An -tx1 | tr -d ' \n'
  )" 2>/dev/null || return 1
  # Size (4 bytes), correlation id (4), error code (2).
  [ "${reply:16:4}" = 0000 ]
}
