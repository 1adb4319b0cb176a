#!/usr/bin/env bash
# Install everything the tests need on a fresh Debian 12 (venv, pip deps, CrowdSec 1.4.6 hub, valgrind)
# and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh test
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }
if ! command -v valgrind >/dev/null; then
  (as_root apt-get update -qq && as_root apt-get install -y -qq valgrind >/dev/null) || echo "valgrind unavailable: step-bound grok test will skip" >&2
fi
bash scripts/crowdsec-hub.sh >/dev/null
export SYNSEC_HUB_ROOT=${SYNSEC_HUB_ROOT:-$PWD/.cache/crowdsec/root}
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
