#!/usr/bin/env bash
# Starts a throwaway S3-compatible server for tests on
# 127.0.0.1:${S3_PORT:-59000}: moto's server (moto[s3] 5.2.5 with Flask,
# Apache-2.0, from PyPI) in a venv, objects in memory (large ones spill to
# temp files), with the venv, pidfile, log and temp files (named by port)
# under ${CHAT_INFRA_DIR:-/tmp/chat-infra}/s3/. It accepts any credentials.
# Creates the bucket ${S3_BUCKET:-chat-blobs-test}, which the tests of
# chat-blobs use. Idempotent: a moto already answering on the port is reused
# (and its bucket created if missing).
#
# stdout carries exactly one line, export S3_ENDPOINT=http://127.0.0.1:PORT,
# so callers can `eval "$(infra/s3/start.sh)"`; everything else goes to
# stderr.
set -euo pipefail

port="${S3_PORT:-59000}"
dir="${CHAT_INFRA_DIR:-/tmp/chat-infra}/s3"
bucket="${S3_BUCKET:-chat-blobs-test}"
venv="$dir/venv"
pidfile="$dir/moto-$port.pid"
logfile="$dir/moto-$port.log"
spill="$dir/tmp-$port"
endpoint="http://127.0.0.1:$port"
requirements="moto[s3]==5.2.5 flask==3.1.3 flask-cors==6.0.5"

log() { echo "s3: $*" >&2; }

# moto's own API answers only on a moto server.
answers() {
  python3 - "$endpoint" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1] + "/moto-api/data.json", timeout=2).read()
PY
}

mkdir -p "$dir" "$spill"

if [ ! -x "$venv/bin/moto_server" ] || [ "$(cat "$venv/.requirements" 2>/dev/null)" != "$requirements" ]; then
  log "installing $requirements into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  # shellcheck disable=SC2086 # the requirements are separate words
  "$venv/bin/pip" install --quiet --disable-pip-version-check $requirements >&2
  echo "$requirements" >"$venv/.requirements"
fi

if answers; then
  log "moto already answers on 127.0.0.1:$port."
else
  log "starting moto on 127.0.0.1:$port (log: $logfile)."
  TMPDIR="$spill" nohup "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$logfile" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 150); do
    if answers; then break; fi
    sleep 0.1
  done
  if ! answers; then
    log "moto did not answer within 15 s; the end of its log follows."
    tail -n 20 "$logfile" >&2 || true
    exit 1
  fi
fi

"$venv/bin/python" - "$endpoint" "$bucket" <<'PY' >&2
import sys
import boto3

endpoint, bucket = sys.argv[1], sys.argv[2]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="test",
    aws_secret_access_key="test",
)
try:
    s3.create_bucket(Bucket=bucket)
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
print(f"s3: bucket {bucket} is ready.")
PY

echo "export S3_ENDPOINT=$endpoint"
