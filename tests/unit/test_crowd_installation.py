"""The installation side of the crowd, piece by piece: what is shared, the persisted queue, pulled blocklist
entries becoming CAPI decisions, CrowdsecCTI from them, the credentials file."""

from __future__ import annotations

import ipaddress
import json

import pytest

from connectors.crowd.blocklist import BlocklistCTI, StoreTarget, apply_stream
from connectors.crowd.credentials import Credentials, load_credentials, save_credentials
from connectors.crowd.queue import SignalQueue
from connectors.crowd.share import SharePolicy, is_global_source, shareable_scenarios
from synsec.engine.errors import LoadError
from synsec.engine.model import Alert, Source
from synsec.engine.profiles import AllowEntry, Allowlist
from synsec.hub.index import parse_index
from synsec.store import Store

SCEN = "crowdsecurity/http-probing"
ALLOW = Allowlist((AllowEntry(ipaddress.ip_network("45.13.0.0/16")),))


def _alert(ip="91.200.12.9", scenario=SCEN, simulated=False, uuid="a1", scope="Ip") -> Alert:
    return Alert(Scenario=scenario, Source=Source(Scope=scope, Value=ip, IP=ip), EventsCount=11,
                 StartAt=1_780_000_000.0, StopAt=1_780_000_005.5, Simulated=simulated, UUID=uuid)


def _policy() -> SharePolicy:
    return SharePolicy(machine_id="m1", scenarios={SCEN: ("ab" * 32, "0.2")},
                       refused_scenarios={"me/custom": "custom", "crowdsecurity/ssh-bf": "tainted"}, allowlist=ALLOW)


def test_a_signal_carries_only_what_a_signal_may_carry():
    """machine id, scenario name/hash/version, source scope+value, start/stop/created, events count: no more."""
    sig = _policy().signal(_alert(), created=1_780_000_010.0)
    assert sig == {"machine_id": "m1", "scenario": SCEN, "scenario_hash": "ab" * 32, "scenario_version": "0.2",
                   "source": {"scope": "Ip", "value": "91.200.12.9"}, "start_at": "2026-05-28T20:26:40Z",
                   "stop_at": "2026-05-28T20:26:45.500000Z", "created_at": "2026-05-28T20:26:50Z",
                   "events_count": 11}


@pytest.mark.parametrize("alert,reason", [
    (_alert(simulated=True), "simulated"),
    (_alert(ip="10.1.2.3"), "not_global"),
    (_alert(ip="192.0.2.7"), "not_global"),                 # documentation
    (_alert(ip="127.0.0.1"), "not_global"),
    (_alert(ip="100.64.1.1"), "not_global"),                # shared address space
    (_alert(ip="45.13.227.7"), "allowlisted"),
    (_alert(scenario="me/custom"), "custom"),
    (_alert(scenario="never/heard-of"), "custom"),
    (_alert(scenario="crowdsecurity/ssh-bf"), "tainted"),
    (_alert(ip="AS1234", scope="AS"), "scope"),
])
def test_never_shared(alert, reason):
    """Simulated, non-global, allowlisted, custom or tainted, other scopes: no signal, counted by reason."""
    policy = _policy()
    assert policy.signal(alert, 0.0) is None
    assert policy.refused == {reason: 1}


def test_global_ranges_only():
    assert is_global_source("Range", "91.200.12.0/24")
    assert not is_global_source("Range", "10.0.0.0/8")
    assert not is_global_source("Range", "0.0.0.0/0")
    assert not is_global_source("Ip", "not-an-ip")


def test_custom_and_tainted_scenarios_against_the_hub_index(tmp_path):
    """A scenario is shareable when the index names it and its file's sha256 is one of the index's versions."""
    import hashlib

    good, edited, own = (tmp_path / n for n in ("good.yaml", "edited.yaml", "own.yaml"))
    good.write_text("name: a/good\n")
    edited.write_text("name: a/edited\n# local change\n")
    own.write_text("name: me/own\n")
    digest = hashlib.sha256(b"name: a/good\n").hexdigest()
    other = hashlib.sha256(b"name: a/edited\n").hexdigest()
    index = parse_index(json.dumps({"scenarios": {
        "a/good": {"path": "scenarios/a/good.yaml", "version": "0.2",
                   "versions": {"0.1": {"digest": "0" * 64}, "0.2": {"digest": digest}}},
        "a/edited": {"path": "scenarios/a/edited.yaml", "version": "0.1", "versions": {"0.1": {"digest": other}}},
    }}).encode())
    ok, refused = shareable_scenarios({"a/good": str(good), "a/edited": str(edited), "me/own": str(own)}, index)
    assert ok == {"a/good": (digest, "0.2")}
    assert refused == {"a/edited": "tainted", "me/own": "custom"}
    assert shareable_scenarios({"a/good": str(good)}, None) == ({}, {"a/good": "custom"})


def test_queue_is_persisted_and_takes_each_id_once(tmp_path):
    """Queued signals survive a reopen; an id queued or already sent is not queued again."""
    q = SignalQueue(tmp_path)
    assert q.enqueue([("a1", {"x": 1}), ("a2", {"x": 2})], now=1.0) == 2
    assert q.enqueue([("a1", {"x": 1})], now=2.0) == 0
    q.close()
    q = SignalQueue(tmp_path)
    assert [sid for sid, _ in q.batch(10)] == ["a1", "a2"]
    q.sent(["a1"], now=3.0)
    assert q.enqueue([("a1", {"x": 1})], now=4.0) == 0          # sent: never again
    assert q.pending() == 1 and q.counters()["signals_sent"] == 1 and q.status()["last_push"] == 3.0
    assert (tmp_path / "crowd.db").stat().st_mode & 0o777 == 0o600
    q.close()


def test_each_queued_signal_gets_a_stable_uuid(tmp_path):
    """A signal gets a random uuid when queued, kept across reopens and resends; signals queued before ids existed
    get one at the next open, once."""
    import sqlite3
    import uuid as uuidlib

    q = SignalQueue(tmp_path)
    q.enqueue([("a1", {"x": 1}), ("a2", {"x": 2})], now=1.0)
    first = {sid: body["uuid"] for sid, body in q.batch(10)}
    assert len(set(first.values())) == 2 and all(uuidlib.UUID(u).version == 4 for u in first.values())
    assert {sid: body["uuid"] for sid, body in q.batch(10)} == first        # a resend carries the same ids
    q.close()
    with sqlite3.connect(tmp_path / "crowd.db") as db:                      # a queue from before signal ids
        db.execute("""INSERT INTO outbox VALUES ('old', '{"x":3}', 0.5)""")
    q = SignalQueue(tmp_path)
    again = {sid: body["uuid"] for sid, body in q.batch(10)}
    assert {k: again[k] for k in first} == first and again["old"]
    q.close()
    assert {sid: body["uuid"] for sid, body in SignalQueue(tmp_path).batch(10)} == again


def test_v3_stream_groups_become_flat_decisions():
    """A v3 answer's groups flatten to v2's decisions (scenario and scope from the group, deleted values with
    their scope); a malformed group or item becomes one malformed entry, counted by apply_stream."""
    from connectors.crowd.client import flat_stream

    new, deleted = flat_stream(
        [{"scenario": SCEN, "scope": "Ip", "decisions": [{"value": "91.200.12.9", "duration": "4h"}, "junk"]},
         {"scenario": SCEN, "scope": "Ip", "decisions": None}, 7],
        [{"scope": "Ip", "decisions": ["91.200.12.10", 5]}])
    assert new[0] == {"scenario": SCEN, "scope": "Ip", "type": "ban", "value": "91.200.12.9", "duration": "4h"}
    assert new[1:] == [None, None, None]
    assert [(d["scope"], d["value"]) for d in deleted[:1]] == [("Ip", "91.200.12.10")] and deleted[1] is None


def _pulled(value, cid=1, scenario=SCEN, duration="24h0m0s", scope="Ip"):
    return {"id": cid, "origin": "CAPI", "type": "ban", "scope": scope, "value": value, "scenario": scenario,
            "duration": duration}


def test_pulled_entries_become_capi_decisions(tmp_path):
    """New entries of scenarios the installation runs become active CAPI decisions; others are counted only."""
    store = Store(tmp_path)
    target = StoreTarget(store)
    counts = apply_stream(target, [_pulled("91.200.12.9"), _pulled("91.200.12.10", 2, "other/scenario"),
                                   _pulled("45.13.227.7", 3), _pulled("nope", 4), "junk", _pulled("1.2.3.4", 5, duration="-1h")],
                          [], startup=True, scenarios={SCEN}, allowlist=ALLOW, now=1000.0)
    assert counts == {"added": 1, "skipped_scenario": 1, "skipped_allowlisted": 1, "skipped_malformed": 3}
    rows = store.decisions(origin="CAPI", now=1000.0)
    assert [(r["value"], r["scenario"], r["until"]) for r in rows] == [("91.200.12.9", SCEN, 1000.0 + 86400)]
    again = apply_stream(target, [_pulled("91.200.12.9")], [], startup=False, scenarios={SCEN}, allowlist=ALLOW,
                         now=1030.0)
    assert again == {} and len(store.decisions(origin="CAPI", now=1030.0)) == 1      # nothing rewritten
    store.close()


def test_extension_deletion_and_startup_truth(tmp_path):
    """A later end replaces the decision; `deleted` removes it; at startup what the list lacks is removed."""
    store = Store(tmp_path)
    target = StoreTarget(store)
    apply_stream(target, [_pulled("91.200.12.9"), _pulled("91.200.12.10", 2)], [], startup=True,
                 scenarios={SCEN}, allowlist=Allowlist(), now=1000.0)
    counts = apply_stream(target, [_pulled("91.200.12.9")], [], startup=False, scenarios={SCEN},
                          allowlist=Allowlist(), now=5000.0)
    assert counts == {"extended": 1}
    active = {r["value"]: r["until"] for r in store.decisions(origin="CAPI", now=5000.0)}
    assert active == {"91.200.12.9": 5000.0 + 86400, "91.200.12.10": 1000.0 + 86400}
    counts = apply_stream(target, [], [_pulled("91.200.12.10", 2)], startup=False, scenarios={SCEN},
                          allowlist=Allowlist(), now=5001.0)
    assert counts == {"deleted": 1}
    assert [r["value"] for r in store.decisions(origin="CAPI", now=5001.0)] == ["91.200.12.9"]
    counts = apply_stream(target, [], [], startup=True, scenarios={SCEN}, allowlist=Allowlist(), now=5002.0)
    assert counts == {"deleted": 1} and store.decisions(origin="CAPI", now=5002.0) == []
    store.close()


def test_cti_answers_from_capi_decisions(tmp_path):
    """CrowdsecCTI: a listed IP (or one inside a listed range) is in the community blocklist; others are not."""
    store = Store(tmp_path)
    apply_stream(StoreTarget(store), [_pulled("91.200.12.9"), _pulled("91.201.0.0/16", 2, scope="Range")], [],
                 startup=True, scenarios={SCEN}, allowlist=Allowlist(), now=1000.0)
    cti = BlocklistCTI({SCEN: {"service": "http", "type": "scan"}})
    cti.reload(store.decisions(origin="CAPI", now=1000.0))
    assert cti("91.200.12.9").IsPartOfCommunityBlocklist() and cti("91.200.12.9").GetBehaviors() == ["http:scan"]
    assert cti("91.201.3.4").IpRange == "91.201.0.0/16"
    assert not cti("8.8.8.8").IsPartOfCommunityBlocklist() and len(cti) == 2
    store.close()


def test_credentials_file_round_trip_and_errors(tmp_path):
    """The file is CrowdSec's url/login/password, mode 0600; bad ones name file, line and field."""
    path = tmp_path / "online_api_credentials.yaml"
    assert load_credentials(path) is None
    save_credentials(path, Credentials("http://127.0.0.1:8090", "m1", "pw"))
    assert path.stat().st_mode & 0o777 == 0o600
    creds = load_credentials(path)
    assert creds == Credentials("http://127.0.0.1:8090/", "m1", "pw") and "pw" not in repr(creds)
    path.write_text("url: http://127.0.0.1:8090/\nlogin: m1\npassword: pw\nextra: 1\n")
    with pytest.raises(LoadError, match=r"online_api_credentials.yaml:4: extra"):
        load_credentials(path)
    path.write_text("url: ftp://x/\nlogin: m1\npassword: pw\n")
    with pytest.raises(LoadError, match=r":1: url: 'ftp://x/' is not an http"):
        load_credentials(path)
    path.write_text("url: http://x/\nlogin: 7\npassword: pw\n")
    with pytest.raises(LoadError, match=r":2: login"):
        load_credentials(path)


def test_replay_never_shares(tmp_path):
    """`synsec replay` with credentials in its state dir queues and sends nothing (no crowd.db is made)."""
    from click.testing import CliRunner

    from synsec.cli.main import cli
    from tests.hubutil import REPO

    save_credentials(tmp_path / "online_api_credentials.yaml", Credentials("http://127.0.0.1:9/", "m1", "pw"))
    res = CliRunner().invoke(cli, ["replay", "--type", "syslog", "--state-dir", str(tmp_path), "-o", "json",
                                   str(REPO / "scenarios/samples/auth-demo.log")])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["alerts"] and not (tmp_path / "crowd.db").exists()
