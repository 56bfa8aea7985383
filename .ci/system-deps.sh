#!/usr/bin/env bash
# System packages the browser tests need: Debian's Chromium (a browser download at test time
# cannot work here). Idempotent; a no-op when Chromium is already installed.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "system-deps: /usr/bin/chromium is missing; install it with: sudo apt-get install -y chromium" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
echo "system-deps: installed $(/usr/bin/chromium --version)"
