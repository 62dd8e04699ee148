#!/usr/bin/env bash
# Checks the few system programs rolechat's local stack and tests use; installs them with apt-get
# when they are missing and we may (root on Debian/Ubuntu), otherwise says what to install.
set -euo pipefail
need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v npm >/dev/null || need+=(nodejs npm)
if [ "${1:-}" = "--browser" ]; then
  [ -x /usr/bin/chromium ] || need+=(chromium)
fi
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing ${need[*]} with apt-get..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "Please install: ${need[*]} (e.g. sudo apt-get install ${need[*]})" >&2
  exit 1
fi
