#!/usr/bin/env bash
# Starts a local PostgreSQL for tests, on loopback only, with trust auth.
#
#   ./infra/postgres/start.sh   # prints DATABASE_URL=postgres://postgres@127.0.0.1:<port>/postgres
#
# Installs the server (Debian package `postgresql`) when it is missing, runs
# initdb into ${CHAT_INFRA_DIR:-/tmp/chat-infra}/postgres/data the first time,
# and starts it on 127.0.0.1:${PG_PORT:-55432} with its unix socket and log
# file in ${CHAT_INFRA_DIR}/postgres. Idempotent: a server already running on
# that data folder is left alone. The one line on stdout is the URL; all else
# goes to stderr. ./infra/postgres/stop.sh stops it.
set -euo pipefail

PG_PORT="${PG_PORT:-55432}"
BASE="${CHAT_INFRA_DIR:-/tmp/chat-infra}/postgres"
DATA="$BASE/data"
SOCKETS="$BASE/run"
LOG="$BASE/postgres.log"

log() { echo "postgres: $*" >&2; }

# The newest installed server's binaries (/usr/lib/postgresql/<major>/bin).
find_bin() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5n | tail -n1 || true)"
  if [[ -n "$d" && -x "$d/initdb" ]]; then
    echo "$d"
  fi
}

BIN="$(find_bin)"
if [[ -z "$BIN" ]]; then
  log "installing the PostgreSQL server (apt-get)"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  BIN="$(find_bin)"
  if [[ -z "$BIN" ]]; then
    log "no /usr/lib/postgresql/*/bin/initdb after installing postgresql"
    exit 1
  fi
fi

# The server refuses to run as root: run its tools as the postgres user.
as_pg() {
  if [[ "$(id -u)" -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

mkdir -p "$BASE"
if [[ "$(id -u)" -eq 0 ]]; then
  chown postgres:postgres "$BASE"
fi
as_pg mkdir -p "$SOCKETS"
if ! as_pg test -w "$BASE"; then
  log "$BASE is not writable by the server's user (check the parent folders' permissions)"
  exit 1
fi

if [[ ! -f "$DATA/PG_VERSION" ]]; then
  log "initdb into $DATA ($BIN)"
  as_pg "$BIN/initdb" -D "$DATA" -U postgres --encoding=UTF8 --no-locale \
    --auth-local=trust --auth-host=trust >&2
fi

# The port a running server of this data folder listens on (line 4 of
# postmaster.pid), or nothing.
running_port() {
  if as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    sed -n 4p "$DATA/postmaster.pid"
  fi
}

PORT="$(running_port)"
if [[ -n "$PORT" ]]; then
  if [[ "$PORT" != "$PG_PORT" ]]; then
    log "already running on port $PORT (not $PG_PORT): stop it first with infra/postgres/stop.sh"
    exit 1
  fi
  log "already running on 127.0.0.1:$PORT"
else
  log "starting on 127.0.0.1:$PG_PORT (log: $LOG)"
  as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $SOCKETS" start >&2
fi

for _ in $(seq 1 120); do
  if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres; then
    echo "DATABASE_URL=postgres://postgres@127.0.0.1:${PG_PORT}/postgres"
    exit 0
  fi
  sleep 0.5
done
log "not ready after 60 s; see $LOG"
exit 1
