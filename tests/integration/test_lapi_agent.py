"""An unmodified CrowdSec 1.4.6 agent (Debian's binary) reports to `synsec api` (issue 14): it logs in with the
credentials file `ccscli machines add --auto -f` wrote, replays an nginx attack log (`-dsn file://… -no-api`)
and pushes its alerts; synsec stores them, its profiles turn them into bans (counted on /metrics), and a
bouncer pulls them. The (scenario, ip) pairs are checked three ways: the overflows the agent itself logs
("Ip X performed 'S'"), `synsec replay` of the same file with the same hub content, and what synsec stored and
serves."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
import yaml

from connectors.kafka.broker import free_port
from synsec.metrics import parse
from tests.hubutil import crowdsec_ref, require_hub
from tests.integration.test_api_http import ccs, http, running_api
from tests.integration.test_central_crowdsec import ATTACKER, PROFILES, _wait
from tests.integration.test_hub_compat import T0, nginx_log
from tests.integration.test_lapi_tls import _call, _ctx, certs  # noqa: F401 — certs: a module fixture

pytestmark = [pytest.mark.hub, pytest.mark.integration]


def _synsec_pairs(cfg, data, log) -> set[tuple[str, str]]:
    """(scenario, ip) of `synsec replay` of the same file with the same hub content."""
    from synsec.assembly.build import EngineOptions
    from synsec.runner.replay import replay

    res = replay([str(log)], {"type": "nginx"}, EngineOptions(config_dir=cfg, data_dirs=(data,),
                                                              reference_year=T0.year), reference_ts=T0.timestamp())
    return {(a.Scenario, a.Source.IP) for a in res.alerts}


def _agent_setup(tmp_path):
    """(hub paths, work dir, crowdsec config, attack log, expected pairs, loopback-only env) of an agent run."""
    paths = require_hub()
    work = tmp_path / "cs"
    cfg_path = crowdsec_ref().build_config(work, paths, ["crowdsecurity/nginx"], "http://127.0.0.1:9/")
    (work / "cfg" / "profiles.yaml").write_text(PROFILES)
    log = tmp_path / "attack.log"
    log.write_text("\n".join(line.replace("203.0.113.30", ATTACKER) for line in nginx_log()) + "\n")
    want = _synsec_pairs(work / "cfg", work / "data", log)
    assert len(want) == 3, want
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "no_proxy")}
    env.update(HTTP_PROXY=f"http://127.0.0.1:{free_port()}", HTTPS_PROXY=f"http://127.0.0.1:{free_port()}",
               NO_PROXY="127.0.0.1")       # loopback only
    return paths, work, cfg_path, log, want, env


def _replay(paths, cfg_path, log, want, env, work) -> None:
    """crowdsec -dsn file://LOG -no-api: it pushes its alerts; its own overflows (as it logs them) are `want`."""
    run = subprocess.run([str(paths["CROWDSEC_BIN"]), "-c", str(cfg_path), "-dsn", f"file://{log}", "-type",
                          "nginx", "-no-api"], env=env, cwd=work, capture_output=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    theirs = set(re.findall(r"msg=\"Ip (\S+) performed '([^']+)' \(", run.stderr.decode(errors="replace")))
    assert {(s, ip) for ip, s in theirs} == want


def test_crowdsec_146_agent_reports_to_synsec_api(tmp_path):
    """1.4.6 logs in with ccscli's credentials file and pushes its alerts: they are in synsec's store (ccscli
    alerts list, with the machine id), the same (scenario, ip) pairs as the agent's own overflows and as
    synsec's replay of the file, and each is a ban on the bouncer stream; 1.4.6's cscli, logged in with the
    same file, lists them with their decisions (`alerts list`, `decisions list`), inspects one by its integer
    id and deletes by scenario; the machine's login, push and scenarios are recorded."""
    paths, work, cfg_path, log, want, env = _agent_setup(tmp_path)
    state, cfg, data = tmp_path / "state", work / "cfg", work / "data"
    port = free_port()
    ccs(state, "machines", "add", "agent1", "--auto", "-f", str(cfg / "local_api_credentials.yaml"),
        "--url", f"http://127.0.0.1:{port}/")
    creds = yaml.safe_load((cfg / "local_api_credentials.yaml").read_text())
    assert creds["login"] == "agent1" and len(creds["password"]) >= 32
    assert oct((cfg / "local_api_credentials.yaml").stat().st_mode & 0o777) == "0o600"
    key = ccs(state, "bouncers", "add", "fw", "-o", "raw").strip()

    with running_api(state, tmp_path / "api.log", args=("--refresh-interval", "0.05", "--config-dir", str(cfg),
                                                        "--data-dir", str(data)), port=port) as url:
        _replay(paths, cfg_path, log, want, env, work)

        def stored():
            rows = json.loads(ccs(state, "alerts", "list", "-o", "json"))
            return rows if len(rows) >= len(want) else None
        rows = _wait(stored, 15, "alerts pushed by crowdsec 1.4.6")
        assert {(r["scenario"], r["source"]["ip"]) for r in rows} == want
        assert {r["machine_id"] for r in rows} == {"agent1"}
        assert all(r["events"] and r["events_count"] >= 1 for r in rows)

        status, body = http(url + "/v1/decisions/stream?startup=true", key)
        assert status == 200
        bans = {(d["scenario"], d["value"]) for d in json.loads(body)["new"] if d["type"] == "ban"}
        assert bans == want
        made = [s for s in parse(http(url + "/metrics")[1].decode()) if s.name == "synsec_decisions_total"]
        assert {s.get("scenario") for s in made} == {scenario for scenario, _ip in want}     # the API's profiles'
        assert sum(s.value for s in made if s.get("type") == "ban") == len(want)             # counts, on /metrics

        def cscli(*args) -> object:        # 1.4.6's cscli, logged in with the same credentials file
            done = subprocess.run([str(paths["CROWDSEC_BIN"].parent / "cscli"), "-c", str(cfg_path), *args, "-o",
                                   "json"], env=env, cwd=work, capture_output=True, timeout=30)
            assert done.returncode == 0, done.stderr[-2000:]
            return json.loads(done.stdout)
        listed = cscli("alerts", "list")
        assert {(a["scenario"], a["source"]["ip"]) for a in listed} == want
        assert all(isinstance(a["id"], int) and a["decisions"][0]["type"] == "ban" for a in listed)
        assert {(d["scenario"], d["value"]) for a in cscli("decisions", "list") for d in a["decisions"]} == want
        one = cscli("alerts", "inspect", str(listed[0]["id"]))
        assert (one["id"], one["source"]["ip"]) == (listed[0]["id"], listed[0]["source"]["ip"])
        done = subprocess.run([str(paths["CROWDSEC_BIN"].parent / "cscli"), "-c", str(cfg_path), "alerts", "delete",
                               "--scenario", "crowdsecurity/http-bad-user-agent"], env=env, cwd=work,
                              capture_output=True, timeout=30)
        assert done.returncode == 0, done.stderr[-2000:]
        left = json.loads(ccs(state, "alerts", "list", "-o", "json"))
        assert {r["scenario"] for r in left} == {s for s, _ in want} - {"crowdsecurity/http-bad-user-agent"}

    machine = json.loads(ccs(state, "machines", "inspect", "agent1", "-o", "json"))
    assert machine["last_login"] and machine["last_push"] and machine["user_agent"].startswith("crowdsec/")
    assert "crowdsecurity/http-probing" in machine["scenarios"].split(",")


def test_crowdsec_146_agent_over_mtls(tmp_path, certs):  # noqa: F811
    """1.4.6 over HTTPS with a client certificate (OU agent-ou) instead of a password: it logs in as the
    machine agent7@127.0.0.1 and its alerts become the same bans."""
    paths, work, cfg_path, log, want, env = _agent_setup(tmp_path)
    state, cfg, data = tmp_path / "state", work / "cfg", work / "data"
    key = ccs(state, "bouncers", "add", "fw", "-o", "raw").strip()
    port = free_port()
    (cfg / "local_api_credentials.yaml").write_text(yaml.safe_dump({
        "url": f"https://127.0.0.1:{port}/", "ca_cert_path": str(certs / "ca.pem"),
        "cert_path": str(certs / "agent.pem"), "key_path": str(certs / "agent.key")}))
    args = ("--refresh-interval", "0.05", "--config-dir", str(cfg), "--data-dir", str(data), "--tls-cert",
            str(certs / "server.pem"), "--tls-key", str(certs / "server.key"), "--tls-client-ca", str(certs / "ca.pem"))
    with running_api(state, tmp_path / "api.log", args=args, port=port, tls=_ctx(certs)) as url:
        _replay(paths, cfg_path, log, want, env, work)
        rows = _wait(lambda: (r := json.loads(ccs(state, "alerts", "list", "-o", "json"))) and len(r) >= 3 and r,
                     15, "alerts pushed over mTLS")
        assert {(r["scenario"], r["source"]["ip"]) for r in rows} == want
        assert {r["machine_id"] for r in rows} == {"agent7@127.0.0.1"}
        status, body = _call(url + "/v1/decisions", _ctx(certs), headers={"X-Api-Key": key})
        assert status == 200 and {(d["scenario"], d["value"]) for d in body} == want
