#!/usr/bin/env bash
# Prints the Java classpath of the Apache Cassandra named in pom.xml beside
# this script (cassandra-all and its runtime dependencies, from Maven
# Central) on stdout, as one line; chatter goes to stderr.
#
# Maven resolves the jars into its own local repository under
# ${CHAT_CACHE_DIR:-$HOME/.cache/chat-infra}/cassandra/m2 (outside the work
# tree, kept between runs) and writes the classpath beside it, stamped with
# the hash of pom.xml: while the pom is unchanged and its jars are all there,
# a run does no Maven work. Concurrent runs wait for each other (flock).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
pom="$here/pom.xml"
cache="${CHAT_CACHE_DIR:-$HOME/.cache/chat-infra}/cassandra"
repo="$cache/m2"
cpfile="$cache/classpath.txt"
stamp="$cache/classpath.stamp"

log() { echo "cassandra: $*" >&2; }

mkdir -p "$cache"
want="$(sha256sum "$pom" | cut -d' ' -f1)"

# True when the stamp names this pom and every jar it listed is on disk.
fresh() {
  [ -s "$cpfile" ] && [ "$(cat "$stamp" 2>/dev/null || true)" = "$want" ] || return 1
  local jar
  while IFS= read -r jar; do
    [ -f "$jar" ] || return 1
  done < <(tr ':' '\n' <"$cpfile")
}

if ! fresh; then
  exec 9>"$cache/.lock"
  flock 9
  if ! fresh; then
    if ! command -v mvn >/dev/null 2>&1; then
      log "mvn is missing; installing Debian's maven."
      if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
      $sudo apt-get update -qq >&2 &&
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven >&2
    fi
    log "resolving the jars of $pom with Maven into $repo"
    rm -f "$stamp"
    tmp="$cpfile.tmp.$$"
    mvnlog="$cache/maven.log"
    if ! mvn -B --no-transfer-progress -Dstyle.color=never -f "$pom" \
      -Dmaven.repo.local="$repo" \
      dependency:build-classpath \
      -Dmdep.outputFile="$tmp" \
      -Dmdep.includeScope=runtime >"$mvnlog" 2>&1; then
      rm -f "$tmp"
      log "Maven could not resolve the jars; the end of $mvnlog:"
      tail -n 30 "$mvnlog" >&2
      exit 1
    fi
    if ! [ -s "$tmp" ] || ! grep -q 'cassandra-all-[^:/]*\.jar' "$tmp"; then
      rm -f "$tmp"
      log "Maven's classpath lacks cassandra-all."
      exit 1
    fi
    # One line, no trailing newline in Maven's file; keep it so.
    mv "$tmp" "$cpfile"
    echo "$want" >"$stamp"
    log "classpath of $(tr ':' '\n' <"$cpfile" | wc -l) jars written to $cpfile"
  fi
  flock -u 9
fi

cat "$cpfile"
echo
