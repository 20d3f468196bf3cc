#!/usr/bin/env bash
# Property-based fuzzing of the HTTP API against its own OpenAPI 3.1
# description: schemathesis (4.32.5, MIT, from PyPI, in a venv under
# ${CHAT_INFRA_DIR:-/tmp/chat-infra}/api-fuzz/) reads GET /v1/openapi.json
# from a real `chatctl serve` (embedded engines, a fresh data folder, dev
# login on loopback) and sends it generated requests: the examples' edges,
# random ones, and sequences that follow the description's links (create a
# conversation, then use its id). It fails on any 5xx, any status the
# description does not list, any answer whose content type or body is not
# as described (docs/operations.md, "API fuzzing").
#
# Environment: CHATCTL (a built chatctl; else `cargo build --bin chatctl`),
# API_FUZZ_EXAMPLES (generated cases per operation and phase, default 50),
# API_FUZZ_SEED (default: a fresh one, printed, to replay a failure).
# Without python3 it says it is skipped; under CI (CI=true) that fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

skip() {
  echo "api-fuzz skipped: $1"
  case "${CI:-}" in true | 1)
    echo "under CI the API fuzzing run must run" >&2
    exit 1
    ;;
  esac
  exit 0
}

command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"

dir="${CHAT_INFRA_DIR:-/tmp/chat-infra}/api-fuzz"
venv="$dir/venv"
requirements="schemathesis==4.32.5"
mkdir -p "$dir"
if [ ! -x "$venv/bin/schemathesis" ] || [ "$(cat "$venv/.requirements" 2>/dev/null)" != "$requirements" ]; then
  echo "== installing $requirements into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" || skip "python3 cannot make a venv (python3-venv)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check $requirements ||
    skip "pip could not install $requirements"
  echo "$requirements" >"$venv/.requirements"
fi

if [ -z "${CHATCTL:-}" ]; then
  echo "== cargo build --bin chatctl"
  cargo build -q --bin chatctl
  CHATCTL="${CARGO_TARGET_DIR:-$root/target}/debug/chatctl"
fi

# A free port on loopback, asked of the kernel.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
work=$(mktemp -d /tmp/api-fuzz.XXXXXX)
"$CHATCTL" serve --data-dir "$work/data" --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
}
trap cleanup EXIT

# get URL [JSON]: the body of a GET, or of a POST of JSON; fails on an error.
get() {
  python3 - "$@" <<'PY'
import sys, urllib.request
url = sys.argv[1]
data = sys.argv[2].encode() if len(sys.argv) > 2 else None
req = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
print(urllib.request.urlopen(req, timeout=5).read().decode())
PY
}
for _ in $(seq 1 100); do
  get "$base/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
get "$base/healthz" >/dev/null 2>&1 || {
  tail -20 "$work/server.log"
  echo "chatctl serve did not start" >&2
  exit 1
}

token=$(get "$base/v1/dev/token" '{"user":"fuzzer","device":"d1"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
seed="${API_FUZZ_SEED:-$(python3 -c 'import random; print(random.randrange(1 << 31))')}"
echo "== schemathesis against $base/v1/openapi.json (seed $seed; replay with API_FUZZ_SEED=$seed)"
status=0
"$venv/bin/schemathesis" run "$base/v1/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection \
  --max-examples "${API_FUZZ_EXAMPLES:-50}" \
  --seed "$seed" \
  --no-color || status=$?
if ! kill -0 "$server" 2>/dev/null; then
  tail -20 "$work/server.log"
  echo "the server died under the fuzzing run" >&2
  status=1
fi
echo "api-fuzz: $([ "$status" = 0 ] && echo passed || echo FAILED) (seed $seed)"
rm -rf "$work"
exit "$status"
