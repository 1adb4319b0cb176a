"""ccscli against a real `synsec api` process on a free loopback port: `alerts list|inspect|delete` over the
API give what the store gives, and `ccscli metrics --url` renders the API's Prometheus endpoint."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from synsec.cli.ccscli import ccscli
from synsec.cli.main import cli
from tests.integration.test_api_http import ccs, http, running_api

pytestmark = pytest.mark.integration

AUTH_SAMPLE = Path(__file__).resolve().parents[2] / "scenarios" / "samples" / "auth-demo.log"


def remote(state: Path, url: str, key: str, *args, ok: bool = True):
    """ccscli with --api-url/--api-key on the noun group (the store dir is empty of alerts: a wrong path
    would show in the results)."""
    noun, rest = args[0], args[1:]
    res = CliRunner().invoke(ccscli, ["--state-dir", str(state), noun, "--api-url", url, "--api-key", key, *rest])
    assert (res.exit_code == 0) == ok, res.output
    return res.stdout if ok else res.output


@pytest.fixture
def api(tmp_path):
    """A store filled by a replay of the auth sample, a machine and a bouncer key, and the API serving it."""
    state = tmp_path / "state"
    res = CliRunner().invoke(cli, ["replay", str(AUTH_SAMPLE), "--type", "syslog", "--state-dir", str(state),
                                   "-o", "json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    replayed = json.loads(res.stdout)
    keys = {"admin": ccs(state, "bouncers", "add", "admin", "--role", "machine", "-o", "raw").strip(),
            "fw": ccs(state, "bouncers", "add", "fw", "-o", "raw").strip()}
    with running_api(state) as url:
        yield url, keys, state, replayed, tmp_path / "elsewhere"


def test_alerts_list_and_inspect_over_the_api_equal_the_store(api):
    """`alerts list|inspect` over the API print exactly what they print on the store, in json and human."""
    url, keys, state, replayed, elsewhere = api
    for args in (["-o", "json"], [], ["--scenario", "synsec/ssh-bf", "-o", "json"], ["--limit", "2", "-o", "json"]):
        assert remote(elsewhere, url, keys["admin"], "alerts", "list", *args) == ccs(state, "alerts", "list", *args)
    rows = json.loads(ccs(state, "alerts", "list", "-o", "json"))
    assert len(rows) == len(replayed["alerts"]) == 6
    for output in ("json", "human"):
        assert remote(elsewhere, url, keys["admin"], "alerts", "inspect", rows[0]["id"], "-o", output) == \
            ccs(state, "alerts", "inspect", rows[0]["id"], "-o", output)
    assert "no alert with id 'nope'" in remote(elsewhere, url, keys["admin"], "alerts", "inspect", "nope", ok=False)


def test_alerts_over_the_api_need_a_machine_key(api):
    """A bouncer key or no key gets a clear error, not data."""
    url, keys, _state, _replayed, elsewhere = api
    out = remote(elsewhere, url, keys["fw"], "alerts", "list", ok=False)
    assert "HTTP 403" in out and "synsec/ssh-bf" not in out
    res = CliRunner().invoke(ccscli, ["--state-dir", str(elsewhere), "alerts", "--api-url", url, "list"],
                             env={"SYNSEC_API_KEY": ""})
    assert res.exit_code == 2 and "no key" in res.output


def test_alerts_delete_over_the_api(api):
    """`alerts delete --id` and `--scenario` over the API remove them from the store; an unknown id fails."""
    url, keys, state, _replayed, elsewhere = api
    rows = json.loads(ccs(state, "alerts", "list", "-o", "json"))
    assert "1 alert(s) deleted" in remote(elsewhere, url, keys["admin"], "alerts", "delete", "--id", rows[0]["id"])
    assert "no alert with id" in remote(elsewhere, url, keys["admin"], "alerts", "delete", "--id", rows[0]["id"],
                                        ok=False)
    n_ssh = sum(1 for r in rows[1:] if r["scenario"] == "synsec/ssh-bf")
    out = remote(elsewhere, url, keys["admin"], "alerts", "delete", "--scenario", "synsec/ssh-bf")
    assert out.strip() == f"{n_ssh} alert(s) deleted" and n_ssh > 0
    assert len(json.loads(ccs(state, "alerts", "list", "-o", "json"))) == len(rows) - 1 - n_ssh
    assert "embedded store only" in remote(elsewhere, url, keys["admin"], "alerts", "delete", "--all", ok=False)


def test_metrics_url_renders_the_api_endpoint(api):
    """`ccscli metrics --url` shows the API's requests, bouncer pulls, active decisions and stored alerts, and
    the decisions the replay made (its counters, in the store the API serves)."""
    url, keys, state, replayed, elsewhere = api
    http(url + "/v1/decisions/stream?startup=true", keys["fw"])
    http(url + "/v1/decisions", "wrong-key")
    res = CliRunner().invoke(ccscli, ["--state-dir", str(elsewhere), "metrics", "--url", url + "/metrics",
                                      "-o", "json"])
    assert res.exit_code == 0, res.output
    tables = json.loads(res.stdout)
    api_rows = {(r["route"], r["method"], r["code"]): r["requests"] for r in tables["api"]}
    assert api_rows[("/v1/decisions/stream", "GET", "200")] == 1 and api_rows[("/v1/decisions", "GET", "403")] == 1
    assert tables["api_bouncers"] == [{"bouncer": "fw", "route": "/v1/decisions/stream", "pulls": 1}]
    made = Counter((d["origin"], d["type"], d["scenario"]) for d in replayed["decisions"])
    assert {(r["origin"], r["type"], r["scenario"]): r["active"] for r in tables["decisions"]} == made
    assert {(r["origin"], r["type"], r["scenario"]): r["made"] for r in tables["decisions"]} == made
    stored = Counter(a["scenario"] for a in replayed["alerts"])
    assert {r["scenario"]: r["stored"] for r in tables["alerts"]} == stored


def test_metrics_default_url_raw_and_several_endpoints(api):
    """$SYNSEC_API_URL is the default endpoint; -o raw is the Prometheus text; two URLs are added up."""
    url, _keys, _state, replayed, elsewhere = api
    res = CliRunner().invoke(ccscli, ["--state-dir", str(elsewhere), "metrics", "-o", "raw"],
                             env={"SYNSEC_API_URL": url})
    assert res.exit_code == 0, res.output
    assert "# TYPE synsec_api_alerts gauge" in res.stdout
    assert 'synsec_api_alerts{scenario="synsec/ssh-bf"} 2' in res.stdout
    res = CliRunner().invoke(ccscli, ["--state-dir", str(elsewhere), "metrics", "-o", "json",
                                      "--url", url + "/metrics", "--url", url + "/metrics"])
    assert res.exit_code == 0, res.output
    stored = {r["scenario"]: r["stored"] for r in json.loads(res.stdout)["alerts"]}
    assert stored == {k: 2 * v for k, v in Counter(a["scenario"] for a in replayed["alerts"]).items()}
    res = CliRunner().invoke(ccscli, ["--state-dir", str(elsewhere), "metrics", "--url", url + "/health"])
    assert res.exit_code == 1 and "not Prometheus text" in res.output
