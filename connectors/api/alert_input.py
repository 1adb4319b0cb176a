"""Alerts pushed by a machine (`POST /v1/alerts`, CrowdSec's `models.Alert` as 1.4.x agents send them), validated
strictly into engine `Alert`s before anything is stored: unknown keys, wrong types, missing required fields,
bad times, addresses that are not addresses, control characters and oversized fields or lists are each an
InputError naming the alert and the field (a 400); a batch over `MAX_ALERTS` is an `Oversize` (a 413).

Decisions an alert carries (CrowdSec's `cscli decisions add` sends them that way) are validated as ccscli's
(`connectors.api.inputs.validate`); an alert without them gets the profiles' decisions.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone

from connectors.api.inputs import InputError, validate
from connectors.api.model import parse_ip, parse_network
from synsec.engine.model import Alert, Decision, Source
from synsec.engine.profiles import alert_id

__all__ = ["parse_alerts", "Oversize", "PushedAlert", "MAX_ALERTS", "MAX_EVENTS"]

MAX_ALERTS = 5000         # per request
MAX_EVENTS = 1000         # per alert (a bucket's capacity of events; CrowdSec keeps at most that many)
MAX_META = 64             # key/value pairs per event or alert
MAX_DECISIONS = 100       # per alert
_MAX = {"scenario": 256, "scenario_hash": 128, "scenario_version": 64, "message": 4096, "leakspeed": 64,
        "key": 128, "value": 4096, "label": 256, "source": 256, "machine_id": 128, "uuid": 64}
_ALERT_KEYS = {"id", "uuid", "machine_id", "created_at", "scenario", "scenario_hash", "scenario_version", "message",
               "events_count", "start_at", "stop_at", "capacity", "leakspeed", "simulated", "events", "remediation",
               "decisions", "source", "meta", "labels"}
_REQUIRED = ("scenario", "scenario_hash", "scenario_version", "message", "events_count", "start_at", "stop_at",
             "capacity", "leakspeed", "simulated", "events", "source")
_SOURCE_KEYS = {"scope", "value", "ip", "range", "as_number", "as_name", "cn", "latitude", "longitude"}
_DECISION_KEYS = {"id", "uuid", "origin", "type", "scope", "value", "duration", "until", "scenario", "simulated"}
_INT32 = 2 ** 31 - 1
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class Oversize(InputError):
    """A batch larger than the API takes: a 413."""


class PushedAlert:
    """One validated alert: the engine `Alert` and the decisions it carried (None: let the profiles decide)."""

    __slots__ = ("alert", "decisions")

    def __init__(self, alert: Alert, decisions: list[Decision] | None):
        self.alert, self.decisions = alert, decisions


def _text(obj: dict, key: str, where: str, *, required: bool = False, limit: int | None = None,
          escape: bool = False) -> str:
    """A string field; `escape`: control characters (a tab in a logged User-Agent) shown as `\\xNN` rather than
    refused, so one odd log line does not make an agent retry its batch for ever."""
    value = obj.get(key)
    if value is None:
        if required:
            raise InputError(f"{where}: missing {key}")
        return ""
    if not isinstance(value, str):
        raise InputError(f"{where}: {key} must be a string, got {type(value).__name__}")
    limit = limit or _MAX.get(key, 1024)
    if len(value) > limit:
        raise InputError(f"{where}: {key} longer than {limit} characters")
    if escape:
        value = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    if _CONTROL.search(value):
        raise InputError(f"{where}: {key} contains a control character")
    return value


def _int(obj: dict, key: str, where: str, lo: int = 0) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= _INT32:
        raise InputError(f"{where}: {key} must be an integer between {lo} and {_INT32}")
    return value


def _bool(obj: dict, key: str, where: str) -> bool:
    value = obj.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InputError(f"{where}: {key} must be true or false")
    return value


def _time(text: str, where: str, key: str) -> float:
    """RFC 3339 (Go's `time.MarshalText`: nanoseconds, Z or an offset) as epoch seconds."""
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"{where}: {key} {text[:40]!r} is not an RFC 3339 time") from None
    if dt.tzinfo is None:
        raise InputError(f"{where}: {key} {text[:40]!r} has no time zone")
    return dt.astimezone(timezone.utc).timestamp()


def _object(value, where: str, keys: set[str]) -> dict:
    if not isinstance(value, dict):
        raise InputError(f"{where} must be an object")
    unknown = sorted(map(str, set(value) - keys))
    if unknown:
        raise InputError(f"{where}: unknown field(s) {', '.join(unknown)[:200]}")
    return value


def _list(value, where: str, limit: int) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(f"{where} must be a list")
    if len(value) > limit:
        raise InputError(f"{where}: more than {limit} entries")
    return value


def _meta(value, where: str) -> dict[str, str]:
    out = {}
    for i, item in enumerate(_list(value, where, MAX_META)):
        item = _object(item, f"{where}[{i}]", {"key", "value"})
        out[_text(item, "key", f"{where}[{i}]", required=True)] = _text(item, "value", f"{where}[{i}]", escape=True)
    return out


def _source(value, where: str) -> Source:
    where = f"{where}: source"
    src = _object(value, where, _SOURCE_KEYS)
    scope = _text(src, "scope", where, required=True, limit=64)
    text = _text(src, "value", where, required=True, limit=_MAX["source"]).strip()
    if not scope or not text:
        raise InputError(f"{where}: scope and value must not be empty")
    ip = _text(src, "ip", where, limit=64)
    rng = _text(src, "range", where, limit=64)
    try:
        if scope.lower() == "ip":
            scope, text = "Ip", str(parse_ip(text))
        elif scope.lower() == "range":
            scope, text = "Range", str(parse_network(text, strict=False))
        ip = str(parse_ip(ip)) if ip else (text if scope == "Ip" else "")
        rng = str(parse_network(rng, strict=False)) if rng else ""
    except ValueError as err:
        raise InputError(f"{where}: {str(err)[:120]}") from None
    coords = []
    for key in ("latitude", "longitude"):
        v = src.get(key, 0.0)
        if v is None:
            v = 0.0
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or abs(v) > 180:
            raise InputError(f"{where}: {key} must be a number between -180 and 180")
        coords.append(float(v))
    return Source(Scope=scope, Value=text, IP=ip, Range=rng, AsNumber=_text(src, "as_number", where, limit=32),
                  AsName=_text(src, "as_name", where, limit=256), Cn=_text(src, "cn", where, limit=8),
                  Latitude=coords[0], Longitude=coords[1])


def _decisions(value, where: str, alert: Alert) -> list[Decision] | None:
    items = _list(value, f"{where}: decisions", MAX_DECISIONS)
    if not items:
        return None
    out = []
    for i, item in enumerate(items):
        d = _object(item, f"{where}: decision {i + 1}", _DECISION_KEYS)
        given = {k: d[k] for k in ("value", "scope", "type", "duration", "scenario", "origin") if d.get(k) is not None}
        inp = validate({**given, "origin": given.get("origin") or "ccscli",
                        "scenario": given.get("scenario") or alert.Scenario}, f"{where}: decision {i + 1}")
        out.append(Decision(origin=inp.origin, scenario=inp.scenario, scope=inp.scope, value=inp.value,
                            type=inp.type, duration=inp.duration, until=0.0, simulated=alert.Simulated,
                            id=f"{alert.UUID}-{i}", alert_id=alert.UUID))
    return out


def _alert(item, where: str) -> PushedAlert:
    a = _object(item, where, _ALERT_KEYS)
    missing = [k for k in _REQUIRED if a.get(k) is None]
    if missing:
        raise InputError(f"{where}: missing {', '.join(missing)}")
    for key in ("id", "machine_id", "created_at", "uuid"):     # read-only in CrowdSec's model: ignored
        if key in a and key != "id":
            _text(a, key, where, limit=_MAX.get(key, 64))
    scenario = _text(a, "scenario", where, required=True)
    if not scenario:
        raise InputError(f"{where}: scenario must not be empty")
    start = _time(_text(a, "start_at", where, required=True, limit=64), where, "start_at")
    stop = _time(_text(a, "stop_at", where, required=True, limit=64), where, "stop_at")
    if stop < start:
        raise InputError(f"{where}: stop_at is before start_at")
    events = []
    for i, ev in enumerate(_list(a.get("events"), f"{where}: events", MAX_EVENTS)):
        ev = _object(ev, f"{where}: events[{i}]", {"timestamp", "meta"})
        ts = _text(ev, "timestamp", f"{where}: events[{i}]", limit=64)
        events.append({"timestamp": _time(ts, f"{where}: events[{i}]", "timestamp") if ts else stop,
                       "meta": _meta(ev.get("meta"), f"{where}: events[{i}].meta")})
    labels = [_text({"label": x}, "label", f"{where}: labels") for x in _list(a.get("labels"), f"{where}: labels",
                                                                           MAX_META)]
    alert = Alert(Scenario=scenario, Source=_source(a.get("source"), where),
                  EventsCount=_int(a, "events_count", where), StartAt=start, StopAt=stop, Events=events,
                  Labels=dict.fromkeys(labels, "true"), Remediation=_bool(a, "remediation", where),
                  Simulated=_bool(a, "simulated", where), Capacity=_int(a, "capacity", where, lo=-1),
                  Leakspeed=_text(a, "leakspeed", where), ScenarioVersion=_text(a, "scenario_version", where),
                  ScenarioHash=_text(a, "scenario_hash", where), Message=_text(a, "message", where, escape=True),
                  Meta=_meta(a.get("meta"), f"{where}: meta"))
    alert.UUID = alert_id(alert)
    return PushedAlert(alert, _decisions(a.get("decisions"), where, alert))


def parse_alerts(body: object) -> list[PushedAlert]:
    """The alerts of a `POST /v1/alerts` body (a JSON list of alert objects)."""
    if not isinstance(body, list) or not body:
        raise InputError("body must be a non-empty JSON list of alerts")
    if len(body) > MAX_ALERTS:
        raise Oversize(f"more than {MAX_ALERTS} alerts in one request: send them in smaller batches")
    return [_alert(item, f"alert {i + 1}") for i, item in enumerate(body)]
