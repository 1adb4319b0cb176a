"""Decisions typed by a person (ccscli add/import, POST /v1/decisions): validated before anything is stored.

Errors name the entry (`line 3: invalid IP '1.2.3'`) and every entry is checked before any is written.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import uuid
from dataclasses import dataclass

from synsec.engine.durations import DurationError, parse_duration
from synsec.engine.model import Decision

__all__ = ["DecisionInput", "InputError", "validate", "parse_import", "DEFAULTS"]

DEFAULTS = {"duration": "4h", "type": "ban", "scope": "Ip", "reason": "manual 'ban' from ccscli",
            "origin": "ccscli"}
_SCOPES = {"ip": "Ip", "range": "Range"}
_TYPE_OK = set("abcdefghijklmnopqrstuvwxyz0123456789_-")


class InputError(ValueError):
    """A decision a person gave is invalid; the message says which and why."""


@dataclass(frozen=True)
class DecisionInput:
    scope: str
    value: str
    type: str
    duration: float
    scenario: str
    origin: str

    def to_decision(self) -> Decision:
        return Decision(origin=self.origin, scenario=self.scenario, scope=self.scope, value=self.value,
                        type=self.type, duration=self.duration, until=0.0, id=str(uuid.uuid4()))

    def to_dict(self) -> dict:
        return {"scope": self.scope, "value": self.value, "type": self.type, "duration": f"{self.duration:g}s",
                "scenario": self.scenario, "origin": self.origin}


def validate(item: dict, where: str = "", origin: str = "ccscli") -> DecisionInput:
    """One decision from a mapping with keys value, scope, type, duration, reason|scenario (missing: defaults)."""
    pre = f"{where}: " if where else ""
    unknown = set(item) - {"value", "scope", "type", "duration", "reason", "scenario", "origin"}
    if unknown:
        raise InputError(f"{pre}unknown field(s) {', '.join(sorted(unknown))}")
    value = str(item.get("value") or "").strip()
    if not value:
        raise InputError(f"{pre}missing value")
    scope_text = str(item.get("scope") or DEFAULTS["scope"])
    scope = _SCOPES.get(scope_text.lower())
    if scope is None:
        raise InputError(f"{pre}unsupported scope {scope_text!r} (Ip or Range)")
    if scope == "Ip":
        try:
            value = str(ipaddress.ip_address(value))
        except ValueError:
            raise InputError(f"{pre}invalid IP {value!r}") from None
    else:
        try:
            net = ipaddress.ip_network(value, strict=True)
        except ValueError as err:
            raise InputError(f"{pre}invalid range {value!r}: {err}") from None
        value = str(net)
    dtype = str(item.get("type") or DEFAULTS["type"]).strip().lower()
    if not dtype or not set(dtype) <= _TYPE_OK:
        raise InputError(f"{pre}invalid decision type {dtype!r}")
    try:
        duration = parse_duration(str(item.get("duration") or DEFAULTS["duration"]))
    except DurationError as err:
        raise InputError(f"{pre}{err}") from None
    if duration <= 0:
        raise InputError(f"{pre}duration must be positive, got {item.get('duration')!r}")
    reason = str(item.get("reason") or item.get("scenario") or DEFAULTS["reason"])
    return DecisionInput(scope=scope, value=value, type=dtype, duration=duration, scenario=reason,
                         origin=str(item.get("origin") or origin))


def parse_import(text: str, fmt: str, defaults: dict) -> list[DecisionInput]:
    """`ccscli decisions import`: json (a list of objects), csv (header row) or values (one per line).
    Every entry is validated; all errors are reported together."""
    items: list[tuple[str, dict]] = []
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise InputError(f"invalid JSON: {err}") from None
        if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
            raise InputError("JSON import must be a list of objects")
        items = [(f"entry {i + 1}", x) for i, x in enumerate(data)]
    elif fmt == "csv":
        reader = csv.DictReader(io.StringIO(text))
        items = [(f"line {i + 2}", {k.strip(): (v or "").strip() for k, v in row.items() if k and v})
                 for i, row in enumerate(reader)]
    elif fmt == "values":
        items = [(f"line {i + 1}", {"value": ln.strip()}) for i, ln in enumerate(text.splitlines())
                 if ln.strip() and not ln.lstrip().startswith("#")]
    else:
        raise InputError(f"unknown format {fmt!r} (json, csv, values)")
    out, errors = [], []
    for where, item in items:
        try:
            out.append(validate({**defaults, **{k: v for k, v in item.items() if v not in (None, "")}}, where))
        except InputError as err:
            errors.append(str(err))
    if errors:
        raise InputError("; ".join(errors[:20]) + (f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""))
    if not out:
        raise InputError("nothing to import")
    return out
