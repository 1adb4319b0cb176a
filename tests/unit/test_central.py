"""synsec central (issue 12): login tokens, strict signal validation and the Central API routes (with the
curation deciding what is listed, and the explain/status endpoints) over a real aiohttp server on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time

import pytest
from aiohttp.test_utils import TestClient, TestServer

from connectors.api.inputs import InputError
from connectors.api.throttle import AuthThrottle
from connectors.central.curation import Curator
from connectors.central.rules import load_rules, parse_rules
from connectors.central.server import Central, create_app
from connectors.central.signals import MAX_SIGNALS, parse_signals
from connectors.central.store import CentralStore
from connectors.api.tokens import TokenError, issue_token, load_secret, verify_token

SECRET = b"s" * 32
NOW = 1_800_000_000.0


def sig(ip: str = "45.13.227.7", **kw) -> dict:
    item = {"machine_id": "m1", "scenario": "crowdsecurity/http-probing", "scenario_hash": "c8bb45", "scenario_version":
            "0.2", "source": {"scope": "Ip", "value": ip, "ip": ip}, "start_at": "2026-11-22T10:01:00Z",
            "stop_at": "2026-11-22T10:01:05Z", "message": "", "scenario_trust": "certified"}
    item.update(kw)
    return item


# ------------------------------------------------------------------ tokens
def test_token_round_trip_names_the_machine():
    """A token issued to a machine verifies to that machine until it expires."""
    token, exp = issue_token(SECRET, "w1", NOW, 3600)
    assert exp == NOW + 3600
    assert verify_token(SECRET, token, NOW + 3599) == "w1"


@pytest.mark.parametrize("case", ["expired", "other secret", "tampered claims", "garbage", "alg none"])
def test_bad_tokens_are_refused(case):
    """An expired token, one signed with another secret, edited claims, garbage or alg=none are TokenErrors."""
    token, _ = issue_token(SECRET, "w1", NOW, 3600)
    head, body, sig_ = token.split(".")
    secret, now = SECRET, NOW
    if case == "expired":
        now = NOW + 3600
    elif case == "other secret":
        secret = b"t" * 32
    elif case == "tampered claims":
        forged, _ = issue_token(SECRET, "w2", NOW, 3600)
        token = f"{head}.{forged.split('.')[1]}.{sig_}"
    elif case == "garbage":
        token = "a.b"
    else:
        token = "eyJhbGciOiJub25lIn0.e30."
    with pytest.raises(TokenError):
        verify_token(secret, token, now)


def test_server_secret_is_created_once_with_mode_0600(tmp_path):
    """The HMAC secret is 32 random bytes in central.secret, mode 0600, and the same on the next start."""
    first = load_secret(tmp_path)
    assert len(first) == 32 and load_secret(tmp_path) == first
    assert stat.S_IMODE(os.stat(tmp_path / "central.secret").st_mode) == 0o600


# ------------------------------------------------------------------ signals
def test_signal_from_crowdsec_146_keeps_only_signal_fields():
    """A 1.4.6-shaped signal is accepted; the address is canonical and message/trust/geo are dropped."""
    (s,) = parse_signals([sig("::ffff:45.13.227.7", source={"scope": "Ip", "value": "::ffff:45.13.227.7",
                                                             "cn": "FR", "latitude": 1.5})])
    assert (s.scope, s.value, s.scenario, s.scenario_version) == ("Ip", "45.13.227.7", "crowdsecurity/http-probing",
                                                                    "0.2")
    assert not hasattr(s, "message")


@pytest.mark.parametrize("body, message", [
    ({}, "non-empty JSON list"),
    ([], "non-empty JSON list"),
    ([sig()] * (MAX_SIGNALS + 1), "at most"),
    (["x"], "must be an object"),
    ([sig(decisions=[])], "unknown key"),
    ([sig(source={"scope": "Ip", "value": "45.13.227.7", "evil": 1})], "unknown key"),
    ([sig(source={"scope": "Ip", "value": "1.2.3"})], "not a valid Ip"),
    ([sig(source={"scope": "Ip", "value": "fe80::1%eth0"})], "not a valid Ip"),
    ([sig(source={"scope": "Country", "value": "FR"})], "must be Ip or Range"),
    ([sig(source="45.13.227.7")], "source must be an object"),
    ([sig(scenario=None)], "scenario is required"),
    ([sig(scenario="a b")], "not a scenario name"),
    ([sig(scenario="x" * 300)], "longer than"),
    ([sig(scenario_hash="zz")], "hexadecimal"),
    ([sig(start_at="yesterday")], "RFC 3339"),
    ([sig(stop_at=12)], "must be a string"),
    ([sig(events_count=-1)], "events_count"),
    ([sig(events_count=True)], "events_count"),
    ([sig(machine_id="a\nb")], "control characters"),
])
def test_malformed_signals_are_input_errors(body, message):
    """Anything a signal may not carry, or carries badly, is an InputError naming it (a 400 over HTTP)."""
    with pytest.raises(InputError, match=message):
        parse_signals(body)


# two independent reporters suffice here; every watcher of these tests registers from 127.0.0.1
RULES = parse_rules("consensus: {min_reporters: 2, min_score: 0.9}\ncohorts: {same_block: false}\n")
HUB = {"crowdsecurity/http-probing": (frozenset({"c8bb45"}), "http")}


# ------------------------------------------------------------------ HTTP
def _run(tmp_path, scenario, **kw):
    store = CentralStore(tmp_path)
    central = Central(store=store, secret=SECRET, curator=Curator(RULES, HUB), **kw)

    async def main():
        async with TestClient(TestServer(create_app(central))) as client:
            return await scenario(client, store)
    try:
        return asyncio.run(main())
    finally:
        store.close()


async def _login(client, machine_id: str) -> dict:
    cred = {"machine_id": machine_id, "password": f"pw-{machine_id}"}
    assert (await client.post("/v2/watchers", json=cred)).status == 201
    resp = await client.post("/v2/watchers/login", json={**cred, "scenarios": ["crowdsecurity/http-probing"]})
    assert resp.status == 200
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


def test_two_watchers_list_an_address_and_deltas_follow(tmp_path):
    """Register, login, signals from two watchers: the address is served at startup; the next pull is empty."""
    async def scenario(client, store):
        h1, h2 = await _login(client, "w1"), await _login(client, "w2")
        assert (await client.post("/v2/signals", json=[sig(), sig("203.0.113.40")], headers=h1)).status == 200
        first = await (await client.get("/v2/decisions/stream?startup=true", headers=h1)).json()
        assert first == {"new": [], "deleted": []}
        assert (await client.post("/v2/signals", json=[sig(), sig("203.0.113.40")], headers=h2)).status == 200
        delta = await (await client.get("/v2/decisions/stream?startup=false", headers=h1)).json()
        again = await (await client.get("/v2/decisions/stream?startup=false", headers=h1)).json()
        metrics = await client.post("/v2/metrics/", json={"machines": []}, headers=h2)
        return delta, again, metrics.status, len(store.signals())
    delta, again, metrics, stored = _run(tmp_path, scenario)
    assert [(d["value"], d["origin"], d["scope"], d["type"]) for d in delta["new"]] == [
        ("45.13.227.7", "CAPI", "Ip", "ban")]
    assert again == {"new": [], "deleted": []}
    assert metrics == 201 and stored == 4


def test_protocol_errors_are_json_4xx(tmp_path):
    """No token, a forged token, a wrong password, a taken id, bad JSON, bad signals, unknown routes: 4xx JSON."""
    async def scenario(client, store):
        h = await _login(client, "w1")
        forged = {"Authorization": "Bearer " + issue_token(b"x" * 32, "w1", NOW, 3600)[0]}
        calls = [client.post("/v2/signals", json=[sig()]),
                 client.post("/v2/signals", json=[sig()], headers=forged),
                 client.post("/v2/watchers/login", json={"machine_id": "w1", "password": "nope"}),
                 client.post("/v2/watchers", json={"machine_id": "w1", "password": "other"}),
                 client.post("/v2/watchers", json={"machine_id": "../x", "password": "p"}),
                 client.post("/v2/watchers", data=b"\xff{"),
                 client.post("/v2/signals", data=b"[{]", headers=h),
                 client.post("/v2/signals", json=[sig(source={"scope": "Ip", "value": "1.2.3"})], headers=h),
                 client.post("/v2/signals", data=b"[" + b"[" * 100000, headers=h),
                 client.get("/v2/decisions/stream?startup=maybe", headers=h),
                 client.get("/v2/nope")]
        out = []
        for call in calls:
            resp = await call
            out.append((resp.status, "message" in await resp.json(content_type=None)))
        return out, len(store.signals())
    out, stored = _run(tmp_path, scenario)
    assert [s for s, _ in out] == [401, 401, 403, 409, 400, 400, 400, 400, 400, 400, 404]
    assert all(has for _, has in out) and stored == 0


def test_failed_logins_are_throttled_per_address(tmp_path):
    """After the limit of wrong passwords from one address, even the right password gets 429 for a while."""
    async def scenario(client, store):
        await _login(client, "w1")
        wrong = [(await client.post("/v2/watchers/login", json={"machine_id": "w1", "password": "no"})).status
                 for _ in range(3)]
        right = await client.post("/v2/watchers/login", json={"machine_id": "w1", "password": "pw-w1"})
        return wrong, right.status, right.headers.get("Retry-After")
    wrong, right, retry = _run(tmp_path, scenario, throttle=AuthThrottle(limit=3, window=60))
    assert wrong == [403, 403, 403] and right == 429 and int(retry) > 0


async def _report(client, who: str, ips: list[str]) -> None:
    h = await _login(client, who)
    assert (await client.post("/v2/signals", json=[sig(ip) for ip in ips], headers=h)).status == 200


def test_explain_and_status_show_the_curation_with_pseudonymous_reporters(tmp_path):
    """explain names the deciding rule, each reporter by a pseudonym with its trust, and the timeline; status
    counts reporters, signals and the list; both need a watcher's token and refuse bad parameters."""
    async def scenario(client, store):
        await _report(client, "w1", ["45.13.227.7", "8.8.8.8"])
        await _report(client, "w2", ["45.13.227.7"])
        h = await _login(client, "w3")
        explain = await (await client.get("/v2/crowd/explain?ip=::ffff:45.13.227.7", headers=h)).json()
        good = await (await client.get("/v2/crowd/explain?ip=8.8.8.8", headers=h)).json()
        status = await (await client.get("/v2/crowd/status", headers=h)).json()
        bad = [(await client.get(u, headers=hd)).status for u, hd in (
            ("/v2/crowd/explain?ip=nope", h), ("/v2/crowd/explain?ip=1.2.3.4&x=1", h),
            ("/v2/crowd/explain?ip=fe80::1%25eth0", h),
            ("/v2/crowd/explain?ip=1.2.3.4", {}), ("/v2/crowd/status", {}))]
        return explain, good, status, bad
    explain, good, status, bad = _run(tmp_path, scenario)
    assert explain["value"] == "45.13.227.7" and explain["listed"] and explain["rule"].startswith("consensus: http: 2 cohort(s)")
    ids = {r["reporter"] for r in explain["reporters"]}
    assert len(ids) == 2 and not ids & {"w1", "w2"} and all(len(i) == 12 for i in ids)
    assert [t["reporter"] in ids and t["hub_scenario"] for t in explain["timeline"]] == [True, True]
    assert good["rule"].startswith("known-good") and not good["listed"]
    assert (status["reporters"], status["listed"], status["signals_received"]) == (3, 1, 3)
    assert status["signals_not_counted"] == {"known-good": 1} and status["signals_per_second"] > 0
    assert bad == [400, 400, 400, 401, 401]


def test_a_restart_rebuilds_the_curation_from_the_store(tmp_path):
    """After a restart, central's curation is rebuilt from stored registrations and signals: the same address
    stays listed and one more report does not list it again."""
    async def first(client, store):
        await _report(client, "w1", ["45.13.227.7"])
        await _report(client, "w2", ["45.13.227.7"])
    _run(tmp_path, first)
    store = CentralStore(tmp_path)
    central = Central(store=store, secret=SECRET, curator=Curator(RULES, HUB))
    try:
        central.restore()
        assert set(central.curator.listed()) == {"45.13.227.7"}
        assert [e[2] for e in store.blocklist()] == ["45.13.227.7"]
        assert central.curator.status()["reporters"] == 2
    finally:
        store.close()


def test_a_restart_takes_the_snapshot_and_replays_only_the_signals_after_it(tmp_path):
    """A clean stop leaves a snapshot; signals stored after it (as by a central killed before its next one)
    are replayed on top, and the state is the one a replay of the whole store gives."""
    async def first(client, store):
        await _report(client, "w1", ["45.13.227.7", "45.13.227.8"])
        await _report(client, "w2", ["45.13.227.7", "8.8.8.8"])
    _run(tmp_path, first)
    store = CentralStore(tmp_path)
    try:
        last, _ = store.snapshot()
        assert last == 4
        now = time.time()
        store.add_watcher("w3", "x", now - 1, "127.0.0.1")
        store.add_signals("w3", parse_signals([sig("45.13.227.8")]), now)
        assert [k for k, *_ in store.history(last)] == ["register", "register", "register", "signals"]
        rebuilt = [Central(store=store, secret=SECRET, curator=Curator(RULES, HUB), clock=lambda: now + 60,
                           snapshots=snapshots) for snapshots in (True, False)]
        for central in rebuilt:
            central.restore()
        assert set(rebuilt[0].curator.listed()) == {"45.13.227.7", "45.13.227.8"}
        assert rebuilt[0].curator.listed() == rebuilt[1].curator.listed()
        assert {w: rebuilt[0].curator.trust(w) for w in ("w1", "w2", "w3")} == \
            {w: rebuilt[1].curator.trust(w) for w in ("w1", "w2", "w3")}
        assert rebuilt[0].curator.status() == rebuilt[1].curator.status()
    finally:
        store.close()


def test_a_refreshed_known_good_file_delists_and_charges_past_reporters_at_restart(tmp_path):
    """Retroactive: after a known-good file gains a listed address's range (a refresh), the restart's replay
    removes the listing (a tombstone a delta pull gets) and charges its past reporters as contradicted."""
    async def first(client, store):
        await _report(client, "w1", ["45.13.227.7"])
        await _report(client, "w2", ["45.13.227.7"])
    _run(tmp_path, first)
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "new-crawler.txt").write_text("# source: test\n# updated: 2026-12-02\n45.13.227.0/24 NewBot\n")
    (rules_dir / "curation.yaml").write_text("consensus: {min_reporters: 2, min_score: 0.9}\n"
                                             "cohorts: {same_block: false}\nknown_good: [reserved.txt, new-crawler.txt]\n")
    store = CentralStore(tmp_path)
    central = Central(store=store, secret=SECRET, curator=Curator(load_rules(rules_dir / "curation.yaml"), HUB),
                      clock=lambda: NOW + 3600)
    try:
        central.restore()
        assert central.curator.listed() == {} and store.blocklist() == []
        assert [x["removed_at"] is not None for x in store.listings_of("45.13.227.7")] == [True]
        assert all(central.curator.trust(w) < RULES.baseline for w in ("w1", "w2"))
    finally:
        store.close()


def test_ccscli_crowd_needs_credentials(tmp_path):
    """`ccscli crowd` without credentials in the state dir, or --url without a watcher, is a usage error."""
    from click.testing import CliRunner

    from synsec.cli.ccscli import ccscli

    res = CliRunner().invoke(ccscli, ["--state-dir", str(tmp_path), "crowd", "status"])
    assert res.exit_code == 2 and "no credentials at" in res.output
    res = CliRunner().invoke(ccscli, ["--state-dir", str(tmp_path), "crowd", "--url", "http://127.0.0.1:1/",
                                      "explain", "45.13.227.7"], env={"SYNSEC_CENTRAL_PASSWORD": ""})
    assert res.exit_code == 2 and "--url needs --machine-id and --password" in res.output
    (tmp_path / "c.yaml").write_text("url: http://127.0.0.1:1/\nlogin: w\npassword: p\nextra: 1\n")
    res = CliRunner().invoke(ccscli, ["crowd", "--credentials", str(tmp_path / "c.yaml"), "status"])
    assert res.exit_code == 2 and "c.yaml:4: extra" in res.output


# ------------------------------------------------------------------ v3 (current CrowdSec) and resend dedupe
async def _login_v3(client, machine_id: str) -> dict:
    cred = {"machine_id": machine_id, "password": f"pw-{machine_id}"}
    assert (await client.post("/v3/watchers", json=cred)).status == 201
    resp = await client.post("/v3/watchers/login", json={**cred, "scenarios": ["crowdsecurity/http-probing"]})
    assert resp.status == 200 and set(await resp.json()) == {"code", "expire", "token"}
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


def sig3(ip: str = "45.13.227.7", uuid: str = "", **kw) -> dict:
    """A signal as current CrowdSec's apic.go sends it (alertToSignal), with context and decisions."""
    item = sig(ip, uuid=uuid or "u-" + ip.replace(".", "-"), alert_id=7, kind="crowdsec",
               context=[{"key": "target_uri", "value": "/.env"}],
               decisions=[{"duration": "4h", "id": 3, "origin": "crowdsec", "scenario": "crowdsecurity/http-probing",
                           "scope": "Ip", "type": "ban", "value": ip, "until": "2026-11-22T14:01:05Z",
                           "uuid": "d-1", "simulated": False}])
    item.update(kw)
    return item


def test_v3_round_trip_groups_the_stream_by_scenario_and_scope(tmp_path):
    """v3: register, login, signals with CrowdSec's v3 keys, a grouped decisions/stream with links, metrics 200,
    usage-metrics 201; community_pull=false sends nothing and keeps the watcher's position; filters apply."""
    async def scenario(client, store):
        h1, h2 = await _login_v3(client, "w1"), await _login_v3(client, "w2")
        for h in (h1, h2):
            assert (await client.post("/v3/signals", json=[sig3(), sig3("203.0.113.40")], headers=h)).status == 200
        skipped = await (await client.get("/v3/decisions/stream?community_pull=false", headers=h1)).json()
        delta = await (await client.get("/v3/decisions/stream", headers=h1)).json()
        startup = await (await client.get("/v3/decisions/stream?startup=true&additional_pull=false", headers=h1)).json()
        other = await (await client.get("/v3/decisions/stream?startup=true&scopes=range", headers=h1)).json()
        notcontaining = await (await client.get("/v3/decisions/stream?startup=true&scenarios_not_containing=probing",
                                                headers=h1)).json()
        metrics = await client.post("/v3/metrics/", json={"apil_version": "v1.6.0", "bouncers": [], "machines": [
            {"name": "m", "version": "v1.6.0", "last_push": "2026-11-22T10:00:00Z"}]}, headers=h1)
        usage = await client.post("/v3/usage-metrics", json={"log_processors": [{}], "remediation_components": []},
                                  headers=h1)
        return skipped, delta, startup, other, notcontaining, metrics.status, usage.status
    skipped, delta, startup, other, notcontaining, metrics, usage = _run(tmp_path, scenario)
    assert skipped == {"new": [], "deleted": [], "links": {"blocklists": [], "allowlists": []}}
    assert [(g["scenario"], g["scope"], [d["value"] for d in g["decisions"]]) for g in delta["new"]] == [
        ("crowdsecurity/http-probing", "Ip", ["45.13.227.7"])]
    assert delta["new"][0]["decisions"][0]["duration"].endswith("s") and delta["deleted"] == []
    assert startup == {"new": delta["new"], "deleted": []}                  # additional_pull=false: no links
    assert other["new"] == [] and notcontaining["new"] == []
    assert (metrics, usage) == (200, 201)


def test_v3_stream_deleted_entries_are_grouped_by_scope():
    """v3's deleted part: one group per scope with the values; v2 keeps flat decisions."""
    from connectors.central.versions import VERSIONS

    v2, v3 = VERSIONS
    gone = [{"id": 1, "origin": "CAPI", "type": "ban", "scope": "Ip", "value": v, "scenario": "s", "duration": "1s"}
            for v in ("45.13.227.7", "45.13.227.8")]
    assert v3.stream_body([], gone, False) == {"new": [], "deleted": [{"scope": "Ip", "decisions": [
        "45.13.227.7", "45.13.227.8"]}]}
    assert v2.stream_body([], gone, True) == {"new": [], "deleted": gone}


MALFORMED_V3 = [
    ("/v3/signals", [sig3(uuid="not a uuid")], "signal 1: uuid"),
    ("/v3/signals", [sig3(alert_id=-1)], "signal 1: alert_id"),
    ("/v3/signals", [sig3(alert_id="7")], "signal 1: alert_id"),
    ("/v3/signals", [sig3(kind=["waf"])], "signal 1: kind"),
    ("/v3/signals", [sig3(context={"k": "v"})], "signal 1: context"),
    ("/v3/signals", [sig3(context=[{"key": "k", "value": "v", "x": 1}])], "signal 1: context[0]"),
    ("/v3/signals", [sig3(context=[{"key": "k", "value": "v" * 5000}])], "signal 1: context[0].value"),
    ("/v3/signals", [sig3(decisions=[{"id": "x"}])], "signal 1: decisions[0].id"),
    ("/v3/signals", [sig3(decisions=[{"simulated": "no"}])], "signal 1: decisions[0].simulated"),
    ("/v3/signals", [sig3(decisions=[{"value": 1}])], "signal 1: decisions[0].value"),
    ("/v3/signals", [sig3(), sig3(source={"scope": "Ip"})], "signal 2: source"),
    ("/v2/signals", [sig3()], "signal 1: unknown key(s) ['alert_id', 'context', 'decisions', 'kind']"),
    ("/v3/metrics/", {"machines": [{"name": 1}]}, "machines[0].name"),
    ("/v3/metrics/", {"bouncers": {}}, "bouncers must be a list"),
    ("/v3/metrics/", {"apil_version": "x", "extra": 1}, "unknown key"),
    ("/v3/metrics/", [], "must be a JSON object"),
    ("/v2/metrics/", {"machines": "m"}, "machines must be a list"),
    ("/v3/usage-metrics", {"lapi": []}, "lapi must be an object"),
    ("/v3/usage-metrics", {"log_processors": [1]}, "log_processors"),
    ("/v3/usage-metrics", {"other": 1}, "unknown key"),
    ("/v3/watchers/reset", {"machine_id": "w1"}, "password"),
    ("/v3/decisions/stream?community_pull=maybe", None, "community_pull must be true or false"),
    ("/v3/decisions/stream?startup=1", None, "startup must be true or false"),
    ("/v2/decisions/stream?community_pull=false", None, "unknown parameter(s): community_pull"),
    ("/v3/decisions/stream?foo=1", None, "unknown parameter(s): foo"),
]


def test_malformed_v3_requests_are_400s_naming_the_field(tmp_path):
    """A bad v3 body or query (and a v3-only key sent to v2) is a 400 whose message names the field."""
    async def scenario(client, store):
        h = await _login_v3(client, "w1")
        out = []
        for path, body, _ in MALFORMED_V3:
            resp = await (client.get(path, headers=h) if body is None else client.post(path, json=body, headers=h))
            out.append((resp.status, (await resp.json())["message"]))
        return out, len(store.signals())
    out, stored = _run(tmp_path, scenario)
    for (status, text), (path, _, field) in zip(out, MALFORMED_V3):
        assert status == 400 and field in text, (path, text)
    assert stored == 0


def test_v3_reset_and_enroll_are_refused(tmp_path):
    """watchers/reset carries no proof of ownership and there is no console: both are 403 JSON messages."""
    async def scenario(client, store):
        h = await _login_v3(client, "w1")
        reset = await client.post("/v3/watchers/reset", json={"machine_id": "w1", "password": "new"})
        enroll = await client.post("/v3/watchers/enroll", json={"attachment_key": "abc"}, headers=h)
        login = await client.post("/v3/watchers/login", json={"machine_id": "w1", "password": "pw-w1"})
        return reset.status, enroll.status, login.status
    assert _run(tmp_path, scenario) == (403, 403, 200)


def test_a_resent_batch_is_counted_once_and_ids_are_per_watcher(tmp_path):
    """The same batch sent twice (v3 ids) is stored and curated once; another watcher's equal ids count;
    a signal without an id (v2, 1.4.6) sent twice is stored once (its content is its id); the window, both
    kinds of ids, survives a restart of central."""
    async def scenario(client, store):
        h1, h2 = await _login_v3(client, "w1"), await _login_v3(client, "w2")
        batch = [sig3(), sig3("203.0.113.40", uuid="same"), sig3("203.0.113.41", uuid="same")]
        for _ in range(2):
            assert (await client.post("/v3/signals", json=batch, headers=h1)).status == 200
        first = len(store.signals())
        assert (await client.post("/v3/signals", json=batch, headers=h2)).status == 200
        for _ in range(2):
            assert (await client.post("/v2/signals", json=[sig("198.51.100.1")], headers=h1)).status == 200
        status = await (await client.get("/v3/crowd/status", headers=h1)).json()
        return first, len(store.signals()), status
    first, total, status = _run(tmp_path, scenario)
    assert first == 2 and total == 2 + 2 + 1              # w1's two ids once; w2's own; the v2 signal once
    assert status["signals_received"] == 5 and status["signals_resent"] == 1 + 3 + 1 + 1   # in-batch, resends
    store = CentralStore(tmp_path)
    central = Central(store=store, secret=SECRET, curator=Curator(RULES, HUB))
    try:
        central.restore()
        now = central.clock()
        assert central.recent.fresh("w1", parse_signals([sig3()], "v3"), now) == []
        assert len(central.recent.fresh("w3", parse_signals([sig3()], "v3"), now)) == 1
        assert central.recent.fresh("w1", parse_signals([sig("198.51.100.1")]), now) == []
        assert len(central.recent.fresh("w1", parse_signals([sig("198.51.100.1", events_count=2)]), now)) == 1
    finally:
        store.close()


def test_the_resend_window_is_bounded_in_ids_and_time():
    """The window forgets ids older than its duration and keeps at most max_ids (the oldest go first)."""
    from connectors.central.dedupe import RecentIds

    window = RecentIds(window=60.0, max_ids=3)
    one = parse_signals([sig(uuid="a")])
    for uuid in "abcd":                          # four batches of one id
        window.accepted("w", parse_signals([sig(uuid=uuid)]), 0.0)
    assert len(window) == 3 and window.fresh("w", one, 1.0) == one          # "a" went first
    assert window.fresh("w", parse_signals([sig(uuid="d")]), 59.0) == []
    assert len(window.fresh("w", parse_signals([sig(uuid="d")]), 61.0)) == 1 and len(window) == 0


def test_an_old_store_gets_the_published_flag_and_its_signals_count_as_published(tmp_path):
    """A store from before the published flag opens with the columns added; its rows are not sent again, and a
    Kafka-mode batch is stored unpublished (Ip signals only) with its cohort and burst flags until marked."""
    import sqlite3

    from connectors.central.signals import Signal

    db = sqlite3.connect(tmp_path / "central.db")
    db.execute("CREATE TABLE signals (id INTEGER PRIMARY KEY, watcher TEXT NOT NULL, machine_id TEXT NOT NULL,"
               " scenario TEXT NOT NULL, scenario_hash TEXT NOT NULL, scenario_version TEXT NOT NULL,"
               " scope TEXT NOT NULL, value TEXT NOT NULL, start_at TEXT NOT NULL, stop_at TEXT NOT NULL,"
               " created_at TEXT NOT NULL, events_count INTEGER, received_at REAL NOT NULL)")
    db.execute("INSERT INTO signals VALUES (1, 'w0', 'm', 's', 'h', '1', 'Ip', '1.2.3.4', '', '', '', 1, 5.0)")
    db.commit()
    db.close()
    store = CentralStore(tmp_path)
    try:
        assert store.unpublished() == []
        batch = [Signal("m", "s", "h", "1", "Ip", v, "", "", "", 1, uuid=f"u{v}") for v in ("5.6.7.8", "9.9.9.9")]
        batch.insert(1, Signal("m", "s", "h", "1", "Range", "10.0.0.0/8", "", "", "", 1))
        store.add_signals("w1", batch, 7.5, "c1", [False, True])
        rows = store.unpublished()
        assert [(r["value"], r["cohort"], r["burst"], r["received_at"]) for r in rows] == [
            ("5.6.7.8", "c1", 0, 7.5), ("9.9.9.9", "c1", 1, 7.5)]
        store.mark_published([rows[0]["id"]])
        assert [r["value"] for r in store.unpublished()] == ["9.9.9.9"]
        assert len(store.signals()) == 4
    finally:
        store.close()


def test_the_stream_serves_the_behaviours_of_the_scenarios_a_watcher_runs(tmp_path):
    """decisions/stream (v2 and v3) serves a watcher the entries listed for a behaviour of a scenario its last
    login that had them: another http scenario gets the http entry and not the ssh one; ssh-bf and a custom
    scenario get the ssh one; a custom scenario alone gets none, and still after a login without the key (ccscli's);
    a watcher that never sent scenarios, or sent an empty list, gets every entry."""
    hub = {**HUB, "crowdsecurity/ssh-bf": (frozenset({"c8bb46"}), "ssh"),
           "crowdsecurity/http-bad-user-agent": (frozenset({"c8bb47"}), "http")}
    store = CentralStore(tmp_path)
    central = Central(store=store, secret=SECRET, curator=Curator(RULES, hub))

    async def pull(client, who: str, scenarios, version: str) -> list[str]:
        cred = {"machine_id": who, "password": f"pw-{who}"}
        await client.post(f"/{version}/watchers", json=cred)
        login = {**cred, **({"scenarios": scenarios} if scenarios is not None else {})}
        token = (await (await client.post(f"/{version}/watchers/login", json=login)).json())["token"]
        got = await (await client.get(f"/{version}/decisions/stream?startup=true",
                                      headers={"Authorization": f"Bearer {token}"})).json()
        if version == "v2":
            return sorted(d["value"] for d in got["new"])
        return sorted(d["value"] for group in got["new"] for d in group["decisions"])

    async def main():
        async with TestClient(TestServer(create_app(central))) as client:
            for who in ("w1", "w2"):
                body = [sig("45.13.227.7"), sig("45.13.227.8", scenario="crowdsecurity/ssh-bf", scenario_hash="c8bb46")]
                assert (await client.post("/v2/signals", json=body, headers=await _login(client, who))).status == 200
            return [await pull(client, "w3", ["crowdsecurity/http-bad-user-agent"], "v2"),
                    await pull(client, "w3", ["crowdsecurity/http-bad-user-agent"], "v3"),
                    await pull(client, "w4", ["crowdsecurity/ssh-bf", "me/custom"], "v3"),
                    await pull(client, "w4", ["me/custom"], "v2"),
                    await pull(client, "w4", None, "v2"),
                    await pull(client, "w5", [], "v3"),
                    await pull(client, "w6", None, "v2")]
    try:
        got = asyncio.run(main())
    finally:
        store.close()
    both = ["45.13.227.7", "45.13.227.8"]
    assert got == [["45.13.227.7"], ["45.13.227.7"], ["45.13.227.8"], [], [], both, both]
