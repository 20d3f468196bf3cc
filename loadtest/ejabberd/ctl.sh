#!/usr/bin/env bash
# ejabberdctl for the instance setup.sh configured: ./ctl.sh status, …
# As root it becomes the `ejabberd` user through setpriv rather than
# ejabberdctl's own `su`, whose PAM session would cut the open-file limit
# to 1024: the server keeps the limit of the shell that started it.
EJ_DIR=${EJ_DIR:-/tmp/chat-loadtest-ejabberd}
args=(--config-dir "$EJ_DIR/conf" --ctl-config "$EJ_DIR/conf/ejabberdctl.cfg"
  --spool "$EJ_DIR/spool" --logs "$EJ_DIR/logs")
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  cd "$EJ_DIR" || exit 1
  exec setpriv --reuid=ejabberd --regid=ejabberd --init-groups \
    env HOME=/var/lib/ejabberd /usr/sbin/ejabberdctl "${args[@]}" "$@"
fi
exec /usr/sbin/ejabberdctl "${args[@]}" "$@"
