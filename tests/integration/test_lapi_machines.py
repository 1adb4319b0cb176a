"""The machine side of `synsec api` (issue 14) against a real process on a free loopback port: login and tokens
(bad, forged, expired, of a deleted machine), registration, throttled wrong passwords, pushed alerts validated
strictly (oversize, non-JSON, invalid and private addresses), CrowdSec's alert filters, and in Kafka mode the
alerts topic."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from tests.integration.test_api_http import ccs, running_api
from tests.integration.test_api_topic import broker, codecs  # noqa: F401 — module fixtures (tansu)

pytestmark = pytest.mark.integration

PASSWORD = "agent-one-password-0123456789"
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(url: str, method: str = "GET", *, token: str | None = None, body=None, key: str | None = None,
         raw: bytes | None = None) -> tuple[int, object, dict]:
    """(status, decoded JSON body or None, headers) of one request."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if key is not None:
        headers["X-Api-Key"] = key
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with _DIRECT.open(req, timeout=30) as resp:
            status, payload, hdrs = resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        status, payload, hdrs = err.code, err.read(), dict(err.headers)
    if status >= 400:
        assert hdrs.get("Content-Type", "").startswith("application/json"), (status, payload[:200])
        assert "Traceback" not in payload.decode("utf-8", "replace")
    return status, json.loads(payload) if payload else None, hdrs


def login(url: str, machine_id: str = "agent1", password: str = PASSWORD, scenarios=()) -> str:
    status, body, _ = call(url + "/v1/watchers/login", "POST",
                           body={"machine_id": machine_id, "password": password, "scenarios": list(scenarios)})
    assert status == 200, body
    assert body["code"] == 200 and body["expire"].endswith("Z")
    return body["token"]


def alert(ip: str = "45.13.227.7", scenario: str = "crowdsecurity/http-probing", **extra) -> dict:
    """An alert as CrowdSec 1.4.6 agents push it."""
    return {"capacity": 10, "decisions": None, "events_count": 11, "labels": None, "leakspeed": "10s",
            "message": f"Ip {ip} performed '{scenario}' (11 events over 5s)", "remediation": True,
            "scenario": scenario, "scenario_hash": "a" * 64, "scenario_version": "0.4", "simulated": False,
            "source": {"as_name": "", "as_number": "", "cn": "", "ip": ip, "latitude": 0, "longitude": 0,
                       "range": "", "scope": "Ip", "value": ip},
            "events": [{"meta": [{"key": "source_ip", "value": ip}, {"key": "http_path", "value": "/x.php"}],
                        "timestamp": "2026-11-22T10:01:04Z"}],
            "start_at": "2026-11-22T10:01:00.123456789Z", "stop_at": "2026-11-22T10:01:05.5Z", **extra}


@pytest.fixture(scope="module")
def lapi(tmp_path_factory):
    """`synsec api` (embedded store, synsec's own profiles) with machine agent1, a bouncer key and a machine key.
    The view's periodic refresh is slowed to 60 s: what a request sees right after a push is read-your-writes."""
    state = tmp_path_factory.mktemp("lapi") / "state"
    ccs(state, "machines", "add", "agent1", "--password", PASSWORD)
    keys = {"fw": ccs(state, "bouncers", "add", "fw", "-o", "raw").strip(),
            "admin": ccs(state, "bouncers", "add", "admin", "--role", "machine", "-o", "raw").strip()}
    with running_api(state, args=("--refresh-interval", "60", "--auth-fail-limit", "1000")) as url:
        yield url, state, keys


def _bans(url: str, key: str) -> dict[str, dict]:
    status, body, _ = call(url + "/v1/decisions", key=key)
    assert status == 200
    return {d["value"]: d for d in body or []}


def test_pushed_alert_is_stored_and_banned_once(lapi):
    """An agent's alert gets 201 with its id, is stored with its machine, becomes one ban for bouncers; pushed
    again (an agent retrying) it adds nothing; the machine's push and heartbeat are recorded."""
    url, state, keys = lapi
    token = login(url, scenarios=["crowdsecurity/http-probing", "crowdsecurity/ssh-bf"])
    for _ in range(2):
        status, ids, _ = call(url + "/v1/alerts", "POST", token=token, body=[alert("45.13.227.7")])
        assert status == 201 and len(ids) == 1
    assert call(url + "/v1/heartbeat", token=token)[0] == 200
    ban = _bans(url, keys["fw"])["45.13.227.7"]
    assert (ban["type"], ban["scenario"]) == ("ban", "crowdsecurity/http-probing")
    rows = [r for r in json.loads(ccs(state, "alerts", "list", "-o", "json")) if r["id"] == ids[0]]
    assert len(rows) == 1 and rows[0]["machine_id"] == "agent1"
    assert rows[0]["events"][0]["meta"]["http_path"] == "/x.php"
    m = json.loads(ccs(state, "machines", "inspect", "agent1", "-o", "json"))
    assert m["last_push"] and m["last_heartbeat"]
    assert m["scenarios"] == "crowdsecurity/http-probing,crowdsecurity/ssh-bf"
    with _DIRECT.open(url + "/metrics", timeout=10) as resp:
        assert 'synsec_api_alerts_pushed_total{machine="agent1"}' in resp.read().decode()


def test_simulated_alert_is_stored_but_not_served(lapi):
    """An alert the agent pushes as simulated is stored; its decision is simulated, so no bouncer gets it."""
    url, state, keys = lapi
    token = login(url)
    assert call(url + "/v1/alerts", "POST", token=token, body=[alert("45.13.227.9", simulated=True)])[0] == 201
    assert "45.13.227.9" not in _bans(url, keys["fw"])
    status, rows, _ = call(url + "/v1/alerts?ip=45.13.227.9", token=token)
    assert status == 200 and [r["simulated"] for r in rows] == [True]
    assert call(url + "/v1/alerts?ip=45.13.227.9&simulated=false", token=token)[1] == []


def test_alert_with_decisions_keeps_them(lapi):
    """An alert carrying its decisions (as cscli sends them) gets those, not the profiles' ban."""
    url, _, keys = lapi
    token = login(url)
    given = [{"origin": "cscli", "type": "captcha", "scope": "Ip", "value": "45.13.227.10", "duration": "1h",
              "scenario": "manual captcha"}]
    assert call(url + "/v1/alerts", "POST", token=token, body=[alert("45.13.227.10", decisions=given)])[0] == 201
    d = _bans(url, keys["fw"])["45.13.227.10"]
    assert (d["type"], d["origin"], d["scenario"]) == ("captcha", "cscli", "manual captcha")


def test_private_and_mapped_addresses(lapi):
    """A private source is banned as CrowdSec's LAPI does (a LAN attacker is still one); an IPv4-mapped IPv6
    source is stored and banned as the IPv4 address; a zone id is refused."""
    url, _, keys = lapi
    token = login(url)
    assert call(url + "/v1/alerts", "POST", token=token, body=[alert("10.1.2.3")])[0] == 201
    mapped = alert("::ffff:192.0.2.77")
    assert call(url + "/v1/alerts", "POST", token=token, body=[mapped])[0] == 201
    bans = _bans(url, keys["fw"])
    assert "10.1.2.3" in bans and "192.0.2.77" in bans and "::ffff:192.0.2.77" not in bans
    status, body, _ = call(url + "/v1/alerts", "POST", token=token, body=[alert("fe80::1%eth0")])
    assert status == 400 and "zone" in body["message"]


@pytest.mark.parametrize("body, status, words", [
    (b"not json", 400, "invalid JSON"),
    (b"\xff\xfe", 400, "UTF-8"),
    (b"{}", 400, "non-empty JSON list"),
    (b"[]", 400, "non-empty JSON list"),
    (b"[1]", 400, "alert 1 must be an object"),
    (json.dumps([alert(), alert("1.2.3")]).encode(), 400, "alert 2: source"),
    (json.dumps([alert(ip="203.0.113.5", extra_field=1)]).encode(), 400, "unknown field(s) extra_field"),
    (json.dumps([{k: v for k, v in alert().items() if k != "scenario"}]).encode(), 400, "missing scenario"),
    (json.dumps([alert(start_at="yesterday")]).encode(), 400, "start_at"),
    (json.dumps([alert(stop_at="2026-11-22T09:00:00Z")]).encode(), 400, "stop_at is before start_at"),
    (json.dumps([alert(events_count=-1)]).encode(), 400, "events_count"),
    (json.dumps([alert(events_count=True)]).encode(), 400, "events_count"),
    (json.dumps([alert(scenario="a\nb")]).encode(), 400, "control character"),
    (json.dumps([alert(scenario="x" * 300)]).encode(), 400, "longer than 256"),
    (json.dumps([alert(events=[{"timestamp": "2026-11-22T10:01:04Z", "meta": []}] * 1001)]).encode(), 400,
     "more than 1000"),
    (json.dumps([alert(source={"scope": "Ip", "value": "0.0.0.x"})]).encode(), 400, "source"),
    (json.dumps([alert(source={"scope": "Ip"})]).encode(), 400, "missing value"),
    (json.dumps([alert(decisions=[{"type": "ban", "scope": "Ip", "value": "1.2.3.4",
                                   "duration": "99999999h"}])]).encode(), 400, "decision 1"),
    (json.dumps([alert("192.0.2.1")] * 5001).encode(), 413, "more than 5000 alerts"),
    (b"[" + b" " * (16 * 1024 * 1024) + b"]", 413, "Too Large"),
])
def test_bad_alert_batches_are_4xx_and_store_nothing(lapi, body, status, words):
    """Each malformed or oversized batch gets the status and a message naming the problem; nothing of a
    rejected batch is stored (the valid alert before the bad one included)."""
    url, _, _ = lapi
    token = login(url)
    def stored() -> list[str]:
        return sorted(a["uuid"] for a in call(url + "/v1/alerts?limit=0", token=token)[1])
    before = stored()
    got, reply, _ = call(url + "/v1/alerts", "POST", token=token, raw=body)
    assert (got, words in reply["message"]) == (status, True), reply
    assert stored() == before


def test_bad_and_expired_tokens_are_401(lapi):
    """No token, garbage, a forged signature, `alg: none`, an expired token and the token of a deleted machine
    are each 401 (JSON); a refreshed token works."""
    from connectors.api.tokens import issue_token

    url, state, _ = lapi
    token = login(url)
    head, body, _sig = token.split(".")
    secret = (state / "api.secret").read_bytes()
    expired, _ = issue_token(secret, "agent1", time.time() - 7200, 3600)
    for bad in ("", "garbage", f"{head}.{body}.AAAA", f"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{body}.", expired,
                issue_token(b"x" * 32, "agent1", time.time(), 3600)[0]):
        status, reply, _ = call(url + "/v1/alerts", "POST", token=bad, body=[alert()])
        assert status == 401, (bad, reply)
    assert call(url + "/v1/alerts", "POST", token=expired, body=[alert()])[1]["message"] == "token expired"
    status, fresh, _ = call(url + "/v1/refresh_token", token=token)
    assert status == 200 and call(url + "/v1/heartbeat", token=fresh["token"])[0] == 200

    ccs(state, "machines", "add", "agent2", "--password", PASSWORD)
    other = login(url, "agent2")
    ccs(state, "machines", "delete", "agent2")
    assert call(url + "/v1/heartbeat", token=other)[0] == 401


def test_alert_filters_and_delete(lapi):
    """GET /v1/alerts with CrowdSec's filters (scenario, ip, range, scope+value, has_active_decision, limit,
    since) and DELETE /v1/alerts?ip= (decisions stay); a machine key (ccscli) reads them too."""
    url, _, keys = lapi
    token = login(url)
    batch = [alert("198.51.100.1", "crowdsecurity/ssh-bf"), alert("198.51.100.2", "crowdsecurity/ssh-bf"),
             alert("203.0.113.99", "crowdsecurity/http-bad-user-agent")]
    assert call(url + "/v1/alerts", "POST", token=token, body=batch)[0] == 201

    def values(query: str, **auth) -> list[str]:
        status, rows, _ = call(url + "/v1/alerts?" + query, **(auth or {"token": token}))
        assert status == 200, rows
        return sorted(r["source"]["value"] for r in rows)
    assert values("scenario=crowdsecurity/ssh-bf") == ["198.51.100.1", "198.51.100.2"]
    assert values("range=198.51.100.0/24") == ["198.51.100.1", "198.51.100.2"]
    assert values("ip=203.0.113.99", key=keys["admin"]) == ["203.0.113.99"]
    assert values("scope=ip&value=198.51.100.2") == ["198.51.100.2"]
    assert "198.51.100.1" in values("has_active_decision=true&limit=1000")
    assert len(values("scenario=crowdsecurity/ssh-bf&limit=1")) == 1
    assert values("scenario=crowdsecurity/ssh-bf&since=1h") == []          # they started in 2026-11-22
    for bad in ("ip=1.2.3", "range=10.0.0.0/99", "since=forever", "limit=-1", "simulated=maybe", "nope=1"):
        assert call(url + "/v1/alerts?" + bad, token=token)[0] == 400, bad
    assert call(url + "/v1/alerts?ip=198.51.100.1", key=keys["fw"])[0] == 403    # a bouncer key: no alerts
    status, reply, _ = call(url + "/v1/alerts?range=198.51.100.0/24", "DELETE", token=token)
    assert (status, reply) == (200, {"nbDeleted": "2"})
    assert values("scenario=crowdsecurity/ssh-bf") == []
    assert "198.51.100.1" in _bans(url, keys["fw"])
    assert call(url + "/v1/alerts", "DELETE", token=token)[0] == 400               # no filter: refused


def test_usage_metrics_accepted(lapi):
    """POST /v1/usage-metrics: 201 for a machine or a bouncer, 401/403 without credentials, 400 for a non-object."""
    url, _, keys = lapi
    token = login(url)
    assert call(url + "/v1/usage-metrics", "POST", token=token, body={"log_processors": []})[0] == 201
    assert call(url + "/v1/usage-metrics", "POST", key=keys["fw"], body={"remediation_components": []})[0] == 201
    assert call(url + "/v1/usage-metrics", "POST", body={})[0] in (401, 403)
    assert call(url + "/v1/usage-metrics", "POST", token=token, body=[1])[0] == 400


def test_wrong_passwords_are_throttled_and_registration(tmp_path):
    """Wrong passwords count as failed authentications of the address (429 with Retry-After after the limit,
    even with the right password); registration is off by default (403)."""
    state = tmp_path / "state"
    ccs(state, "machines", "add", "agent1", "--password", PASSWORD)
    with running_api(state, args=("--auth-fail-limit", "5", "--auth-fail-window", "60")) as url:
        creds = {"machine_id": "agent1", "password": "wrong"}
        got = [call(url + "/v1/watchers/login", "POST", body=creds)[0] for _ in range(8)]
        assert got == [403] * 5 + [429] * 3
        status, _, headers = call(url + "/v1/watchers/login", "POST",
                                  body={"machine_id": "agent1", "password": PASSWORD})
        assert status == 429 and 0 < int(headers["Retry-After"]) <= 60
        status, reply, _ = call(url + "/v1/watchers", "POST", body={"machine_id": "new1", "password": PASSWORD})
        assert status == 403 and "disabled" in reply["message"]
    assert json.loads(ccs(state, "machines", "list", "-o", "json"))[0]["machine_id"] == "agent1"


def test_registration_waits_for_validation(tmp_path):
    """With --allow-registration a machine registers (201), cannot log in until `ccscli machines validate`,
    then can; registering an existing id is refused; prune --not-validated-only spares validated machines."""
    state = tmp_path / "state"
    with running_api(state, args=("--allow-registration",)) as url:
        creds = {"machine_id": "new1", "password": PASSWORD}
        assert call(url + "/v1/watchers", "POST", body=creds)[0] == 201
        assert call(url + "/v1/watchers", "POST", body=creds)[0] == 403
        status, reply, _ = call(url + "/v1/watchers/login", "POST", body=creds)
        assert status == 403 and "not validated" in reply["message"]
        assert call(url + "/v1/watchers", "POST", body={"machine_id": "bad id!", "password": "x"})[0] == 400
        call(url + "/v1/watchers", "POST", body={"machine_id": "new2", "password": PASSWORD})
        ccs(state, "machines", "validate", "new1")
        login(url, "new1")
    out = ccs(state, "machines", "prune", "--duration", "0s", "--not-validated-only")
    assert "removed machine 'new2'" in out and "new1" not in out
    assert [m["machine_id"] for m in json.loads(ccs(state, "machines", "list", "-o", "json"))] == ["new1"]


def test_kafka_mode_publishes_pushed_alerts(broker, codecs, tmp_path):  # noqa: F811
    """With --broker a pushed alert goes to the alerts topic (key scope:value, the alert as the buckets agent
    writes it) for the profiles agent; an alert carrying decisions has them on the decisions topic (served at
    once) and stays off the alerts topic; both are in GET /v1/alerts."""
    from kafka import KafkaConsumer, TopicPartition

    from synsec.wire.records import record_to_alert

    state = tmp_path / "state"
    ccs(state, "machines", "add", "agent1", "--password", PASSWORD)
    fw = ccs(state, "bouncers", "add", "fw", "-o", "raw").strip()
    with running_api(state, args=("--broker", broker.url), start_timeout=60) as url:
        token = login(url)
        given = [{"origin": "cscli", "type": "ban", "scope": "Ip", "value": "45.13.227.20", "duration": "1h"}]
        status, ids, _ = call(url + "/v1/alerts", "POST", token=token,
                              body=[alert("45.13.227.21"), alert("45.13.227.20", decisions=given)])
        assert status == 201 and len(ids) == 2
        assert "45.13.227.20" in _bans(url, fw)
        assert sorted(r["source"]["value"] for r in call(url + "/v1/alerts", token=token)[1]) == [
            "45.13.227.20", "45.13.227.21"]

    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None, auto_offset_reset="earliest")
    try:
        tps = [TopicPartition("synsec.alerts", p) for p in consumer.partitions_for_topic("synsec.alerts")]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        got = [m for batch in consumer.poll(timeout_ms=3000).values() for m in batch]
    finally:
        consumer.close()
    assert [m.key for m in got] == [b"Ip:45.13.227.21"]
    pushed = record_to_alert(codecs.decode("alert", got[0].value))
    assert (pushed.Scenario, pushed.Source.Value, pushed.EventsCount, pushed.UUID) == (
        "crowdsecurity/http-probing", "45.13.227.21", 11, ids[0])
    assert pushed.Events[0]["meta"]["http_path"] == "/x.php"
