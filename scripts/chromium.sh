#!/usr/bin/env bash
# Debian's chromium for the browser tests (tests/test_ui_browser.py), installed where
# missing. Playwright drives it through executable_path: no browser is ever downloaded.
set -euo pipefail
browser="${MLFLOW_COMPLIANCE_TEST_CHROMIUM:-/usr/bin/chromium}"

if [ ! -x "$browser" ]; then
  echo "chromium.sh: installing Debian's chromium" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "chromium.sh: $browser is missing and installing it needs root" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # Wait for another apt run (an install already under way) rather than fail on its lock.
  apt_get() { apt-get -o DPkg::Lock::Timeout=900 "$@"; }
  if ! apt_get install -y -qq chromium >/dev/null; then
    apt_get update -qq
    apt_get install -y -qq chromium >/dev/null
  fi
fi
if [ ! -x "$browser" ]; then
  echo "chromium.sh: $browser is still missing after installing chromium" >&2
  exit 1
fi
echo "chromium.sh: $("$browser" --version 2>/dev/null | head -n 1) at $browser" >&2
