#!/usr/bin/env bash
# The side-by-side runs whose figures are in loadtest/README.md: starts a
# release `chatctl serve` (fresh data folder) and the private ejabberd
# (ejabberd/setup.sh + start.sh, needs root the first time), runs each
# scenario against both, one after the other, and writes the reports to
# loadtest/results/ (or $RESULTS).
#
#   loadtest/runs.sh moderate           # the first, moderate-scale runs
#   loadtest/runs.sh full               # the targets of issue 6 (as far as
#                                       # this machine's open-file limit goes)
#   SCALE=0.2 loadtest/runs.sh full     # the same shape, a fifth of the size
set -euo pipefail
profile=${1:-moderate}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
results=${RESULTS:-$root/loadtest/results}
scale=${SCALE:-1}
n() { awk -v x="$1" -v s="$scale" 'BEGIN { v = int(x * s); if (v < 2) v = 2; print v }'; }
work=$(mktemp -d /tmp/chat-load-runs.XXXXXX)
chmod 755 "$work"

cargo build -q --release --bin chatctl -p chat-server
cargo build -q --release -p chat-loadtest --bin chat-load
load=$root/target/release/chat-load

server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  EJ_DIR="$work/ejabberd" "$root/loadtest/ejabberd/stop.sh" >/dev/null 2>&1 || true
  # Keep the servers' logs; drop their data.
  rm -rf "$work/data" "$work/ejabberd/spool"
  echo "runs: server logs in $work"
}
trap cleanup EXIT

ulimit -n "$(ulimit -Hn)"
# The connection runs hold nearly as many connections as the file limit
# allows; the server's default cap keeps a quarter of it for its engines.
export CHAT__SERVER__MAX_CONNECTIONS="$(ulimit -Hn)"
"$root/target/release/chatctl" serve --data-dir "$work/data" --listen 127.0.0.1:18080 \
  >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!
until grep -q '^listening on' "$work/serve.out" 2>/dev/null; do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "runs: chatctl serve did not start (is 127.0.0.1:18080 taken?):" >&2
    tail -n 5 "$work/serve.err" >&2
    server_pid=""
    exit 1
  fi
  sleep 0.2
done

export EJ_DIR="$work/ejabberd" EJ_PORT=15280
"$root/loadtest/ejabberd/setup.sh"
"$root/loadtest/ejabberd/start.sh"

# A run with violations exits 2: report it and go on with the others.
run() { "$load" "$@" || echo "runs: exit $? from: $*" >&2; }
common=(--target both --chat-url http://127.0.0.1:18080 --chat-pid "$server_pid"
  --ejabberd-url ws://127.0.0.1:15280/ws --out "$results")
chat_only=(--target chat --chat-url http://127.0.0.1:18080 --chat-pid "$server_pid" --out "$results")
case $profile in
  moderate)
    run "${common[@]}" connections --devices "$(n 5000)" --hold 10
    run "${common[@]}" direct --pairs "$(n 100)" --rate "$(n 1000)" --duration 20
    run "${common[@]}" --label g10 groups --devices "$(n 1000)" --group-size 10 --rate "$(n 500)" --duration 20
    run "${common[@]}" --label g100 groups --devices "$(n 1000)" --group-size 100 --rate "$(n 50)" --duration 20
    run "${chat_only[@]}" reconnect-storm --devices "$(n 2000)" --rate "$(n 200)" --before 5 --duration 10
    ;;
  full)
    # 100 k connections need an open-file limit above 100 k for the server
    # and the generator each; this machine's hard limit is 20 000, so the
    # run goes as far as it allows.
    conns=$(( $(ulimit -Hn) - 500 ))
    [ "$conns" -gt 100000 ] && conns=100000
    run "${common[@]}" --label full connections --devices "$(n "$conns")" --hold 20
    run "${common[@]}" --label full direct --pairs "$(n 500)" --rate "$(n 5000)" --duration 30
    run "${common[@]}" --label full-g10 groups --devices "$(n 1000)" --group-size 10 --rate "$(n 2500)" --duration 30
    run "${common[@]}" --label full-g100 groups --devices "$(n 1000)" --group-size 100 --rate "$(n 200)" --duration 30
    run "${chat_only[@]}" --label full reconnect-storm --devices "$(n 10000)" --rate "$(n 1000)" --before 10 --duration 20
    ;;
  *)
    echo "runs: unknown profile $profile (moderate or full)" >&2
    exit 1
    ;;
esac
