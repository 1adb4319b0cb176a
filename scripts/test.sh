#!/usr/bin/env bash
# Install everything the tests need on a fresh Debian 12 (venv, pip deps, CrowdSec 1.4.6 hub, valgrind)
# and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh test
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }
# Debian packages listed in scripts/apt-packages.txt, installed only when missing (no service is started:
# the tests start their own servers on loopback).
missing=()
while read -r pkg; do
  [ -z "$pkg" ] || [ "${pkg:0:1}" = "#" ] || dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done < scripts/apt-packages.txt
if [ ${#missing[@]} -gt 0 ]; then
  echo "apt: installing ${missing[*]}" >&2
  (as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null) \
    || { echo "apt: could not install ${missing[*]}" >&2; exit 1; }
fi
bash scripts/crowdsec-hub.sh >/dev/null
export SYNSEC_HUB_ROOT=${SYNSEC_HUB_ROOT:-$PWD/.cache/crowdsec/root}
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
