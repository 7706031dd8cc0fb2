#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the browser tests (Playwright drives it; its own
# browser downloads do not work offline). Prints the browser's path.
set -euo pipefail
chromium="${LRKIT_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "browser tests: $chromium is missing; install it with: sudo apt-get install chromium" >&2
    exit 1
  fi
  echo "browser tests: installing Debian's chromium (first run only)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends chromium >&2 2>/dev/null \
    || { apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends chromium >&2; }
fi
echo "$chromium"
