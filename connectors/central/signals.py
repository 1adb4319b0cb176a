"""Strict validation of `POST /v2/signals` and `POST /v3/signals` bodies: a signal keeps only what a signal may
carry.

Accepted keys, by version: v2, those CrowdSec 1.4.6's `models.AddSignalsRequestItem` sends, plus `events_count`
and `uuid` (synsec's); v3, also what the current swagger's `AddSignalsRequestItem` adds (`alert_id`, `kind`,
`context`, `decisions`). Any other key, a wrong type, a bad address or an oversized value is an InputError (a
400) naming the signal and the field, and the whole batch is refused. What is kept: machine id, scenario
name/hash/version, source (scope and value/IP/range), start/stop/created timestamps, events count and the
signal's `uuid` (central's resend dedupe: connectors/central/dedupe.py). `message`, `scenario_trust`, the
source's geo fields and v3's `alert_id`, `kind`, `context` and `decisions` are checked and dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from connectors.api.inputs import InputError
from connectors.api.model import parse_ip, parse_network
from synsec.engine.expr.helpers_net import canonical_ipv4

__all__ = ["Signal", "parse_signals", "MAX_SIGNALS", "VERSIONS"]

MAX_SIGNALS = 1000          # per request; 1.4.6 sends batches of 50
_MAX_TEXT = 256
_MAX_CONTEXT = 4096         # a context value (CrowdSec truncates its own to 4,000)
_MAX_ITEMS = 100           # context pairs and decisions per signal (checked, then dropped)
_V2_KEYS = frozenset({"machine_id", "scenario", "scenario_hash", "scenario_version", "source", "start_at", "stop_at",
                      "created_at", "events_count", "message", "scenario_trust", "uuid"})
VERSIONS = {"v2": _V2_KEYS, "v3": _V2_KEYS | {"alert_id", "kind", "context", "decisions"}}
_DECISION_TEXT = ("duration", "uuid", "scenario", "origin", "scope", "until", "type", "value")
_UUID = re.compile(r"[0-9A-Za-z-]{1,64}")
_SOURCE_KEYS = {"scope", "value", "ip", "range", "as_name", "as_number", "cn", "latitude", "longitude"}
_REQUIRED = ("scenario", "source", "start_at", "stop_at")
_NAME = re.compile(r"[A-Za-z0-9_./:@+-]{1,256}")
_HASH = re.compile(r"[0-9a-fA-F]{0,128}")
_RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:?[0-9]{2})?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_TIMES: dict[str, bool] = {}         # RFC 3339 texts already checked (a batch repeats them); bounded


@dataclass(frozen=True)
class Signal:
    machine_id: str
    scenario: str
    scenario_hash: str
    scenario_version: str
    scope: str
    value: str
    start_at: str
    stop_at: str
    created_at: str
    events_count: int | None
    uuid: str = ""          # the installation's id of the signal ("" when it sent none)


def _text(item: dict, key: str, pre: str, *, required: bool = False) -> str:
    value = item.get(key)
    if value is None or value == "":
        if required:
            raise InputError(f"{pre}{key} is required")
        return ""
    if not isinstance(value, str):
        raise InputError(f"{pre}{key} must be a string, got {type(value).__name__}")
    if len(value) > _MAX_TEXT or _CONTROL.search(value):
        raise InputError(f"{pre}{key}: longer than {_MAX_TEXT} characters or has control characters")
    return value


def _time(item: dict, key: str, pre: str, required: bool) -> str:
    text = _text(item, key, pre, required=required)
    if text and text not in _TIMES:
        try:
            if not _RFC3339.fullmatch(text):
                raise ValueError(text)
            datetime(int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]),
                     int(text[17:19]))
        except ValueError:
            raise InputError(f"{pre}{key}: {text[:40]!r} is not an RFC 3339 time") from None
        if len(_TIMES) >= 10_000:
            _TIMES.clear()
        _TIMES[text] = True
    return text


def _source(src, pre: str) -> tuple[str, str]:
    if not isinstance(src, dict):
        raise InputError(f"{pre}source must be an object")
    unknown = sorted(set(src) - _SOURCE_KEYS)
    if unknown:
        raise InputError(f"{pre}source: unknown key(s) {unknown[:5]}")
    for k in ("as_name", "as_number", "cn"):
        _text(src, k, f"{pre}source.")
    for k in ("latitude", "longitude"):
        if not isinstance(src.get(k, 0), (int, float)) or isinstance(src.get(k), bool):
            raise InputError(f"{pre}source.{k} must be a number")
    scope = _text(src, "scope", f"{pre}source.", required=True)
    value = _text(src, "value", f"{pre}source.") or _text(src, "ip", f"{pre}source.") \
        or _text(src, "range", f"{pre}source.")
    try:
        if scope.lower() == "ip":
            return "Ip", value if canonical_ipv4(value) is not None else str(parse_ip(value))
        if scope.lower() == "range":
            return "Range", str(parse_network(value, strict=False))
    except ValueError:
        raise InputError(f"{pre}source: {value[:60]!r} is not a valid {scope}") from None
    raise InputError(f"{pre}source.scope must be Ip or Range, got {scope[:40]!r}")


def _integer(item: dict, key: str, pre: str) -> int | None:
    value = item.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2 ** 63):
        raise InputError(f"{pre}{key} must be an integer in [0, 2^63)")
    return value


def _objects(item: dict, key: str, pre: str) -> list[dict]:
    value = item.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > _MAX_ITEMS or not all(isinstance(x, dict) for x in value):
        raise InputError(f"{pre}{key} must be a list of at most {_MAX_ITEMS} objects")
    return value


def _v3_extras(item: dict, pre: str) -> None:
    """v3's `alert_id`, `kind`, `context` and `decisions`: checked, never kept (central stores no context)."""
    _integer(item, "alert_id", pre), _text(item, "kind", pre)
    for i, pair in enumerate(_objects(item, "context", pre)):
        where = f"{pre}context[{i}]."
        if set(pair) - {"key", "value"}:
            raise InputError(f"{where[:-1]}: unknown key(s) {sorted(set(pair) - {'key', 'value'})[:5]}")
        _text(pair, "key", where)
        if not isinstance(pair.get("value", ""), str) or len(pair.get("value", "")) > _MAX_CONTEXT:
            raise InputError(f"{where}value must be a string of at most {_MAX_CONTEXT} characters")
    for i, dec in enumerate(_objects(item, "decisions", pre)):
        where = f"{pre}decisions[{i}]."
        unknown = sorted(set(dec) - set(_DECISION_TEXT) - {"id", "simulated"})
        if unknown:
            raise InputError(f"{where[:-1]}: unknown key(s) {unknown[:5]}")
        for key in _DECISION_TEXT:
            _text(dec, key, where)
        _integer(dec, "id", where)
        if not isinstance(dec.get("simulated", False), bool):
            raise InputError(f"{where}simulated must be true or false")


def _signal(item, pre: str, keys: frozenset[str]) -> Signal:
    if not isinstance(item, dict):
        raise InputError(f"{pre}must be an object")
    unknown = sorted(set(item) - keys)
    if unknown:
        raise InputError(f"{pre}unknown key(s) {unknown[:5]}")
    _text(item, "message", pre), _text(item, "scenario_trust", pre)
    uuid = _text(item, "uuid", pre)
    if uuid and not _UUID.fullmatch(uuid):
        raise InputError(f"{pre}uuid must be 1-64 characters of 0-9 A-Z a-z -")
    if "context" in keys:
        _v3_extras(item, pre)
    scenario = _text(item, "scenario", pre, required=True)
    if not _NAME.fullmatch(scenario):
        raise InputError(f"{pre}scenario: {scenario[:60]!r} is not a scenario name")
    digest = _text(item, "scenario_hash", pre)
    if not _HASH.fullmatch(digest):
        raise InputError(f"{pre}scenario_hash must be hexadecimal")
    count = item.get("events_count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or not 0 <= count < 2 ** 31):
        raise InputError(f"{pre}events_count must be an integer in [0, 2^31)")
    scope, value = _source(item.get("source"), pre)
    return Signal(machine_id=_text(item, "machine_id", pre), scenario=scenario, scenario_hash=digest,
                  scenario_version=_text(item, "scenario_version", pre), scope=scope, value=value,
                  start_at=_time(item, "start_at", pre, True), stop_at=_time(item, "stop_at", pre, True),
                  created_at=_time(item, "created_at", pre, False), events_count=count, uuid=uuid)


def parse_signals(body, version: str = "v2") -> list[Signal]:
    """A decoded JSON body as signals of a CAPI version ("v2", "v3"); InputError naming the first bad one."""
    if not isinstance(body, list) or not body:
        raise InputError("body must be a non-empty JSON list of signals")
    if len(body) > MAX_SIGNALS:
        raise InputError(f"at most {MAX_SIGNALS} signals per request")
    keys = VERSIONS[version]
    return [_signal(x, f"signal {i + 1}: ", keys) for i, x in enumerate(body)]
