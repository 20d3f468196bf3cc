#!/usr/bin/env bash
# Stops the local PostgreSQL that ./infra/postgres/start.sh started (fast
# shutdown). Idempotent: does nothing when it is not running. The data stays
# in ${CHAT_INFRA_DIR:-/tmp/chat-infra}/postgres/data.
set -euo pipefail

DATA="${CHAT_INFRA_DIR:-/tmp/chat-infra}/postgres/data"

log() { echo "postgres: $*" >&2; }

BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5n | tail -n1 || true)"
if [[ -z "$BIN" || ! -x "$BIN/pg_ctl" ]]; then
  log "no PostgreSQL server installed: nothing to stop"
  exit 0
fi
if [[ ! -f "$DATA/PG_VERSION" ]]; then
  log "no data folder at $DATA: nothing to stop"
  exit 0
fi

as_pg() {
  if [[ "$(id -u)" -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

if as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >&2
else
  log "not running"
fi
