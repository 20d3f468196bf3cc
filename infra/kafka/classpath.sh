#!/usr/bin/env bash
# Prints the classpath of the local test broker (the jars of
# infra/kafka/pom.xml: Apache Kafka's server and a Log4j 2 binding) on
# stdout, as one line of absolute jar paths joined with ':'.
#
# The jars are copied by Maven (from Maven Central, through ~/.m2) into a
# cache outside the repository:
#   ${CHAT_CACHE_DIR:-$HOME/.cache/chat-infra}/kafka/<hash of pom.xml>/lib
# The first run takes a minute or so; later runs only read the stamp and
# print (no Maven). Editing pom.xml gives a new hash, so the jars are
# resolved again and the folders of older hashes are removed.
# Everything but the classpath goes to stderr.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
POM="$HERE/pom.xml"
CACHE="${CHAT_CACHE_DIR:-$HOME/.cache/chat-infra}/kafka"
KEY="$(sha256sum "$POM" | cut -c1-16)"
OUT="$CACHE/$KEY"

if [ ! -f "$OUT/classpath" ]; then
  if ! command -v mvn >/dev/null 2>&1; then
    echo "classpath.sh: Maven (mvn) is needed to fetch the Kafka jars" >&2
    exit 1
  fi
  echo "classpath.sh: resolving the Kafka jars with Maven into $OUT" >&2
  mkdir -p "$CACHE"
  # Built in a folder of its own, then renamed into place, so that runs at
  # the same time neither see a half-filled folder nor clash.
  TMP="$(mktemp -d "$CACHE/.tmp-$KEY.XXXXXX")"
  trap 'rm -rf "$TMP"' EXIT
  mvn -B -q -ntp -f "$POM" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$TMP/lib" >&2
  # Sorted, so the classpath does not depend on the directory's order.
  find "$TMP/lib" -maxdepth 1 -name '*.jar' -printf '%f\n' | LC_ALL=C sort \
    | sed "s|^|$OUT/lib/|" | paste -sd: - >"$TMP/classpath"
  if [ ! -s "$TMP/classpath" ]; then
    echo "classpath.sh: Maven copied no jars" >&2
    exit 1
  fi
  if mv -T "$TMP" "$OUT" 2>/dev/null; then
    trap - EXIT
    chmod 755 "$OUT"
    # Jars of earlier versions of pom.xml.
    for old in "$CACHE"/*; do
      if [ -d "$old" ] && [ "$old" != "$OUT" ]; then
        rm -rf "$old"
      fi
    done
  fi
  # Otherwise another run put the same jars in place first; use those.
  echo "classpath.sh: $(du -sh "$OUT/lib" | cut -f1) of jars in $OUT/lib" >&2
fi
cat "$OUT/classpath"
