#!/usr/bin/env bash
# Stops the broker infra/kafka/start.sh started.
set -euo pipefail
DIR="${CHAT_INFRA_DIR:-/tmp/chat-infra}/kafka"
if [ -f "$DIR/broker.pid" ]; then
  kill "$(cat "$DIR/broker.pid")" 2>/dev/null || true
  rm -f "$DIR/broker.pid"
fi
