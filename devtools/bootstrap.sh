#!/usr/bin/env bash
# Creates .venv with the pinned dependencies; installs python3-venv via apt if it is missing, and
# Chromium with its driver for the browser test (see the end).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq python3-venv python3-pip >/dev/null
  else
    echo "python3 with the venv module is required" >&2; exit 1
  fi
fi
"$PYTHON" - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"Python 3.11+ is required, found {sys.version.split()[0]}")
PY
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
# The browser test (tests/e2e/test_report_page_browser.py) needs Debian's chromium and chromium-driver;
# installed here when apt-get can do it without a password prompt. Otherwise `make test` says how (or
# set LAMPCARE_SKIP_BROWSER=1 to skip that one test).
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo "sudo -n")
    if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
        chromium chromium-driver fonts-wqy-zenhei >/dev/null; }; then
      echo "could not install chromium and chromium-driver: the browser test will fail until they are" \
        "installed (sudo apt-get install chromium chromium-driver) or LAMPCARE_SKIP_BROWSER=1 is set" >&2
    fi
  else
    echo "no apt-get: install Chromium and its chromedriver at /usr/bin, or set LAMPCARE_SKIP_BROWSER=1" >&2
  fi
fi
