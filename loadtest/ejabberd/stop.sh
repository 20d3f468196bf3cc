#!/usr/bin/env bash
# Stops the instance start.sh started (its mnesia files stay in $EJ_DIR;
# remove the folder to start from nothing).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/ctl.sh" stop >/dev/null 2>&1 || true
"$here/ctl.sh" stopped >/dev/null 2>&1 || true
echo "ejabberd stopped"
