#!/usr/bin/env bash
# The web client's checks:
#   1. the sources type-check, and the committed web/dist is exactly what
#      `npm run build` makes of them (the gateway embeds web/dist, so a stale
#      one would ship old code);
#   2. end-to-end tests: Playwright drives Debian's Chromium against the page
#      a real `chatctl serve` serves (each test starts its own server).
# Environment: CHATCTL (a built chatctl; else `cargo build --bin chatctl`),
# CHROMIUM (default /usr/bin/chromium).
set -euo pipefail
cd "$(dirname "$0")"
web=$(pwd)
root=$(cd .. && pwd)

# skip REASON: says why the checks cannot run; locally that passes, under
# CI (CI=true) it fails the run: CI never passes a check it did not run.
skip() {
  echo "skipped: $1"
  case "${CI:-}" in
    true | 1)
      echo "under CI the web client's checks must run" >&2
      exit 1
      ;;
  esac
  exit 0
}

if ! command -v npm >/dev/null 2>&1; then
  skip "the web client's checks need Node.js 20+ with npm, which is not installed"
fi

export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Debian's chromium"
    log=$(mktemp)
    if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } >"$log" 2>&1; then
      tail -5 "$log"
      skip "chromium is not available (apt-get install chromium failed)"
    fi
  else
    skip "chromium is not available ($CHROMIUM is missing and apt-get cannot install it without root)"
  fi
fi

echo "== npm ci"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error

echo "== type-check and build"
npm run --silent typecheck
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
npx vite build --logLevel warn --outDir "$fresh/dist" --emptyOutDir
if ! diff -r "$fresh/dist" "$web/dist" >/dev/null; then
  diff -r "$fresh/dist" "$web/dist" | head -20 || true
  echo "web/dist is not the build of web/src: run 'npm run build' in web/ and commit web/dist"
  exit 1
fi
echo "web/dist matches a fresh build"

if [ -z "${CHATCTL:-}" ]; then
  echo "== cargo build --bin chatctl"
  (cd "$root" && cargo build --bin chatctl)
  export CHATCTL="${CARGO_TARGET_DIR:-$root/target}/debug/chatctl"
fi

echo "== end-to-end tests ($("$CHROMIUM" --version 2>/dev/null | head -1))"
status=0
npx playwright test || status=$?
# One plain closing line, whatever the reporter printed.
if [ -f test-results/results.json ]; then
  node -e '
    const s = require("./test-results/results.json").stats;
    const failed = s.unexpected + s.flaky;
    console.log(`web: ${s.expected} passed, ${failed} failed` + (s.skipped ? `, ${s.skipped} skipped` : ""));
  '
fi
echo "screenshots: web/test-results/screenshots/"
exit "$status"
