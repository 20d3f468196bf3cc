#!/usr/bin/env bash
# Installs Debian's ejabberd (when missing) and writes the configuration of
# a private, loopback-only instance into $EJ_DIR (default
# /tmp/chat-loadtest-ejabberd). It does not start it: see start.sh.
#
#   EJ_DIR   where the instance keeps its config, database and logs
#   EJ_PORT  its WebSocket port (default 15280, away from a system
#            ejabberd's 5280); the URL is ws://127.0.0.1:$EJ_PORT/ws
#   EJ_HOST  its virtual host (default localhost)
#   EJ_NODE  its Erlang node name (default ejabberd_load@localhost); two
#            instances side by side need two names
#
# Installing needs root (apt-get). ejabberdctl then runs the server as the
# unprivileged user `ejabberd` (it switches to it when called as root).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
EJ_DIR=${EJ_DIR:-/tmp/chat-loadtest-ejabberd}
EJ_PORT=${EJ_PORT:-15280}
EJ_HOST=${EJ_HOST:-localhost}
EJ_NODE=${EJ_NODE:-ejabberd_load@localhost}

if ! command -v ejabberdctl >/dev/null 2>&1 && [ ! -x /usr/sbin/ejabberdctl ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "ejabberd is not installed and installing it needs root (apt-get install ejabberd)" >&2
    exit 1
  fi
  apt-get update -qq
  # The package's own service stays as Debian leaves it; this harness runs
  # a separate instance with its own node name, port and directories.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ejabberd >/dev/null
fi

mkdir -p "$EJ_DIR/conf" "$EJ_DIR/spool" "$EJ_DIR/logs"
sed -e "s/@PORT@/$EJ_PORT/" -e "s/@HOST@/$EJ_HOST/" "$here/ejabberd.yml.in" >"$EJ_DIR/conf/ejabberd.yml"
cp /etc/ejabberd/inetrc "$EJ_DIR/conf/inetrc"
cat >"$EJ_DIR/conf/ejabberdctl.cfg" <<CFG
# Written by loadtest/ejabberd/setup.sh.
ERLANG_NODE=$EJ_NODE
INET_DIST_INTERFACE=127.0.0.1
ERL_EPMD_ADDRESS=127.0.0.1
POLL=true
ERL_MAX_PORTS=300000
ERL_PROCESSES=2000000
ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"
EJABBERD_CONFIG_PATH=$EJ_DIR/conf/ejabberd.yml
EJABBERD_PID_PATH=$EJ_DIR/ejabberd.pid
CFG
if [ "$(id -u)" = 0 ]; then
  chown -R ejabberd:ejabberd "$EJ_DIR"
fi
echo "ejabberd configured in $EJ_DIR (ws://127.0.0.1:$EJ_PORT/ws, host $EJ_HOST)"
