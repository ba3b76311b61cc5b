#!/usr/bin/env bash
# Install what the browser test needs: Debian's Chromium (never a browser download from
# Playwright's servers) and the fonts it renders with. Run as root (CI does), or with sudo.
#
#   scripts/install-browser.sh            # apt-get install chromium
#   pip install playwright                # the Python driver; do NOT run `playwright install`
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  echo "chromium already installed: $(chromium --version 2>/dev/null || echo '?')"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "install-browser.sh: not root and no sudo; install Debian's chromium package by hand" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# chromium-driver is not needed by Playwright but keeps the DevTools/WebDriver route open;
# fonts-dejavu-core gives readable text in screenshots on a bare image.
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core
echo "installed: $(chromium --version)"
