"""Debian's real `crowdsec-custom-bouncer` (CrowdSec 1.4 era, go-cs-bouncer) against `synsec api`.

The bouncer gets a key from `ccscli bouncers add NAME -o raw`, pulls /v1/decisions/stream every second and
runs a script for each decision; the script records its arguments. A replayed attack must reach it as
`add <ip> <seconds> <scenario> <json>` calls, and `ccscli decisions delete` as a `del` call.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.hubutil import REPO, require_hub
from tests.integration.test_api_http import running_api
from tests.procutil import stop

pytestmark = [pytest.mark.integration, pytest.mark.hub, pytest.mark.slow]

SAMPLE = REPO / "scenarios" / "samples" / "auth-demo.log"
CCSCLI = [sys.executable, "-c", "from synsec.cli.ccscli import main; main()"]
SYNSEC = [sys.executable, "-m", "synsec.cli.main"]


def run(args: list[str]) -> str:
    res = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert res.returncode == 0, res.stderr
    return res.stdout


def ccscli(state: Path, *args: str) -> str:
    """The real `ccscli` entry point in a subprocess, on the test's state directory."""
    return run([*CCSCLI, "--state-dir", str(state), *args])


def calls(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    return [ln.rstrip("\t").split("\t") for ln in path.read_text().splitlines() if ln.strip()]


def wait_for(predicate, what: str, log: Path, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; bouncer log:\n{log.read_text() if log.exists() else '-'}")


def write_config(tmp: Path, url: str, key: str, script: Path) -> Path:
    cfg = tmp / "crowdsec-custom-bouncer.yaml"
    cfg.write_text(f"""bin_path: {script}
feed_via_stdin: false
total_retries: 0
scenarios_containing: []
scenarios_not_containing: []
origins: []
piddir: {tmp}/
update_frequency: 1s
cache_retention_duration: 10s
daemonize: false
log_mode: file
log_dir: {tmp}/
log_level: debug
api_url: {url}/
api_key: {key}
prometheus:
  enabled: false
  listen_addr: 127.0.0.1
  listen_port: 0
""")
    return cfg


def test_real_custom_bouncer_gets_bans_and_deletions(tmp_path):
    """Bans from a replayed attack and a ccscli IPv6 range reach the real bouncer; deletions follow."""
    binary = require_hub()["CUSTOM_BOUNCER_BIN"]
    if not binary.exists():
        pytest.skip(f"{binary} missing (run scripts/crowdsec-hub.sh)")
    state, record = tmp_path / "state", tmp_path / "calls.tsv"
    key = ccscli(state, "bouncers", "add", "custom-test", "-o", "raw").strip()
    script = tmp_path / "record.sh"
    script.write_text(f"#!/bin/sh\nprintf '%s\\t' \"$@\" >> {record}\necho >> {record}\n")
    script.chmod(0o755)
    log = tmp_path / "crowdsec-custom-bouncer.log"
    with running_api(state, tmp_path / "api.log") as url:
        cfg = write_config(tmp_path, url, key, script)
        bouncer = subprocess.Popen([str(binary), "-c", str(cfg)], cwd=tmp_path, stdout=subprocess.DEVNULL,
                                   stderr=open(tmp_path / "bouncer.stderr", "wb"))
        try:
            wait_for(lambda: json.loads(ccscli(state, "bouncers", "list", "-o", "json"))[0]["last_pull"],
                     "the bouncer's first pull", log)
            out = json.loads(run([*SYNSEC, "replay", str(SAMPLE), "--type", "syslog", "--state-dir", str(state),
                                  "-o", "json"]))
            banned = {d["value"] for d in out["decisions"] if d["type"] == "ban" and not d["simulated"]}
            assert len(banned) >= 2
            ccscli(state, "decisions", "add", "--range", "2001:db8:dead::/48", "-R", "manual range")
            adds = wait_for(lambda: (lambda a: a if set(a) >= banned | {"2001:db8:dead::/48"} else None)(
                {c[1]: c for c in calls(record) if c[0] == "add"}), "add calls for every ban", log)
            for value in banned:
                verb, ip, seconds, scenario, body = adds[value]
                decision = json.loads(body)
                assert decision["value"] == ip and decision["type"] == "ban" and decision["origin"] == "synsec"
                assert scenario == decision["scenario"] and scenario.startswith("synsec/")
                assert 14000 < int(seconds) <= 14400          # the profile's 4h, counted down
            assert adds["2001:db8:dead::/48"][3] == "manual range"
            assert json.loads(adds["2001:db8:dead::/48"][4])["scope"] == "Range"

            gone = sorted(banned)[0]
            ccscli(state, "decisions", "delete", "--ip", gone)
            ccscli(state, "decisions", "delete", "--range", "2001:db8:dead::/48")
            dels = wait_for(lambda: (lambda d: d if {gone, "2001:db8:dead::/48"} <= d else None)(
                {c[1] for c in calls(record) if c[0] == "del"}), "del calls", log)
            assert dels == {gone, "2001:db8:dead::/48"}          # the other bans stay
        finally:
            stop(bouncer)
