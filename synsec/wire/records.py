"""Engine objects ⇄ Avro records (plain dicts shaped like `schemas/*.avsc`). Pure functions, exact round trip.

`record_to_event(event_to_record(evt))` behaves like `evt` in the engine: the string maps come back as
`StrMap`s, an overflow comes back as a `RuntimeAlert` holding `Alert`/`Source`/`Decision` objects, and a
bucket state comes back equal to the one written (queue `meta` as `StrMap`, as the live state holds it).

Two encodings are not one-to-one, and are documented in the schemas:
- `Event.Unmarshaled` travels as one JSON object text (it holds JSON-decoded values);
- `Alert.Labels` values travel JSON-encoded (YAML labels hold booleans, numbers and lists).
Both raise `EncodeError` for a value JSON cannot hold, rather than changing it.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from synsec.engine.buckets.state import BucketState
from synsec.engine.model import LOG, OVFLW, Alert, Decision, Event, Line, RuntimeAlert, Source, StrMap
from synsec.wire.codecs import EncodeError, origin_record

__all__ = [
    "DeadLetter",
    "event_to_record", "record_to_event", "alert_to_record", "record_to_alert",
    "decision_to_record", "record_to_decision", "decision_key", "parse_decision_key",
    "bucket_state_to_record", "record_to_bucket_state", "bucket_in_to_record", "record_to_bucket_in",
    "bucket_in_origin",
    "dead_letter_to_record", "record_to_dead_letter",
    "Signal", "signal_of_alert", "signal_key", "signal_to_record", "record_to_signal",
]

_TYPES = {LOG: "LOG", OVFLW: "OVFLW"}
_TYPE_CODES = {name: code for code, name in _TYPES.items()}


def _json(value, what: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as err:
        raise EncodeError(f"{what}: not JSON-encodable: {err}") from err


# --- Source, Decision, Alert -----------------------------------------------------------------------------
def _source_to_record(src: Source) -> dict:
    return {"scope": src.Scope, "value": src.Value, "ip": src.IP, "range": src.Range, "as_number": src.AsNumber,
            "as_name": src.AsName, "cn": src.Cn, "latitude": src.Latitude, "longitude": src.Longitude}


def _record_to_source(rec: dict) -> Source:
    return Source(rec["scope"], rec["value"], rec["ip"], rec["range"], rec["as_number"], rec["as_name"],
                  rec["cn"], rec["latitude"], rec["longitude"])


def decision_to_record(d: Decision) -> dict:
    return {"id": d.id, "alert_id": d.alert_id, "origin": d.origin, "scenario": d.scenario, "scope": d.scope,
            "value": d.value, "type": d.type, "duration": d.duration, "until": d.until, "simulated": d.simulated}


def record_to_decision(rec: dict) -> Decision:
    return Decision(origin=rec["origin"], scenario=rec["scenario"], scope=rec["scope"], value=rec["value"],
                    type=rec["type"], duration=rec["duration"], until=rec["until"], simulated=rec["simulated"],
                    id=rec["id"], alert_id=rec["alert_id"])


def decision_key(d: Decision) -> bytes:
    """The decisions-topic message key: UTF-8 `scope:value`."""
    return d.key.encode("utf-8")


def parse_decision_key(key: bytes | None) -> tuple[str, str] | None:
    """`b"Ip:192.0.2.7"` → ("Ip", "192.0.2.7"); IPv6 values keep their colons. None when not `scope:value`."""
    if not key:
        return None
    try:
        text = key.decode("utf-8")
    except UnicodeDecodeError:
        return None
    scope, sep, value = text.partition(":")
    if not sep or not scope or not value:
        return None
    return scope, value


def alert_to_record(a: Alert) -> dict:
    return {
        "uuid": a.UUID, "scenario": a.Scenario, "scenario_version": a.ScenarioVersion,
        "scenario_hash": a.ScenarioHash, "message": a.Message, "source": _source_to_record(a.Source),
        "events_count": a.EventsCount, "start_at": a.StartAt, "stop_at": a.StopAt,
        "events": [{"timestamp": e["timestamp"], "meta": e["meta"]} for e in a.Events],
        "labels": {k: _json(v, f"alert {a.Scenario}: labels.{k}") for k, v in a.Labels.items()},
        "remediation": a.Remediation, "simulated": a.Simulated, "capacity": a.Capacity,
        "leakspeed": a.Leakspeed, "meta": a.Meta, "decisions": [decision_to_record(d) for d in a.Decisions],
    }


def record_to_alert(rec: dict) -> Alert:
    return Alert(
        Scenario=rec["scenario"], Source=_record_to_source(rec["source"]), EventsCount=rec["events_count"],
        StartAt=rec["start_at"], StopAt=rec["stop_at"],
        Events=[{"timestamp": e["timestamp"], "meta": e["meta"]} for e in rec["events"]],
        Labels={k: json.loads(v) for k, v in rec["labels"].items()}, Remediation=rec["remediation"],
        Simulated=rec["simulated"], Capacity=rec["capacity"], Leakspeed=rec["leakspeed"],
        ScenarioVersion=rec["scenario_version"], ScenarioHash=rec["scenario_hash"], Message=rec["message"],
        Meta=rec["meta"], Decisions=[record_to_decision(d) for d in rec["decisions"]], UUID=rec["uuid"])


# --- Event -----------------------------------------------------------------------------------------------
def _runtime_alert_to_record(ra: RuntimeAlert) -> dict:
    return {"alert": alert_to_record(ra.Alert),
            "sources": {k: _source_to_record(s) for k, s in ra.Sources.items()},
            "reprocess": ra.Reprocess, "mapkey": ra.Mapkey, "bucket_id": ra.BucketId,
            "whitelisted": ra.Whitelisted, "reason": ra.Reason}


def _record_to_runtime_alert(rec: dict) -> RuntimeAlert:
    return RuntimeAlert(Alert=record_to_alert(rec["alert"]),
                        Sources={k: _record_to_source(s) for k, s in rec["sources"].items()},
                        Reprocess=rec["reprocess"], Mapkey=rec["mapkey"], BucketId=rec["bucket_id"],
                        Whitelisted=rec["whitelisted"], Reason=rec["reason"])


def event_to_record(evt: Event) -> dict:
    line = evt.Line
    if evt.Type not in _TYPES:
        raise EncodeError(f"event: Type {evt.Type!r} is neither LOG ({LOG}) nor OVFLW ({OVFLW})")
    return {
        "type": _TYPES[evt.Type], "expect_mode": evt.ExpectMode,
        "line": {"raw": line.Raw, "src": line.Src, "labels": line.Labels, "module": line.Module,
                 "time": line.Time, "process": line.Process},
        "parsed": evt.Parsed, "meta": evt.Meta, "enriched": evt.Enriched,
        "unmarshaled": _json(evt.Unmarshaled, "event Unmarshaled") if evt.Unmarshaled else "{}",
        "ts": evt.ts, "str_time": evt.StrTime, "str_time_format": evt.StrTimeFormat,
        "marshaled_time": evt.MarshaledTime, "whitelisted": evt.Whitelisted,
        "whitelist_reason": evt.WhitelistReason, "stage": evt.Stage, "process": evt.Process,
        "overflow": None if evt.Overflow is None else _runtime_alert_to_record(evt.Overflow),
    }


def record_to_event(rec: dict) -> Event:
    lrec = rec["line"]
    line = Line(lrec["raw"], lrec["src"], lrec["labels"], lrec["module"], lrec["time"])
    line.Process = lrec["process"]
    evt = Event(line, _TYPE_CODES[rec["type"]])
    evt.ExpectMode = rec["expect_mode"]
    evt.Parsed = StrMap(rec["parsed"])
    evt.Meta = StrMap(rec["meta"])
    evt.Enriched = StrMap(rec["enriched"])
    evt.Unmarshaled = json.loads(rec["unmarshaled"])
    evt.ts = rec["ts"]
    evt.StrTime = rec["str_time"]
    evt.StrTimeFormat = rec["str_time_format"]
    evt.MarshaledTime = rec["marshaled_time"]
    evt.Whitelisted = rec["whitelisted"]
    evt.WhitelistReason = rec["whitelist_reason"]
    evt.Stage = rec["stage"]
    evt.Process = rec["process"]
    if rec["overflow"] is not None:
        evt.Overflow = _record_to_runtime_alert(rec["overflow"])
    return evt


def bucket_in_to_record(scenario: str, key: str, evt: Event, origin: tuple[int, int, int] | None = None) -> dict:
    return {"scenario": scenario, "key": key, "event": event_to_record(evt), "origin": origin_record(origin)}


def record_to_bucket_in(rec: dict) -> tuple[str, str, Event]:
    """(scenario, key, event) of a synsec.buckets-in record."""
    return rec["scenario"], rec["key"], record_to_event(rec["event"])


def bucket_in_origin(rec: dict) -> tuple[int, int, int] | None:
    """(partition, offset, index) where the router read a synsec.buckets-in record's event; None if unknown."""
    o = rec.get("origin")
    return None if o is None else (o["partition"], o["offset"], o["index"])


# --- BucketState -----------------------------------------------------------------------------------------
def _entry_to_record(entry: tuple) -> dict:
    ts, meta, srcs, extra = entry
    return {
        "ts": ts, "meta": meta,
        "sources": srcs if isinstance(srcs, str) else [_source_to_record(Source(*s)) for s in srcs],
        "extra": None if extra is None else {"parsed": extra[0], "enriched": extra[1]},
    }


def _record_to_entry(rec: dict) -> tuple:
    srcs = rec["sources"]
    if not isinstance(srcs, str):
        srcs = tuple((s["scope"], s["value"], s["ip"], s["range"], s["as_number"], s["as_name"], s["cn"],
                      s["latitude"], s["longitude"]) for s in srcs)
    extra = rec["extra"]
    return (rec["ts"], None if rec["meta"] is None else StrMap(rec["meta"]), srcs,
            None if extra is None else (extra["parsed"], extra["enriched"]))


def bucket_state_to_record(state: BucketState) -> dict:
    return {"first_ts": state.first_ts, "last_ts": state.last_ts, "tat": state.tat, "count": state.count,
            "queue": [_entry_to_record(e) for e in state.queue], "distinct": sorted(state.distinct),
            "bh_until": state.bh_until, "flags": state.flags}


def record_to_bucket_state(rec: dict) -> BucketState:
    return BucketState(rec["first_ts"], rec["last_ts"], rec["tat"], rec["count"],
                       tuple(_record_to_entry(e) for e in rec["queue"]), frozenset(rec["distinct"]),
                       rec["bh_until"], rec["flags"])


# --- dead letters ----------------------------------------------------------------------------------------
class DeadLetter(NamedTuple):
    """A message an agent gave up on, with where it came from (value of synsec.deadletter)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    error: str
    timestamp: int = 0        # the source message's Kafka timestamp, ms since the epoch
    agent: str = ""


def dead_letter_to_record(dl: DeadLetter) -> dict:
    return dl._asdict()


def record_to_dead_letter(rec: dict) -> DeadLetter:
    return DeadLetter(rec["topic"], rec["partition"], rec["offset"], rec["key"], rec["value"], rec["error"],
                      rec["timestamp"], rec["agent"])


# --- signals (the crowd, DESIGN §4) ------------------------------------------------------------------------
class Signal(NamedTuple):
    """One installation's report of one alert to the crowd (value of synsec.signals)."""

    installation_id: str
    scenario: str
    source: Source
    timestamp: float                 # the alert's stop_at: event time, epoch seconds UTC
    alert_id: str = ""
    scenario_version: str = ""
    scenario_hash: str = ""
    start_at: float = 0.0
    events_count: int = 0
    simulated: bool = False
    labels: dict = {}


def signal_of_alert(alert: Alert, installation_id: str, labels: dict | None = None) -> Signal:
    """The signal an installation publishes for one of its alerts."""
    return Signal(installation_id=installation_id, scenario=alert.Scenario, source=alert.Source,
                  timestamp=alert.StopAt, alert_id=alert.UUID, scenario_version=alert.ScenarioVersion,
                  scenario_hash=alert.ScenarioHash, start_at=alert.StartAt, events_count=alert.EventsCount,
                  simulated=alert.Simulated, labels=dict(labels or {}))


def signal_key(signal: Signal) -> bytes:
    """The synsec.signals message key: the UTF-8 source IP (the source value when there is no IP)."""
    return (signal.source.IP or signal.source.Value).encode("utf-8")


def signal_to_record(signal: Signal) -> dict:
    return signal._asdict() | {"source": _source_to_record(signal.source), "labels": dict(signal.labels)}


def record_to_signal(rec: dict) -> Signal:
    return Signal(**(rec | {"source": _record_to_source(rec["source"])}))
