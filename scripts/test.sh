#!/usr/bin/env bash
# Install everything the test suite needs, then run it: the Python package with its test extra,
# the real servers the tests start (from Debian packages), and the MCP Inspector CLI (npm).
# Usage: scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'

scripts/install-test-services.sh

export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false ANONYMIZED_TELEMETRY=False
exec .venv/bin/python -m pytest "$@"
