"""`synsec api`'s allowlist routes (CrowdSec 1.7's) on a real process: lists and items, checks of IPs and ranges
(GET, HEAD, bulk), auth, bad input; pushed alerts on an allowlisted source make no decision; `ccscli decisions
add` over the API is refused on an allowlisted value unless --bypass-allowlist."""

from __future__ import annotations

from click.testing import CliRunner
import pytest

from synsec.cli.ccscli import ccscli
from tests.integration.test_api_http import ccs, running_api
from tests.integration.test_lapi_machines import PASSWORD, alert, call, login

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    state = tmp_path_factory.mktemp("allow") / "state"
    ccs(state, "machines", "add", "agent1", "--password", PASSWORD)
    keys = {"fw": ccs(state, "bouncers", "add", "fw", "-o", "raw").strip(),
            "admin": ccs(state, "bouncers", "add", "admin", "--role", "machine", "-o", "raw").strip()}
    ccs(state, "allowlists", "create", "office", "-d", "office network")
    ccs(state, "allowlists", "add", "office", "192.0.2.0/24", "2001:db8::/32", "-d", "hq")
    ccs(state, "allowlists", "create", "empty")
    with running_api(state, args=("--refresh-interval", "0.05", "--auth-fail-limit", "1000")) as url:
        yield url, state, keys


def test_lists_and_items(api):
    """GET /v1/allowlists (with_content), GET /v1/allowlists/{name}; 404 for an unknown list; 403 without auth."""
    url, _state, keys = api
    status, body, _ = call(url + "/v1/allowlists", key=keys["fw"])
    assert status == 200 and [(b["name"], b["items"]) for b in body] == [("empty", []), ("office", [])]
    status, body, _ = call(url + "/v1/allowlists?with_content=true", token=login(url))
    assert status == 200 and [i["value"] for i in body[1]["items"]] == ["192.0.2.0/24", "2001:db8::/32"]
    assert body[1]["items"][0]["description"] == "hq" and body[1]["description"] == "office network"
    status, body, _ = call(url + "/v1/allowlists/office?with_content=true", key=keys["admin"])
    assert status == 200 and len(body["items"]) == 2 and body["name"] == "office"
    assert call(url + "/v1/allowlists/nope", key=keys["fw"])[0] == 404
    assert call(url + "/v1/allowlists?bogus=1", key=keys["fw"])[0] == 400
    assert call(url + "/v1/allowlists")[0] == 403
    assert call(url + "/v1/allowlists", key="wrong-key")[0] == 403


def test_checks(api):
    """Check an IP, an IPv4-mapped IPv6 address and ranges (slash or %2F); HEAD answers 200 or 204; bad values
    are a 400 JSON message; the bulk check lists only allowlisted targets and is bounded."""
    url, _state, keys = api
    fw = keys["fw"]
    status, body, _ = call(url + "/v1/allowlists/check/192.0.2.7", key=fw)
    assert status == 200 and body == {"allowlisted": True, "reason": "office: 192.0.2.0/24 (hq)"}
    assert call(url + "/v1/allowlists/check/::ffff:192.0.2.7", key=fw)[1]["allowlisted"] is True
    assert call(url + "/v1/allowlists/check/192.0.0.0/16", key=fw)[1]["allowlisted"] is True
    assert call(url + "/v1/allowlists/check/2001:db8::%2F48", key=fw)[1]["allowlisted"] is True
    assert call(url + "/v1/allowlists/check/198.51.100.1", key=fw)[1] == {"allowlisted": False, "reason": ""}
    assert call(url + "/v1/allowlists/check/192.0.2.7", "HEAD", key=fw)[0] == 200
    assert call(url + "/v1/allowlists/check/198.51.100.1", "HEAD", key=fw)[0] == 204
    for bad in ("192.0.2.300", "192.0.2.0%2F33", "x" * 300, "fe80::1%25eth0", "%00"):
        status, body, _ = call(url + f"/v1/allowlists/check/{bad}", key=fw)
        assert status == 400, (bad, status, body)
    status, body, _ = call(url + "/v1/allowlists/check", "POST", key=fw,
                           body={"targets": ["192.0.2.1", "198.51.100.1", "2001:db8::1", "junk"]})
    assert status == 200 and [r["target"] for r in body["results"]] == ["192.0.2.1", "2001:db8::1"]
    assert call(url + "/v1/allowlists/check", "POST", key=fw, body={"targets": []})[0] == 400
    assert call(url + "/v1/allowlists/check", "POST", key=fw, body={"targets": ["192.0.2.1"] * 1001})[0] == 400
    assert call(url + "/v1/allowlists/check", "POST", key=fw, raw=b"{not json")[0] == 400


def test_pushed_alerts_and_manual_decisions_respect_allowlists(api):
    """An agent's alert on an allowlisted IP is stored with no decision, another IP is banned; ccscli over the
    API refuses a decision on an allowlisted IP unless --bypass-allowlist."""
    url, _state, keys = api
    token = login(url)
    status, _body, _ = call(url + "/v1/alerts", "POST", token=token, body=[alert("192.0.2.50"),
                                                                          alert("45.13.227.7")])
    assert status == 201
    status, body, _ = call(url + "/v1/decisions", key=keys["fw"])
    assert status == 200 and {d["value"] for d in body or []} == {"45.13.227.7"}
    remote = ["--api-url", url, "--api-key", keys["admin"]]
    res = CliRunner().invoke(ccscli, ["decisions", *remote, "add", "-i", "192.0.2.60"])
    assert res.exit_code == 1 and "allowlisted by office" in res.output
    res = CliRunner().invoke(ccscli, ["decisions", *remote, "add", "-i", "192.0.2.60", "-B"])
    assert res.exit_code == 0, res.output
