#!/usr/bin/env bash
# Installs Debian's Chromium, a Korean font and nginx (tests/e2e/test_proxy.py runs deploy/nginx/dscr.conf)
# for the end-to-end tests, when they are missing.
# Playwright's own browser download cannot work on these machines; the tests launch /usr/bin/chromium.
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
dpkg -s fonts-nanum >/dev/null 2>&1 || need+=(fonts-nanum)
[ -x /usr/sbin/nginx ] || need+=(nginx)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-browser: missing ${need[*]}; run as root: apt-get update && apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "ensure-browser: installing ${need[*]} (Debian packages)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
