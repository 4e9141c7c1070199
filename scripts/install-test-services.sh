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
/usr/sbin/smbd samba
/usr/sbin/samba samba-ad-dc
/usr/share/samba/setup/provision.ldif samba-ad-provision
/usr/bin/ldbsearch ldb-tools
/usr/bin/smbcacls smbclient
/usr/bin/php php-cli
/etc/php/8.2/mods-available/pdo_sqlite.ini php-sqlite3
/etc/php/8.2/mods-available/intl.ini php-intl
/etc/php/8.2/mods-available/mbstring.ini php-mbstring
/etc/php/8.2/mods-available/dom.ini php-xml
/usr/share/dokuwiki/doku.php dokuwiki
/usr/lib/postgresql/15/bin/initdb postgresql-15
LIST
# The MCP Inspector CLI (below) needs Node and npm.
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)

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

# MediaWiki is unpacked from its Debian packages, not installed (that would start Apache).
scripts/fetch-mediawiki.sh

# The MCP Inspector CLI, installed once into a cache folder so tests never download it (~240 MB).
# 0.15.0 is the last release that runs on Node 20; tests/test_inspector.py finds it at the same path.
INSPECTOR_VERSION=0.15.0
inspector="${ORGKB_TOOLS_DIR:-$HOME/.cache/orgkb-test-tools}/inspector-$INSPECTOR_VERSION"
if [ ! -x "$inspector/node_modules/.bin/mcp-inspector" ]; then
  npm install --prefix "$inspector" --no-audit --no-fund --loglevel=error \
    "@modelcontextprotocol/inspector@$INSPECTOR_VERSION" >/dev/null
fi

# A real OpenID Connect provider for the HTTP auth tests (tests/oidc_server.py finds it here).
OIDC_PROVIDER_VERSION=9.13.3
oidc="${ORGKB_TOOLS_DIR:-$HOME/.cache/orgkb-test-tools}/oidc-provider-$OIDC_PROVIDER_VERSION"
if [ ! -e "$oidc/node_modules/oidc-provider/package.json" ]; then
  npm install --prefix "$oidc" --no-audit --no-fund --loglevel=error "oidc-provider@$OIDC_PROVIDER_VERSION" >/dev/null
fi
