#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests, the store conformance
# suite, and the end-to-end tests (servers in-process and as child processes,
# spoken to over real HTTP and WebSocket on 127.0.0.1).
#
# The embedded mode needs no outside service. Later suites (Kafka, Redis,
# PostgreSQL) are started from here by their own scripts in infra/.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is needed: install Rust (rustup) first" >&2
  exit 1
fi

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
