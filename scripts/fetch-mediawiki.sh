#!/usr/bin/env bash
# Unpack MediaWiki 1.39 from Debian's packages into a folder the tests run it from, without
# installing it: `apt-get install mediawiki` would pull in Apache and start it on port 80.
# Usage: scripts/fetch-mediawiki.sh [DEST]   (quick no-op when DEST is already complete)
set -euo pipefail
cache=/var/cache/orgkb-test
[ -w /var/cache ] || cache="$HOME/.cache/orgkb-test"
DEST=${1:-${ORGKB_TEST_CACHE:-$cache}/mediawiki-1.39}
[ -e "$DEST/.complete" ] && exit 0

mkdir -p "$(dirname "$DEST")"
work=$(mktemp -d "$(dirname "$DEST")/.mediawiki-XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
if ! apt-get download -q mediawiki mediawiki-classes >/dev/null 2>&1; then
  # A fresh machine may have no package lists yet.
  apt-get update -q >/dev/null
  apt-get download -q mediawiki mediawiki-classes >/dev/null
fi
mkdir unpacked
for deb in ./*.deb; do dpkg-deb -x "$deb" unpacked; done
tree=unpacked/usr/share/mediawiki
# Debian links these to /etc and /var/lib; each test wiki keeps its own settings and data instead.
rm -f "$tree/LocalSettings.php" "$tree/config" "$tree/extensions" "$tree/images"
ln -s extensions-core "$tree/extensions"
mkdir "$tree/images"
rm -rf "$DEST"
mv "$tree" "$DEST"
touch "$DEST/.complete"
