#!/usr/bin/env bash
# Debian's Chromium and its matching chromedriver for the report tests (tests/report), which
# open the generated pages in a real headless browser. Browser downloads (selenium-manager,
# playwright install) are never used: the system packages are. Idempotent.
# Usage: .ci/browser.sh   (needs root, or sudo, for apt-get)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if ! { [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; }; then
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -q
  $sudo_cmd apt-get install -y -q chromium chromium-driver
fi
echo "browser ready: $(/usr/bin/chromium --version 2>/dev/null | head -1), $(/usr/bin/chromedriver --version | head -1)"
