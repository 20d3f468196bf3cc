#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests, the conformance suites
# of every engine, the end-to-end tests (in-process servers, and clusters
# of chatctl processes on Kafka, Cassandra and Redis), the web client in a
# real browser, a fuzzing run of the HTTP API against its OpenAPI
# description, and a short run of every load-test scenario.
#
# Local services are installed and started from infra/ unless the
# environment already points at some: KAFKA_BOOTSTRAP (Apache Kafka),
# CASSANDRA_NODES (Apache Cassandra), DATABASE_URL (PostgreSQL), REDIS_URL,
# S3_ENDPOINT. Locally, a service that cannot be had makes its tests print
# why they are skipped. Under CI (CI=true) it fails the run, with its
# reason: CI never passes a test it did not run.
set -euo pipefail
cd "$(dirname "$0")/.."

ci=false
case "${CI:-}" in true | 1) ci=true ;; esac

# A CI build is made once: incremental state would only double the disk it
# takes (a full debug build of the workspace is several GiB already).
if $ci; then
  export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
fi

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
# Every test makes topics of its own; a broker that keeps them run after
# run reaches the kernel's map count (vm.max_map_count, 65530: each
# partition maps its index files) after some tens of thousands and dies
# mid-run. A broker this script starts therefore starts empty.
export KAFKA_FRESH=1
trap cleanup EXIT

# start NAME VAR: runs infra/NAME/start.sh unless VAR is set, exports VAR.
# The JVM services start in the background while the rest are set up.
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
  elif $ci; then
    echo "could not start $name, and under CI every service must run (its output is above)" >&2
    exit 1
  else
    echo "could not start $name; the tests that need it will say they are skipped" >&2
  fi
}
# The start scripts' own tests, before anything else runs on this machine:
# infra/cassandra/start.sh against a node still draining and a port held
# by something else, infra/kafka/start.sh against a broker just told to
# stop (each on ports of its own; about a minute and a half).
# (Skipped when the suite is pointed at a service of its own; locally a
# failure is a warning, under CI it fails the run.)
infra_test() {
  local var=$1 script=$2
  if [ -n "${!var:-}" ]; then
    echo "$var is set: skipping $script"
  elif ! "$script"; then
    if $ci; then
      echo "$script failed" >&2
      exit 1
    fi
    echo "warning: $script failed (above); going on" >&2
  fi
}
infra_test CASSANDRA_NODES ./infra/tests/cassandra-start.sh
infra_test KAFKA_BOOTSTRAP ./infra/tests/kafka-start.sh

start postgres DATABASE_URL
start redis REDIS_URL
start kafka KAFKA_BOOTSTRAP
start cassandra CASSANDRA_NODES
start s3 S3_ENDPOINT

# Tests that lack a service skip with a reason (shown with
# `cargo test -- --nocapture`); the summary here says which will.
for var in DATABASE_URL REDIS_URL KAFKA_BOOTSTRAP CASSANDRA_NODES S3_ENDPOINT; do
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
  # The one-box build, without the engines' features (docs/operations.md,
  # "Building a smaller binary"): its cfg'd code must stay clean too.
  cargo clippy -p chat-server --all-targets --no-default-features --locked -- -D warnings
else
  echo "skipping lints: clippy is not installed"
fi

cargo test --workspace --locked

# The web client in Debian's Chromium, against the chatctl the tests built
# (web/test.sh installs chromium and the node packages, and says so when it
# cannot).
CHATCTL="${CARGO_TARGET_DIR:-$PWD/target}/debug/chatctl" ./web/test.sh

# The HTTP API fuzzed against its own OpenAPI description (schemathesis
# from PyPI, in a venv; docs/operations.md, "API fuzzing").
CHATCTL="${CARGO_TARGET_DIR:-$PWD/target}/debug/chatctl" ./infra/api-fuzz/run.sh

# The cells (the smoke's `--cell` runs and the fault runs) signal process
# groups with kill(1) (procps), check that the fault runs' network cuts are
# real with ss(8) (iproute2) and run PostgreSQL as its own user with
# setpriv(1) (util-linux): installed when missing.
for tool in kill:procps ss:iproute2 setpriv:util-linux; do
  if ! type -P "${tool%%:*}" >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    if ! { $sudo apt-get update -qq >&2 &&
      $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${tool##*:}" >&2; }; then
      echo "${tool%%:*} (${tool##*:}) cannot be installed" >&2
      if [ "${CI:-}" = true ]; then exit 1; fi
    fi
  fi
done

# The load generator's scenarios for a few seconds at small scale, so the
# harness never rots (the full runs are in loadtest/README.md).
CHATCTL="${CARGO_TARGET_DIR:-$PWD/target}/debug/chatctl" ./loadtest/smoke.sh

# Fault injection (docs/operations.md, "Fault injection"): a short series
# on a cell of its own (its own broker, store and Redis, which it kills),
# two runs on Cassandra and one on PostgreSQL, 30 s of traffic each; fails
# on any violation. Locally it says skipped when Java, Maven, redis-server
# or PostgreSQL is missing; under CI that fails.
faults_out=$(mktemp -d /tmp/chat-faults.XXXXXX)
# (The PostgreSQL cell runs as the postgres user below this folder.)
chmod 755 "$faults_out"
CHATCTL="${CARGO_TARGET_DIR:-$PWD/target}/debug/chatctl" \
  cargo run -q -p chat-faults --locked -- --store cassandra --runs 2 --duration 30 --out "$faults_out/cassandra"
CHATCTL="${CARGO_TARGET_DIR:-$PWD/target}/debug/chatctl" \
  cargo run -q -p chat-faults --locked -- --store postgres --runs 1 --duration 30 --out "$faults_out/postgres"
