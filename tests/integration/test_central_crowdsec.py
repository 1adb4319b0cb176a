"""An unmodified CrowdSec 1.4.6 LAPI (Debian's binary) joins a synsec crowd: it logs in to `synsec central`,
pushes the signals of a replayed attack log, and pulls the community blocklist entry two watchers agreed on, and `ccscli crowd explain|status` read central
(curation relaxed to two reporters, both registering from loopback; hub hashes checked against Debian's index)."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from connectors.kafka.broker import free_port
from synsec.cli.ccscli import ccscli
from tests.hubutil import crowdsec_ref, require_hub
from tests.integration.test_hub_compat import nginx_log
from tests.procutil import stop, wait_for as _wait     # _wait: the crowd tests import it from here

pytestmark = [pytest.mark.hub, pytest.mark.integration]

ATTACKER = "45.13.227.7"          # a global address: documentation ranges are never listed
PROFILES = """name: default_ip_remediation
filters:
 - Alert.Remediation == true && Alert.GetScope() == "Ip"
decisions:
 - type: ban
   duration: 4h
on_success: break
"""


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))    # loopback: never via $http_proxy


def _call(url: str, body=None, token: str | None = None) -> dict:
    req = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {token}"} if token else {})})
    with _DIRECT.open(req, timeout=10) as resp:
        return json.loads(resp.read())



def _lapi_config(work: Path, central_url: str) -> tuple[Path, int]:
    """crowdsec_ref's replay config plus an `api.server` (LAPI on a free port, sqlite) joined to central."""
    port = free_port()
    cfg_path = crowdsec_ref().build_config(work, require_hub(), ["crowdsecurity/nginx"], f"http://127.0.0.1:{port}/")
    cfg, etc = yaml.safe_load(cfg_path.read_text()), work / "cfg"
    (etc / "profiles.yaml").write_text(PROFILES)
    (etc / "console.yaml").write_text("share_manual_decisions: false\nshare_custom: true\nshare_tainted: true\n")
    (etc / "online_api_credentials.yaml").write_text(
        yaml.safe_dump({"url": central_url, "login": "lapi-1", "password": "lapi-1-password"}))
    cfg["api"]["server"] = {"listen_uri": f"127.0.0.1:{port}", "profiles_path": str(etc / "profiles.yaml"),
                            "console_path": str(etc / "console.yaml"),
                            "online_client": {"credentials_path": str(etc / "online_api_credentials.yaml")}}
    cfg["db_config"] = {"type": "sqlite", "db_path": str(work / "crowdsec.db"), "use_wal": True}
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return cfg_path, port


class Procs:
    """Processes this test started, stopped by PID."""

    def __init__(self):
        self.procs: list[subprocess.Popen] = []

    def start(self, cmd, log: Path, **kw) -> subprocess.Popen:
        p = subprocess.Popen(cmd, stdout=open(log, "wb"), stderr=subprocess.STDOUT, **kw)
        self.procs.append(p)
        return p

    def stop(self, p: subprocess.Popen) -> None:
        stop(p, grace=15)


@pytest.fixture
def procs():
    ps = Procs()
    yield ps
    for p in ps.procs:
        ps.stop(p)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _capi_decisions(db: Path) -> set[tuple[str, str]]:
    if not db.exists():
        return set()
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return set(con.execute("SELECT value, origin FROM decisions WHERE origin = 'CAPI'").fetchall())
    except sqlite3.OperationalError:
        return set()
    finally:
        con.close()


def test_crowdsec_146_lapi_joins_a_synsec_crowd(tmp_path, procs):
    """1.4.6's LAPI logs in, pushes its alerts as signals (stored with IP and scenario), and after a second
    watcher reports the same global IP, pulls it at its next start as a CAPI decision; no documentation IP."""
    paths = require_hub()
    cport = free_port()
    central_url = f"http://127.0.0.1:{cport}/"
    state = tmp_path / "central"
    rules = tmp_path / "curation.yaml"
    rules.write_text("consensus: {min_reporters: 2, min_score: 0.9}\ncohorts: {same_block: false}\n")
    index = paths["CROWDSEC_HUB"] / ".index.json"
    procs.start([sys.executable, "-m", "synsec.cli.main", "central", "--listen", f"127.0.0.1:{cport}",
                 "--state-dir", str(state), "--curation", str(rules), "--hub-index", str(index)],
                tmp_path / "central.log")
    _wait(lambda: _listening(cport), 20, "synsec central")
    for who in ("lapi-1", "watcher-2"):          # what `cscli capi register` does, to our URL
        _call(central_url + "v2/watchers", {"machine_id": who, "password": f"{who}-password"})

    work = tmp_path / "cs"
    cfg, lport = _lapi_config(work, central_url)
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "no_proxy")}
    env.update(HTTP_PROXY=f"http://127.0.0.1:{free_port()}", HTTPS_PROXY=f"http://127.0.0.1:{free_port()}",
               NO_PROXY="127.0.0.1")       # nothing but loopback: the public hub/CAPI hosts get a refusing proxy
    bindir = paths["CROWDSEC_BIN"].parent
    subprocess.run([str(bindir / "cscli"), "-c", str(cfg), "machines", "add", "synsec-bench", "--password",
                    "synsec-bench", "-f", str(work / "agent-creds.yaml"), "--force"],
                   check=True, env=env, cwd=work, capture_output=True, timeout=30)
    lapi_cmd = [str(paths["CROWDSEC_BIN"]), "-c", str(cfg), "-no-cs"]
    lapi = procs.start(lapi_cmd, work / "lapi.log", env=env, cwd=work)
    _wait(lambda: _listening(lport), 20, "crowdsec LAPI")

    log = tmp_path / "attack.log"
    log.write_text("\n".join(line.replace("203.0.113.30", ATTACKER) for line in nginx_log()) + "\n")
    subprocess.run([str(paths["CROWDSEC_BIN"]), "-c", str(cfg), "-dsn", f"file://{log}", "-type", "nginx",
                    "-no-api"], check=True, env=env, cwd=work, capture_output=True, timeout=180)

    # 1.4.6 pushes signals 15-45 s after it starts (then every 30 s)
    store = state / "central.db"

    def signals():
        con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
        try:
            return con.execute("SELECT watcher, machine_id, value, scenario, scenario_hash FROM signals").fetchall()
        finally:
            con.close()
    got = _wait(lambda: len(signals()) >= 3 and signals(), 55, "signals pushed by crowdsec 1.4.6", step=1)
    assert {(w, m, v, s) for w, m, v, s, _ in got} == {
        ("lapi-1", "synsec-bench", ATTACKER, "crowdsecurity/http-probing"),
        ("lapi-1", "synsec-bench", "203.0.113.40", "crowdsecurity/http-sensitive-files"),
        ("lapi-1", "synsec-bench", "203.0.113.50", "crowdsecurity/http-bad-user-agent")}
    assert all(len(h) == 64 for *_, h in got)       # hub scenarios: their hash is sent

    token = _call(central_url + "v2/watchers/login", {"machine_id": "watcher-2", "password": "watcher-2-password",
                                                      "scenarios": ["crowdsecurity/http-probing"]})["token"]
    probing = json.loads(index.read_text())["scenarios"]["crowdsecurity/http-probing"]
    digest = probing["versions"][probing["version"]]["digest"]
    second = [{"scenario": "crowdsecurity/http-probing", "scenario_hash": digest, "scenario_version": "0.2",
               "source": {"scope": "Ip", "value": ip}, "start_at": "2026-11-22T10:00:00Z",
               "stop_at": "2026-11-22T10:00:05Z"} for ip in (ATTACKER, "203.0.113.40")]
    _call(central_url + "v2/signals", second, token)

    procs.stop(lapi)       # 1.4.6 pulls at start, then every 2 h: a restart is its next pull
    procs.start(lapi_cmd, work / "lapi2.log", env=env, cwd=work)
    pulled = _wait(lambda: _capi_decisions(work / "crowdsec.db"), 30, "CAPI decisions pulled by crowdsec 1.4.6")
    assert pulled == {(ATTACKER, "CAPI")}
    # ccscli crowd over central, as lapi-1 (its online_api_credentials.yaml)
    creds = work / "cfg" / "online_api_credentials.yaml"
    res = CliRunner().invoke(ccscli, ["crowd", "--credentials", str(creds), "explain", ATTACKER, "-o", "json"])
    assert res.exit_code == 0, res.output
    why = json.loads(res.stdout)
    assert why["listed"] and why["rule"].startswith("consensus: http: 2 cohort(s)")
    assert len({r["reporter"] for r in why["reporters"]}) == 2 and "lapi-1" not in res.stdout
    res = CliRunner().invoke(ccscli, ["crowd", "--credentials", str(creds), "explain", ATTACKER])
    assert res.exit_code == 0 and f"{ATTACKER}: listed until" in res.stdout and "# Listings" in res.stdout, res.output
    res = CliRunner().invoke(ccscli, ["crowd", "--credentials", str(creds), "status"])
    assert res.exit_code == 0 and "listed\t1" in res.stdout, res.output
    res = CliRunner().invoke(ccscli, ["crowd", "--url", central_url, "--machine-id", "lapi-1", "--password", "no",
                                      "status"])
    assert res.exit_code == 1 and "HTTP 403" in res.output
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:        # 1.4.6's login sent its scenarios (central matched its pull to them); ccscli's logins kept them
        sent = con.execute("SELECT scenarios FROM watchers WHERE machine_id = 'lapi-1'").fetchone()[0].split(",")
    finally:
        con.close()
    assert "crowdsecurity/http-probing" in sent
    requests = (tmp_path / "central.log").read_text()
    for line in ("POST /v2/watchers/login -> 200", "POST /v2/signals -> 200", "GET /v2/decisions/stream -> 200",
                 "POST /v2/metrics/ -> 201"):
        assert line in requests
