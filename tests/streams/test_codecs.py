"""Avro codecs: exact round trips, Confluent wire format, schema evolution, poison messages, registries."""

from __future__ import annotations

import json
import shutil
from io import BytesIO
from pathlib import Path

import pytest
from fastavro import parse_schema, schemaless_writer
from hypothesis import HealthCheck, given, settings, strategies as st

from synsec.engine.buckets.state import BucketState
from synsec.engine.model import LOG, OVFLW, Alert, Decision, Event, Line, RuntimeAlert, Source, StrMap
from synsec.wire.codecs import Codecs, DecodeError, EncodeError
from synsec.wire.records import (
    DeadLetter, Signal, alert_to_record, bucket_in_origin, bucket_in_to_record, bucket_state_to_record,
    dead_letter_to_record, decision_key, decision_to_record, event_to_record, record_to_alert, record_to_bucket_in,
    record_to_bucket_state, record_to_dead_letter, record_to_decision, record_to_event, record_to_signal,
    signal_key, signal_of_alert, signal_to_record)
from synsec.wire.registry import SCHEMA_DIR, VALUES, LocalRegistry, RegistryError, bump, load_schemas, schema_sha256

HYP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class DictRegistry:
    """An in-memory registry: sequential ids, like a fresh Confluent registry."""

    def __init__(self):
        self.ids: dict[tuple[str, str], int] = {}
        self.schemas: dict[int, dict] = {}

    def register(self, subject, schema):
        key = (subject, schema_sha256(schema))
        if key not in self.ids:
            self.ids[key] = len(self.schemas) + 1
            self.schemas[self.ids[key]] = schema
        return self.ids[key]

    def get_schema(self, schema_id):
        from synsec.wire.registry import UnknownSchemaId
        if schema_id not in self.schemas:
            raise UnknownSchemaId(schema_id, "dict registry")
        return self.schemas[schema_id]


@pytest.fixture(scope="module")
def codecs():
    return Codecs(LocalRegistry())


# --- strategies ------------------------------------------------------------------------------------------
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)   # Avro strings are UTF-8: no surrogates
strmap = st.dictionaries(text, text, max_size=4)
floats = st.floats(allow_nan=False)
longs = st.integers(-(2 ** 63), 2 ** 63 - 1)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2 ** 70), 2 ** 70) | floats | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3), max_leaves=8)
sources = st.builds(Source, text, text, text, text, text, text, text, floats, floats)
decisions = st.builds(Decision, origin=text, scenario=text, scope=text, value=text, type=text, duration=floats,
                      until=floats, simulated=st.booleans(), id=text, alert_id=text)
alerts = st.builds(
    Alert, Scenario=text, Source=sources, EventsCount=longs, StartAt=floats, StopAt=floats,
    Events=st.lists(st.fixed_dictionaries({"timestamp": floats, "meta": strmap}), max_size=3),
    Labels=st.dictionaries(text, json_values, max_size=4), Remediation=st.booleans(), Simulated=st.booleans(),
    Capacity=longs, Leakspeed=text, ScenarioVersion=text, ScenarioHash=text, Message=text, Meta=strmap,
    Decisions=st.lists(decisions, max_size=2), UUID=text)
runtime_alerts = st.builds(RuntimeAlert, Alert=alerts, Sources=st.dictionaries(text, sources, max_size=2),
                           Reprocess=st.booleans(), Mapkey=text, BucketId=text, Whitelisted=st.booleans(),
                           Reason=text)


@st.composite
def events(draw):
    line = Line(draw(text), draw(text), draw(strmap), draw(text), draw(floats))
    line.Process = draw(st.booleans())
    evt = Event(line, draw(st.sampled_from([LOG, OVFLW])))
    evt.ExpectMode = draw(st.integers(-(2 ** 31), 2 ** 31 - 1))
    evt.Parsed, evt.Meta, evt.Enriched = StrMap(draw(strmap)), StrMap(draw(strmap)), StrMap(draw(strmap))
    evt.Unmarshaled = draw(st.dictionaries(text, json_values, max_size=3))
    evt.ts = draw(floats)
    evt.StrTime, evt.StrTimeFormat, evt.MarshaledTime = draw(text), draw(text), draw(text)
    evt.Whitelisted, evt.WhitelistReason, evt.Stage = draw(st.booleans()), draw(text), draw(text)
    evt.Process = draw(st.booleans())
    evt.Overflow = draw(st.none() | runtime_alerts)
    return evt


source_tuples = st.tuples(text, text, text, text, text, text, text, floats, floats)
queue_entries = st.tuples(floats, st.none() | strmap.map(StrMap), text | st.lists(source_tuples, max_size=2).map(tuple),
                          st.none() | st.tuples(strmap, strmap))
bucket_states = st.builds(BucketState, floats, floats, floats, longs, st.lists(queue_entries, max_size=3).map(tuple),
                          st.frozensets(text, max_size=4), floats, longs)
signals = st.builds(Signal, installation_id=text, scenario=text, source=sources, timestamp=floats, alert_id=text,
                    scenario_version=text, scenario_hash=text, start_at=floats, events_count=longs,
                    simulated=st.booleans(), labels=strmap)
dead_letters = st.builds(DeadLetter, text, st.integers(-(2 ** 31), 2 ** 31 - 1), longs, st.none() | st.binary(),
                         st.none() | st.binary(), text, longs, text)


def event_state(evt: Event) -> tuple:
    """Everything an Event holds, with the map types, for comparison (Event has no __eq__)."""
    line = evt.Line
    out = [(type(line.Labels), line.Raw, line.Src, dict(line.Labels), line.Module, line.Time, line.Process)]
    for name in Event.__slots__:
        if name != "Line":
            value = getattr(evt, name)
            out.append((name, type(value), value))
    return tuple(out)


# --- round trips -----------------------------------------------------------------------------------------
@HYP
@given(evt=events())
def test_event_round_trip(codecs, evt):
    """An Event (LOG or OVFLW with its RuntimeAlert) comes back identical, string maps as StrMap."""
    back = record_to_event(codecs.decode("event", codecs.encode("event", event_to_record(evt))))
    assert event_state(back) == event_state(evt)
    assert all(type(m) is StrMap for m in (back.Parsed, back.Meta, back.Enriched, back.Line.Labels))


@HYP
@given(alert=alerts)
def test_alert_round_trip(codecs, alert):
    """An Alert with source, events, non-string labels and decisions comes back equal."""
    assert record_to_alert(codecs.decode("synsec.alerts", codecs.encode("alert", alert_to_record(alert)))) == alert


@HYP
@given(decision=decisions)
def test_decision_round_trip(codecs, decision):
    """A Decision comes back equal; its key is UTF-8 scope:value."""
    assert record_to_decision(codecs.decode("decision", codecs.encode("decision", decision_to_record(decision)))) \
        == decision
    assert decision_key(decision) == f"{decision.scope}:{decision.value}".encode()


@HYP
@given(state=bucket_states)
def test_bucket_state_round_trip(codecs, state):
    """A BucketState (queue with sources or source errors, extras, distinct) comes back equal, meta as StrMap."""
    back = record_to_bucket_state(codecs.decode("bucket_state",
                                                codecs.encode("bucket_state", bucket_state_to_record(state))))
    assert back == state
    assert all(e[1] is None or type(e[1]) is StrMap for e in back.queue)


@HYP
@given(scenario=text, key=text, evt=events())
def test_bucket_in_round_trip(codecs, scenario, key, evt):
    """A (scenario, key, event) routed to a bucket comes back identical."""
    data = codecs.encode("synsec.buckets-in", bucket_in_to_record(scenario, key, evt))
    s, k, back = record_to_bucket_in(codecs.decode("bucket_in", data))
    assert (s, k, event_state(back)) == (scenario, key, event_state(evt))


origins = st.none() | st.tuples(st.integers(0, 2**31 - 1), st.integers(0, 2**63 - 1), st.integers(0, 2**31 - 1))


@HYP
@given(scenario=text, key=text, evt=events(), origin=origins)
def test_bucket_in_from_encoded_event_is_the_same_bytes(codecs, scenario, key, evt, origin):
    """Codecs.bucket_in reuses an encoded event's body and gives exactly the bytes of a full bucket_in encode,
    origin (where the router read the event) included."""
    event_data = codecs.encode("event", event_to_record(evt))
    data = codecs.bucket_in(scenario, key, event_data, origin)
    assert data == codecs.encode("bucket_in", bucket_in_to_record(scenario, key, evt, origin))
    assert bucket_in_origin(codecs.decode("bucket_in", data)) == origin


def test_bucket_in_of_the_first_version_reads_without_origin(codecs):
    """A buckets-in record written before `origin` existed (schema id 2) is read with origin None."""
    first = json.loads((SCHEMA_DIR / "evolution" / "2.avsc").read_text())
    evt = record_to_event(event_to_record(Event(Line("GET /", "t", {"type": "nginx"}))))
    body = BytesIO()
    schemaless_writer(body, parse_schema(first), {"scenario": "s", "key": "k", "event": event_to_record(evt)})
    rec = codecs.decode("bucket_in", b"\x00" + (2).to_bytes(4, "big") + body.getvalue())
    assert (rec["scenario"], rec["key"], bucket_in_origin(rec)) == ("s", "k", None)


def test_bucket_in_from_an_event_of_an_older_schema_is_reencoded():
    """An event written with an older schema (no `process` field) is decoded and encoded with the current one,
    not spliced under the current id (its body would lack the field)."""
    old_schema = dict(load_schemas()["event"])
    old_schema["fields"] = [f for f in old_schema["fields"] if f["name"] != "process"]
    registry = DictRegistry()
    old_id = registry.register("synsec.events-value", old_schema)
    codecs = Codecs(registry)
    evt = record_to_event(event_to_record(Event(Line("GET /", "t", {"type": "nginx"}))))
    record = {k: v for k, v in event_to_record(evt).items() if k != "process"}
    body = BytesIO()
    schemaless_writer(body, parse_schema(old_schema), record)
    data = b"\x00" + old_id.to_bytes(4, "big") + body.getvalue()
    assert codecs.bucket_in("s", "k", data) == codecs.encode("bucket_in", bucket_in_to_record("s", "k", evt))


@HYP
@given(dl=dead_letters)
def test_dead_letter_round_trip(codecs, dl):
    """A dead letter keeps topic, partition, offset, raw key and value bytes, error, timestamp and agent."""
    assert record_to_dead_letter(codecs.decode("dead_letter", codecs.encode("dead_letter",
                                                                            dead_letter_to_record(dl)))) == dl


@HYP
@given(signal=signals)
def test_signal_round_trip(codecs, signal):
    """A crowd signal (installation, scenario, source, timestamp...) comes back identical from synsec.signals."""
    data = codecs.encode("synsec.signals", signal_to_record(signal))
    assert data[1:5] == codecs.schema_id("signal").to_bytes(4, "big")
    assert record_to_signal(codecs.decode("signal", data)) == signal


@HYP
@given(alert=alerts, installation=text)
def test_signal_of_an_alert(alert, installation):
    """An alert's signal carries its id, scenario, source and overflow time; the key is the source IP."""
    signal = signal_of_alert(alert, installation)
    assert (signal.installation_id, signal.alert_id, signal.scenario, signal.source, signal.timestamp) == \
        (installation, alert.UUID, alert.Scenario, alert.Source, alert.StopAt)
    assert signal_key(signal) == (alert.Source.IP or alert.Source.Value).encode()


def test_decision_tombstone(codecs):
    """A null decision value is a tombstone both ways; a null event value is a DecodeError."""
    assert codecs.encode("decision", None) is None
    assert codecs.decode("synsec.decisions", None) is None
    with pytest.raises(DecodeError, match="event: null value"):
        codecs.decode("event", None)
    with pytest.raises(EncodeError, match="alert: a null value"):
        codecs.encode("alert", None)


def test_engine_same_alerts_through_avro():
    """The nginx demo gives the same alerts and decisions when every event and bucket state crosses Avro."""
    from synsec.assembly.build import EngineOptions, build_engine

    demo = Path(__file__).resolve().parents[1] / "golden" / "demo" / "nginx-demo" / "input.log"
    codecs = Codecs(LocalRegistry())

    def run(through_avro: bool):
        engine, _ = build_engine(EngineOptions())
        alerts, decisions = [], []
        for raw in demo.read_text().splitlines():
            evt = engine.parse(Line(raw, "access.log", {"type": "nginx"}))
            if evt is None:
                continue
            if through_avro:
                evt = record_to_event(codecs.decode("event", codecs.encode("event", event_to_record(evt))))
                table = engine.buckets.buckets
                for bkey, state in list(table.items()):
                    data = codecs.encode("bucket_state", bucket_state_to_record(state))
                    table[bkey] = record_to_bucket_state(codecs.decode("bucket_state", data))
            out = engine.pour(evt)
            alerts += out.alerts
            decisions += out.decisions
        out = engine.finish()
        return alerts + out.alerts, decisions + out.decisions

    direct, through = run(False), run(True)
    assert direct[0], "the demo must produce alerts for this test to mean anything"
    assert through == direct
    assert [record_to_alert(codecs.decode("alert", codecs.encode("alert", alert_to_record(a)))) for a in direct[0]] \
        == direct[0]


# --- wire format and registries ---------------------------------------------------------------------------
def test_wire_format_bytes(codecs):
    """Encoded bytes are 0x00, the big-endian schema id from ids.json, then the plain Avro body."""
    d = Decision("synsec", "crowdsecurity/ssh-bf", "Ip", "192.0.2.7", "ban", 14400.0, 1.7e9, False, "u-1", "u")
    data = codecs.encode("decision", decision_to_record(d))
    manifest = json.loads((SCHEMA_DIR / "ids.json").read_text())
    schema_id = manifest["synsec.decisions-value"][-1]["id"]
    body = BytesIO()
    schemaless_writer(body, parse_schema(load_schemas()["decision"]), decision_to_record(d))
    assert data[:1] == b"\x00"
    assert data[1:5] == schema_id.to_bytes(4, "big")
    assert data[5:] == body.getvalue()
    assert codecs.schema_id("decision") == schema_id


def test_manifest_matches_schema_files():
    """Every current schema has an id in ids.json whose evolution/<id>.avsc is exactly it (else: run bump)."""
    registry = LocalRegistry()
    for name, schema in load_schemas().items():
        schema_id = registry.register(VALUES[name].subject, schema)
        assert registry.get_schema(schema_id) == schema, f"{name}: evolution/{schema_id}.avsc differs"


def test_manifest_ids_unique_and_kept():
    """Ids are unique across subjects, versions count up, and every registered version's text is kept."""
    manifest = json.loads((SCHEMA_DIR / "ids.json").read_text())
    ids = [e["id"] for entries in manifest.values() for e in entries]
    assert len(ids) == len(set(ids))
    for entries in manifest.values():
        assert [e["version"] for e in entries] == list(range(1, len(entries) + 1))
    for schema_id in ids:
        assert (SCHEMA_DIR / "evolution" / f"{schema_id}.avsc").is_file()
    assert set(manifest) == {v.subject for v in VALUES.values()}


def test_unregistered_schema_change_is_refused(tmp_path):
    """A schema edited without `bump` has no id: LocalRegistry says so instead of inventing one."""
    shutil.copytree(SCHEMA_DIR, tmp_path / "s")
    path = tmp_path / "s" / "decision.avsc"
    doc = json.loads(path.read_text())
    doc["fields"].append({"name": "reason", "type": "string", "default": "", "doc": "why"})
    path.write_text(json.dumps(doc))
    with pytest.raises(RegistryError, match="synsec.decisions-value: this schema version has no id"):
        Codecs(LocalRegistry(tmp_path / "s"), tmp_path / "s").encode("decision", {
            "origin": "o", "scenario": "s", "scope": "Ip", "value": "v", "type": "ban", "duration": 1.0,
            "until": 2.0})


def test_bump_adds_a_version_and_old_data_stays_readable(tmp_path, codecs):
    """`bump` gives a changed schema (and those nesting it) the next ids; old-id data decodes with the new reader."""
    d = Decision("synsec", "x", "Ip", "192.0.2.7", "ban", 60.0, 100.0)
    old_data = codecs.encode("decision", decision_to_record(d))
    shutil.copytree(SCHEMA_DIR, tmp_path / "s")
    path = tmp_path / "s" / "decision.avsc"
    doc = json.loads(path.read_text())
    doc["fields"].append({"name": "reason", "type": "string", "default": "none", "doc": "why"})
    path.write_text(json.dumps(doc))
    max_id = max(e["id"] for es in json.loads((SCHEMA_DIR / "ids.json").read_text()).values() for e in es)
    versions = {s: max(e["version"] for e in es) for s, es in json.loads((SCHEMA_DIR / "ids.json").read_text()).items()}
    added = bump(tmp_path / "s")       # Decision is nested in Alert, so in Event and BucketIn too
    subjects = sorted(["synsec.events-value", "synsec.buckets-in-value", "synsec.alerts-value",
                       "synsec.decisions-value"])
    assert sorted((s, v) for s, v, _i in added) == [(s, versions[s] + 1) for s in subjects]
    assert sorted(i for _s, _v, i in added) == list(range(max_id + 1, max_id + 5))
    assert bump(tmp_path / "s") == []
    new_id = dict((s, i) for s, _v, i in added)["synsec.decisions-value"]
    new = Codecs(LocalRegistry(tmp_path / "s"), tmp_path / "s")
    assert new.decode("decision", old_data) == {**decision_to_record(d), "reason": "none"}
    assert new.encode("decision", {**decision_to_record(d), "reason": "r"})[1:5] == new_id.to_bytes(4, "big")


# --- evolution: every schema, both directions -------------------------------------------------------------
def _next_version(schema_dir: Path, out: Path) -> None:
    """Copy schema files, adding an optional field with a default to every record (nested ones included)."""
    out.mkdir()

    def grow(node):
        if isinstance(node, list):
            for item in node:
                grow(item)
        elif isinstance(node, dict):
            if node.get("type") == "record":
                for fld in node["fields"]:
                    grow(fld["type"])
                node["fields"].append({"name": f"evo_{node['name'].lower()}", "type": ["null", "string"],
                                       "default": None, "doc": "added in the next version"})
            else:
                for key in ("type", "items", "values"):
                    if isinstance(node.get(key), (dict, list)):
                        grow(node[key])

    for path in schema_dir.glob("*.avsc"):
        doc = json.loads(path.read_text())
        grow(doc)
        (out / path.name).write_text(json.dumps(doc))


def _strip_evo(value):
    if isinstance(value, dict):
        return {k: _strip_evo(v) for k, v in value.items() if not k.startswith("evo_")}
    if isinstance(value, list):
        return [_strip_evo(v) for v in value]
    return value


def _fill_evo(value):
    if isinstance(value, dict):
        return {k: ("x" if k.startswith("evo_") else _fill_evo(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill_evo(v) for v in value]
    return value


SAMPLES = {
    "event": st.builds(event_to_record, events()),
    "bucket_in": st.builds(bucket_in_to_record, text, text, events()),
    "alert": st.builds(alert_to_record, alerts),
    "decision": st.builds(decision_to_record, decisions),
    "dead_letter": st.builds(dead_letter_to_record, dead_letters),
    "bucket_state": st.builds(bucket_state_to_record, bucket_states),
    "signal": st.builds(signal_to_record, signals),
}


@pytest.fixture(scope="module")
def evolution(tmp_path_factory):
    """(current codecs, next-version codecs) sharing one in-memory registry."""
    out = tmp_path_factory.mktemp("evo") / "next"
    _next_version(SCHEMA_DIR, out)
    registry = DictRegistry()
    return Codecs(registry), Codecs(registry, out)


@pytest.mark.parametrize("name", sorted(VALUES))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_evolution_both_directions(evolution, name, data):
    """Each schema with a new optional field in every record: new reads old (defaults), old reads new (ignores)."""
    current, nxt = evolution
    record = data.draw(SAMPLES[name])
    expected = current.decode(name, current.encode(name, record))
    from_old = nxt.decode(name, current.encode(name, record))
    assert nxt.schema_id(name) != current.schema_id(name)
    assert _strip_evo(from_old) == expected
    assert "evo_" + VALUES[name].record.rpartition(".")[2].lower() in from_old
    from_new = current.decode(name, nxt.encode(name, _fill_evo(from_old)))
    assert from_new == expected


# --- poison ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def event_bytes(codecs):
    evt = Event(Line("Mar  1 10:00:05 host sshd[1]: Failed password", "auth.log", {"type": "syslog"}))
    evt.Meta["source_ip"] = "192.0.2.7"
    return codecs.encode("event", event_to_record(evt))


@pytest.mark.parametrize("data, message", [
    (b'{"message": "hello"}', r"event: wrong magic byte 0x7b .*\(JSON\?\)"),
    (b"\x01\x00\x00\x00\x01abc", "event: wrong magic byte 0x01"),
    (b"\x00\x00", "shorter than the 5-byte Confluent header"),
    (b"", "event: 0 byte"),
    (b"\x00\x00\x00\x27\x0f" + b"\x02", "unknown schema id 9999"),
])
def test_poison_header(codecs, data, message):
    """Wrong magic, short header, unknown id: DecodeError naming the problem."""
    with pytest.raises(DecodeError, match=message):
        codecs.decode("event", data)


def test_poison_truncated_and_trailing(codecs, event_bytes):
    """A body cut short or followed by extra bytes is a DecodeError, never a partial record."""
    assert codecs.decode("event", event_bytes)["meta"] == {"source_ip": "192.0.2.7"}
    for cut in range(6, len(event_bytes)):
        with pytest.raises(DecodeError, match="does not decode|left after"):
            codecs.decode("event", event_bytes[:cut])
    with pytest.raises(DecodeError, match="2 byte\\(s\\) left after the record"):
        codecs.decode("event", event_bytes + b"\x00\x00")


def test_poison_other_schema(codecs):
    """An Alert message read as an Event is refused by name before any body is read."""
    alert = Alert("s", Source(Value="1.2.3.4", IP="1.2.3.4"), 1, 0.0, 1.0)
    data = codecs.encode("alert", alert_to_record(alert))
    with pytest.raises(DecodeError, match=r"event: message written with schema id \d+ \(io.synsec.Alert\), "
                                          r"not io.synsec.Event"):
        codecs.decode("event", data)


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=64), name=st.sampled_from(sorted(VALUES)))
def test_poison_garbage_only_decode_error(codecs, body, name):
    """Random bytes behind a valid header either decode to a record or raise DecodeError — nothing else."""
    data = bytes([0]) + codecs.schema_id(name).to_bytes(4, "big") + body
    try:
        assert isinstance(codecs.decode(name, data), dict)
    except DecodeError as err:
        assert name in str(err)


def test_invalid_utf8_body(codecs):
    """A string field holding invalid UTF-8 is a DecodeError naming the decode failure."""
    body = BytesIO()
    schemaless_writer(body, parse_schema(load_schemas()["decision"]), {
        "origin": "o", "scenario": "s", "scope": "Ip", "value": "v", "type": "ban", "duration": 1.0, "until": 2.0})
    raw = bytearray(body.getvalue())
    raw[raw.index(b"Ip")] = 0xff
    data = b"\x00" + codecs.schema_id("decision").to_bytes(4, "big") + bytes(raw)
    with pytest.raises(DecodeError, match="decision: body does not decode.*UnicodeDecodeError"):
        codecs.decode("decision", data)


def test_encode_error_names_value(codecs):
    """A record that does not fit its schema is an EncodeError naming the value, not a fastavro traceback."""
    evt = Event(Line("x"))
    evt.Meta["n"] = 3                     # Meta is map<string>
    with pytest.raises(EncodeError, match="event: record does not fit io.synsec.Event"):
        codecs.encode("event", event_to_record(evt))
    bad = Alert("s", Source(), 1, 0.0, 1.0, Labels={"when": object()})
    with pytest.raises(EncodeError, match="alert s: labels.when: not JSON-encodable"):
        alert_to_record(bad)


def test_unknown_value_name(codecs):
    """An unknown value name is a KeyError listing the known ones."""
    with pytest.raises(KeyError, match="no Avro value named 'synsec.raw'; known: event"):
        codecs.encode("synsec.raw", {})


# --- HttpRegistry against a tiny Confluent-like server on loopback -------------------------------------------
class _FakeRegistry:
    """The three endpoints a codec needs: register (same schema → same id), get by id, 404 otherwise."""

    def __init__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.ids: dict[tuple[str, str], int] = {}
        self.schemas: dict[int, str] = {}
        self.requests: list[tuple[str, str, str | None, str | None]] = []   # method, path, content-type, auth
        self.fail_register = False
        state = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _log(self):
                state.requests.append((self.command, self.path, self.headers.get("Content-Type"),
                                       self.headers.get("Authorization")))

            def do_POST(self):
                self._log()
                parts = self.path.split("/")
                if len(parts) != 4 or parts[1] != "subjects" or parts[3] != "versions":
                    return self._answer(404, {"error_code": 404, "message": "HTTP 404 Not Found"})
                if state.fail_register:
                    return self._answer(500, {"error_code": 50001, "message": "Error in the backend data store"})
                schema = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["schema"]
                json.loads(schema)                      # must be a JSON text, as Confluent requires
                key = (parts[2], schema)
                if key not in state.ids:
                    state.ids[key] = 100 + len(state.schemas)
                    state.schemas[state.ids[key]] = schema
                self._answer(200, {"id": state.ids[key]})

            def do_GET(self):
                self._log()
                parts = self.path.split("/")
                if len(parts) == 4 and parts[1:3] == ["schemas", "ids"] and int(parts[3]) in state.schemas:
                    return self._answer(200, {"schema": state.schemas[int(parts[3])]})
                self._answer(404, {"error_code": 40403, "message": "Schema not found"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_registry():
    server = _FakeRegistry()
    yield server
    server.close()


@pytest.mark.integration
def test_http_registry_register_and_fetch(fake_registry):
    """POST /subjects/<topic>-value/versions registers once (cached); GET /schemas/ids/<id> fetches once."""
    from synsec.wire.registry import HttpRegistry

    schema = load_schemas()["decision"]
    reg = HttpRegistry(fake_registry.url)
    assert reg.register("synsec.decisions-value", schema) == 100
    assert reg.register("synsec.decisions-value", schema) == 100
    assert fake_registry.requests == [("POST", "/subjects/synsec.decisions-value/versions",
                                       "application/vnd.schemaregistry.v1+json", None)]
    other = HttpRegistry(fake_registry.url)
    assert other.get_schema(100) == schema
    assert other.get_schema(100) == schema
    assert [r[:2] for r in fake_registry.requests[1:]] == [("GET", "/schemas/ids/100")]


@pytest.mark.integration
def test_http_registry_codecs_across_processes(fake_registry):
    """A message encoded through one HttpRegistry decodes in a fresh one with one GET and no registration."""
    from synsec.wire.registry import HttpRegistry

    d = Decision("synsec", "x", "Ip", "192.0.2.7", "ban", 60.0, 100.0)
    data = Codecs(HttpRegistry(fake_registry.url)).encode("decision", decision_to_record(d))
    assert data[1:5] == (100).to_bytes(4, "big")
    before = len(fake_registry.requests)
    reader = Codecs(HttpRegistry(fake_registry.url))
    assert record_to_decision(reader.decode("decision", data)) == d
    assert record_to_decision(reader.decode("decision", data)) == d
    # reading registers nothing: one GET for the writer schema, then the cache
    assert [r[:2] for r in fake_registry.requests[before:]] == [("GET", "/schemas/ids/100")]


@pytest.mark.integration
def test_http_registry_unknown_id_and_errors(fake_registry):
    """404 on an id is UnknownSchemaId (→ DecodeError); a 500 or a dead server is a RegistryError naming the URL."""
    from synsec.wire.registry import HttpRegistry, UnknownSchemaId

    reg = HttpRegistry(fake_registry.url, auth=("key", "s3cret"))
    with pytest.raises(UnknownSchemaId, match="unknown schema id 7"):
        reg.get_schema(7)
    assert fake_registry.requests[-1][3] == "Basic a2V5OnMzY3JldA=="      # base64("key:s3cret")
    assert "s3cret" not in repr(reg)
    codecs = Codecs(reg)
    with pytest.raises(DecodeError, match="event: unknown schema id 7"):
        codecs.decode("event", b"\x00\x00\x00\x00\x07\x00")
    fake_registry.fail_register = True
    with pytest.raises(RegistryError, match=rf"{fake_registry.url}: register subject synsec.events-value: "
                                            "HTTP 500 Error in the backend data store"):
        codecs.encode("event", event_to_record(Event(Line("x"))))
    url = fake_registry.url
    fake_registry.close()
    with pytest.raises(RegistryError, match=f"schema registry {url}: get schema id 8"):
        HttpRegistry(url, timeout=2).get_schema(8)
