#!/usr/bin/env bash
# The load harness at small scale, a few seconds per scenario, so that it
# never rots: starts its own `chatctl serve` (debug build, fresh data
# folder, a free loopback port), runs connections, direct, groups (10- and
# 100-member), reconnect-storm and hostile against it, then `direct` on a
# distributed cell chat-load starts itself (`--cell`: Kafka, the store,
# Redis, two gateways, a processor; on Cassandra and on PostgreSQL), then
# connections, direct and groups against ejabberd (installed from Debian's packages when
# missing and running as root; skipped with the reason otherwise).
# Exits non-zero when any run fails or reports a correctness violation.
#
#   CHATCTL     server binary (default: cargo build, $CARGO_TARGET_DIR or target, debug/chatctl)
#   CHAT_LOAD   generator binary (default: cargo build, $CARGO_TARGET_DIR or target, debug/chat-load)
#   SMOKE_OUT   working folder (default: a fresh temporary one); results
#               go to $SMOKE_OUT/results unless SMOKE_RESULTS says where
#   SMOKE_EJ_PORT  ejabberd's WebSocket port for this run (default 15380)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
out=${SMOKE_OUT:-$(mktemp -d /tmp/chat-load-smoke.XXXXXX)}
mkdir -p "$out"
chmod 755 "$out"
results=${SMOKE_RESULTS:-$out/results}

if [ -z "${CHATCTL:-}" ]; then
  cargo build -q --bin chatctl || exit 1
  CHATCTL=${CARGO_TARGET_DIR:-$root/target}/debug/chatctl
fi
if [ -z "${CHAT_LOAD:-}" ]; then
  cargo build -q -p chat-loadtest --bin chat-load || exit 1
  CHAT_LOAD=${CARGO_TARGET_DIR:-$root/target}/debug/chat-load
fi

server_pid=""
ejabberd_started=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [ -n "$ejabberd_started" ] && EJ_DIR="$out/ejabberd" "$root/loadtest/ejabberd/stop.sh" >/dev/null 2>&1
}
trap cleanup EXIT

"$CHATCTL" serve --data-dir "$out/data" --listen 127.0.0.1:0 >"$out/serve.out" 2>"$out/serve.err" &
server_pid=$!
addr=""
for _ in $(seq 1 150); do
  addr=$(sed -n 's/^listening on //p' "$out/serve.out" | head -n1)
  [ -n "$addr" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.2
done
if [ -z "$addr" ]; then
  echo "smoke: chatctl serve did not start; see $out/serve.err" >&2
  exit 1
fi
echo "smoke: chatctl serve on $addr (pid $server_pid), results in $results"

failed=0
passed=0
run() {
  local name=$1
  shift
  if timeout 300 "$CHAT_LOAD" --out "$results" --label smoke "$@" >"$out/$name.log" 2>&1; then
    passed=$((passed + 1))
    echo "smoke: $name ok"
  else
    local rc=$?
    failed=$((failed + 1))
    echo "smoke: $name FAILED (exit $rc); its output, less the backtrace:" >&2
    sed '/^Stack backtrace:/,$d' "$out/$name.log" | tail -n 60 >&2
    # A part that did not start names its log ("...; see PATH"): show it.
    grep -o 'see /[^ ;]*' "$out/$name.log" | sort -u | while read -r _ log; do
      [ -f "$log" ] || continue
      echo "smoke: the end of $log:" >&2
      tail -n 40 "$log" >&2
    done
  fi
}

# skipped REASON: locally a skip; under CI (CI=true) a failure, since CI
# never passes a run it did not make.
skipped() {
  echo "smoke: skipped: $1"
  case "${CI:-}" in true | 1) failed=$((failed + 1)) ;; esac
}

chat=(--target chat --chat-url "http://$addr" --chat-pid "$server_pid")
run chat-connections "${chat[@]}" connections --devices 50 --hold 2
run chat-direct "${chat[@]}" direct --pairs 25 --rate 200 --duration 3 --drain 10
run chat-groups "${chat[@]}" groups --devices 50 --group-size 10 --rate 100 --duration 3 --drain 10
run chat-groups-100 "${chat[@]}" groups --devices 100 --group-size 100 --rate 20 --duration 3 --drain 10
run chat-reconnect-storm "${chat[@]}" reconnect-storm --devices 50 --rate 100 --before 2 --duration 2 --drain 10
# Last on this server: it fills quotas and holds connections open.
run chat-hostile "${chat[@]}" hostile --duration 5 --pingers 2 --flood-devices 3 --idle 50 --others 1

if command -v java >/dev/null && command -v redis-server >/dev/null; then
  for store in cassandra postgres; do
    run "chat-cell-$store" --target chat --cell "$store" --chatctl "$CHATCTL" \
      --cell-dir "$out/cell-$store" --baseline-count 500 --replay \
      direct --pairs 10 --rate 50 --duration 3 --drain 30
  done
else
  skipped "the distributed cell needs java and redis-server (./infra/kafka/start.sh and ./infra/redis/start.sh install them)"
fi

if [ ! -x /usr/sbin/ejabberdctl ] && { [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; }; then
  skipped "ejabberd is not installed and cannot be here (loadtest/ejabberd/setup.sh installs it as root)"
else
  # setup.sh installs Debian's ejabberd when it is missing.
  ej_port=${SMOKE_EJ_PORT:-15380}
  export EJ_DIR="$out/ejabberd" EJ_PORT="$ej_port" EJ_NODE="ejabberd_smoke@localhost"
  if "$root/loadtest/ejabberd/setup.sh" >"$out/ejabberd-setup.log" 2>&1 &&
    "$root/loadtest/ejabberd/start.sh" >"$out/ejabberd-start.log" 2>&1; then
    ejabberd_started=1
    xmpp=(--target ejabberd --ejabberd-url "ws://127.0.0.1:$ej_port/ws")
    run ejabberd-connections "${xmpp[@]}" connections --devices 50 --hold 2
    run ejabberd-direct "${xmpp[@]}" direct --pairs 25 --rate 200 --duration 3 --drain 10
    run ejabberd-groups "${xmpp[@]}" groups --devices 50 --group-size 10 --rate 100 --duration 3 --drain 10
  else
    skipped "ejabberd did not start (see $out/ejabberd-start.log)"
  fi
fi

echo "smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
