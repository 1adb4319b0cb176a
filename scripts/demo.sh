#!/usr/bin/env bash
# The main job on the embedded default: install, replay the bundled sample logs, print alerts and decisions.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh
export SYNSEC_STATE_DIR=${SYNSEC_STATE_DIR:-$HOME/.local/state/synsec}
echo "== nginx access log (scenarios/samples/nginx-demo.log)"
.venv/bin/synsec replay scenarios/samples/nginx-demo.log --type nginx
echo "== auth + kernel log (scenarios/samples/auth-demo.log)"
.venv/bin/synsec replay scenarios/samples/auth-demo.log --type syslog
echo "== decisions now in the embedded store ($SYNSEC_STATE_DIR)"
.venv/bin/ccscli decisions list
