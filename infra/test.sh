#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests, the conformance suites
# of every engine, the end-to-end tests (in-process servers, and clusters
# of chatctl processes on Kafka, PostgreSQL and Redis), the web client in a
# real browser, and a short run of every load-test scenario.
#
# Local services are installed and started from infra/ unless the
# environment already points at some: KAFKA_BOOTSTRAP, DATABASE_URL,
# REDIS_URL, S3_ENDPOINT. A service that cannot be had makes its tests print why they
# are skipped; it does not fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is needed: install Rust (rustup) first" >&2
  exit 1
fi

started=()
cleanup() {
  for s in "${started[@]:-}"; do
    [ -n "$s" ] && "./infra/$s/stop.sh" >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT

# start NAME VAR: runs infra/NAME/start.sh unless VAR is set, exports VAR.
start() {
  local name=$1 var=$2 out
  if [ -n "${!var:-}" ]; then
    echo "using $var=${!var}"
    return
  fi
  if out=$("./infra/$name/start.sh"); then
    eval "$out"
    export "${var?}"
    started+=("$name")
    echo "started $name: $var=${!var}"
  else
    echo "could not start $name; the tests that need it will say they are skipped" >&2
  fi
}
start postgres DATABASE_URL
start redis REDIS_URL
start kafka KAFKA_BOOTSTRAP
start s3 S3_ENDPOINT
# A broker whose topics survive a restart, for the broker-restart test:
# opt-in (CHAT_BUILD_TANSU_SQLITE=1), since building it takes about ten
# minutes and tansu 0.6.0's sqlite engine does not come back from a kill -9
# here (see docs/operations.md); without it the test says it is skipped.
if [ -z "${TANSU_SQLITE_BIN:-}" ] && [ "${CHAT_BUILD_TANSU_SQLITE:-0}" = 1 ]; then
  if out=$(./infra/kafka/build-sqlite.sh); then
    eval "$out"
    export TANSU_SQLITE_BIN
  else
    echo "could not build tansu with sqlite; the broker-restart test will say it is skipped" >&2
  fi
fi

# Tests that lack a service skip with a reason (shown with
# `cargo test -- --nocapture`); the summary here says which will.
for var in DATABASE_URL REDIS_URL KAFKA_BOOTSTRAP S3_ENDPOINT TANSU_SQLITE_BIN; do
  if [ -z "${!var:-}" ]; then
    echo "note: $var is not set; the tests that need it print 'skipped: …' and pass without checking"
  fi
done

if cargo fmt --version >/dev/null 2>&1; then
  cargo fmt --all -- --check
else
  echo "skipping the format check: rustfmt is not installed"
fi

if cargo clippy --version >/dev/null 2>&1; then
  cargo clippy --workspace --all-targets --locked -- -D warnings
else
  echo "skipping lints: clippy is not installed"
fi

cargo test --workspace --locked

# The web client in Debian's Chromium, against the chatctl the tests built
# (web/test.sh installs chromium and the node packages, and says so when it
# cannot).
CHATCTL="$PWD/target/debug/chatctl" ./web/test.sh

# The load generator's scenarios for a few seconds at small scale, so the
# harness never rots (the full runs are in loadtest/README.md).
CHATCTL="$PWD/target/debug/chatctl" ./loadtest/smoke.sh
