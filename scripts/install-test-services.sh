#!/usr/bin/env bash
# Install (never start) the programs behind the real servers the tests start themselves.
# Idempotent: anything already present is skipped, so a developer machine pays once.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

need=()
# Each entry: a file that proves the package is installed, then the Debian package.
while read -r probe package; do
  [ -e "$probe" ] || need+=("$package")
done <<'LIST'
/usr/lib/postgresql/15/bin/initdb postgresql-15
LIST

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-test-services: need root to install: ${need[*]}" >&2
    exit 1
  fi
  # Debian packages of servers start them on install; policy-rc.d keeps them stopped.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
  fi
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 "${need[@]}" >/dev/null
fi
