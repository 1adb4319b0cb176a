"""Random and mutated `POST /v2/signals` and `POST /v3/signals` bodies (issue 12): `parse_signals` either returns
signals whose every field is bounded and canonical, or raises InputError (central answers a 400) — never another
exception, which central would answer with a 500. The same for v3's metrics and usage-metrics bodies.

CI mode is bounded (Hypothesis derandomized, 1,500 bodies: a few seconds); `SYNSEC_FUZZ_LONG=1` (make fuzz)
tries 50,000, not derandomized. The number tried is printed at the end and recorded as the
`fuzz_central_signals` property.
"""

from __future__ import annotations

import ipaddress
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.api.inputs import InputError, parse_json
from connectors.central.signals import Signal, parse_signals
from connectors.central.versions import parse_metrics, parse_usage_metrics

LONG = os.environ.get("SYNSEC_FUZZ_LONG") == "1"
EXAMPLES = 50_000 if LONG else 1_500
TRIED = {"bodies": 0}

JSON = st.recursive(st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats(allow_nan=False)
                    | st.text(max_size=40),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                 max_size=4),
                    max_leaves=12)
KEYS = ["machine_id", "scenario", "scenario_hash", "scenario_version", "source", "start_at", "stop_at",
        "created_at", "events_count", "message", "scenario_trust", "uuid", "alert_id", "kind", "context", "decisions"]
SOURCE_KEYS = ["scope", "value", "ip", "range", "cn", "latitude", "as_number"]
ADDRESSES = st.sampled_from(["45.13.227.7", "::ffff:45.13.227.7", "2a01:4f8::1", "10.0.0.0/8", "1.2.3",
                             "fe80::1%eth0", "٤٥.١.١.١", "1.2.3.4/33", "", "0" * 5000])


@pytest.fixture(scope="module", autouse=True)
def report_tried(record_testsuite_property):
    yield
    print(f"\nfuzz_central_signals: {TRIED['bodies']} bodies tried")
    record_testsuite_property("fuzz_central_signals", TRIED["bodies"])


def _valid(ip: str, v3: bool) -> dict:
    item = {"machine_id": "m1", "scenario": "crowdsecurity/http-probing", "scenario_hash": "c8bb45",
            "scenario_version": "0.2", "source": {"scope": "Ip", "value": ip}, "start_at": "2026-11-22T10:01:00Z",
            "stop_at": "2026-11-22T10:01:05Z", "uuid": "6f1c0c5e-8a4b-4f4e-9d1e-2b7f0a9d3c11"}
    if v3:
        item.update(alert_id=3, kind="crowdsec", context=[{"key": "target_uri", "value": "/x"}],
                    decisions=[{"duration": "4h", "id": 1, "origin": "crowdsec", "scenario": "s", "scope": "Ip",
                                "type": "ban", "value": ip, "simulated": False}])
    return item


@st.composite
def mutated(draw) -> list:
    item = _valid(draw(ADDRESSES), draw(st.booleans()))
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["set", "drop", "source", "extra", "nested"]))
        if action == "set":
            item[draw(st.sampled_from(KEYS))] = draw(JSON)
        elif action == "drop":
            item.pop(draw(st.sampled_from(KEYS)), None)
        elif action == "source" and isinstance(item.get("source"), dict):
            item["source"][draw(st.sampled_from(SOURCE_KEYS))] = draw(JSON | ADDRESSES)
        elif action == "nested" and [x for k in ("decisions", "context") if isinstance(item.get(k), list)
                                     for x in item[k][:1] if isinstance(x, dict)]:
            inner = draw(st.sampled_from([x for k in ("decisions", "context") if isinstance(item.get(k), list)
                                          for x in item[k][:1] if isinstance(x, dict)]))
            inner[draw(st.sampled_from(["id", "value", "key", "simulated", "until", "x"]))] = draw(JSON)
        else:
            item[draw(st.text(max_size=12))] = draw(JSON)
    return [item] * draw(st.integers(1, 3))


def _check(signals: list[Signal]) -> None:
    for s in signals:
        assert s.scope in ("Ip", "Range")
        net = ipaddress.ip_network(s.value, strict=False)
        assert str(net.network_address if s.scope == "Ip" else net) == s.value
        for text in (s.machine_id, s.scenario, s.scenario_hash, s.scenario_version, s.start_at, s.stop_at,
                     s.created_at, s.uuid):
            assert isinstance(text, str) and len(text) <= 256 and text.isprintable()
        assert s.events_count is None or 0 <= s.events_count < 2 ** 31


@settings(max_examples=EXAMPLES, derandomize=not LONG, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.one_of(mutated(), JSON, st.binary(max_size=200)), st.sampled_from(["v2", "v3"]))
def test_signals_are_valid_or_input_errors(body, version):
    """Any body, either version: signals with bounded, canonical fields, or an InputError (never another
    exception)."""
    TRIED["bodies"] += 1
    try:
        decoded = parse_json(body) if isinstance(body, bytes) else json.loads(json.dumps(body))
        signals = parse_signals(decoded, version)
    except InputError:
        return
    _check(signals)


METRICS = st.fixed_dictionaries({}, optional={
    "apil_version": JSON, "bouncers": st.lists(st.dictionaries(st.sampled_from(["name", "version", "last_pull", "x"]),
                                                               JSON, max_size=3), max_size=3) | JSON,
    "machines": st.lists(st.dictionaries(st.sampled_from(["name", "last_push", "last_update", "y"]), JSON,
                                         max_size=3), max_size=3) | JSON,
    "lapi": JSON, "log_processors": st.lists(JSON, max_size=3) | JSON, "remediation_components": JSON})


@settings(max_examples=EXAMPLES // 10, derandomize=not LONG, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.one_of(METRICS, JSON))
def test_metrics_bodies_are_counts_or_input_errors(body):
    """A metrics or usage-metrics body is counted or refused with an InputError, never another exception."""
    TRIED["bodies"] += 1
    for parse in (parse_metrics, parse_usage_metrics):
        try:
            parse(body)
        except InputError:
            pass
