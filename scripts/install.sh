#!/usr/bin/env bash
# Install synsec with pip: the one install step shared by CI (scripts/venv.sh) and the image (docker/Dockerfile).
# Usage: scripts/install.sh PYTHON SPEC [PIP FLAGS]   e.g. scripts/install.sh .venv/bin/python ".[test]" -e
set -euo pipefail
py=$1
spec=$2
shift 2
"$py" -m pip install -q --upgrade pip >/dev/null
"$py" -m pip install -q "$@" "$spec"
