"""Decisions typed by a person (ccscli add/import, POST /v1/decisions): validated before anything is stored.

Errors name the entry (`line 3: invalid IP '1.2.3'`) and every entry is checked before any is written.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from dataclasses import dataclass

from connectors.api.model import parse_ip, parse_network
from synsec.engine.durations import DurationError, parse_duration, seconds_text
from synsec.engine.model import Decision
from synsec.engine.errors import SynsecError

__all__ = ["DecisionInput", "InputError", "validate", "parse_import", "parse_json", "DEFAULTS"]

DEFAULTS = {"duration": "4h", "type": "ban", "scope": "Ip", "reason": "manual 'ban' from ccscli",
            "origin": "ccscli"}
_SCOPES = {"ip": "Ip", "range": "Range", "country": "Country", "as": "AS"}
_CUSTOM_SCOPE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")      # no colon: the decisions topic key is scope:value
_MAX_VALUE = 256
_TYPE_OK = set("abcdefghijklmnopqrstuvwxyz0123456789_-")
_MAX_TEXT = 1024                                         # per field: a reason is a sentence, not a file
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")            # would garble logs and ccscli's tables


class InputError(SynsecError, ValueError):
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
        return {"scope": self.scope, "value": self.value, "type": self.type, "duration": seconds_text(self.duration),
                "scenario": self.scenario, "origin": self.origin}


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes | str) -> object:
    """A request body or import file as JSON: UTF-8, no NaN/Infinity, no number of more than 4300 digits, no
    lone surrogate escape (`"\\ud800"`), not nested beyond the interpreter's recursion limit — each an
    InputError, never a crash."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        data = json.loads(text, parse_constant=_no_constant)
        if "\\ud" in text or "\\uD" in text:      # an escaped surrogate: a lone one is no character
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        return data
    except UnicodeEncodeError:
        raise InputError("invalid JSON: a string holds a lone surrogate (\\ud800-\\udfff)") from None
    except UnicodeDecodeError:
        raise InputError("body is not UTF-8") from None
    except RecursionError:
        raise InputError("invalid JSON: nested too deep") from None
    except ValueError as err:       # JSONDecodeError, NaN/Infinity, too many digits
        raise InputError(f"invalid JSON: {str(err)[:200]}") from None


def _text(item: dict, key: str, pre: str, default: str = "") -> str:
    """A string field: absent or null gives `default`; any other type, a control character or more than
    `_MAX_TEXT` characters is an InputError."""
    value = item.get(key)
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        raise InputError(f"{pre}{key} must be a string, got {type(value).__name__}")
    if len(value) > _MAX_TEXT:
        raise InputError(f"{pre}{key} longer than {_MAX_TEXT} characters")
    if _CONTROL.search(value):
        raise InputError(f"{pre}{key} contains a control character")
    return value


def _scope(text: str, pre: str) -> str:
    """Ip, Range, Country, AS (any case), or a custom scope name (kept as given)."""
    scope = _SCOPES.get(text.lower())
    if scope is None and not _CUSTOM_SCOPE.fullmatch(text):
        raise InputError(f"{pre}invalid scope {text[:70]!r} (Ip, Range, Country, AS, or a custom name of "
                         "letters, digits, _ . -)")
    return scope or text


def _value(scope: str, text: str, pre: str) -> str:
    """The canonical text of a value: an Ip or Range (`connectors.api.model.parse_ip`/`parse_network`), a Country
    (ISO 3166 alpha-2, upper case), an AS number (`AS` prefix dropped), or any other scope's text."""
    if scope == "Country":
        if len(text) != 2 or not text.isascii() or not text.isalpha():
            raise InputError(f"{pre}invalid country {text[:70]!r}: two letters (ISO 3166-1 alpha-2)")
        return text.upper()
    if scope == "AS":
        digits = text[2:] if text[:2].upper() == "AS" else text
        if not (digits.isascii() and digits.isdigit() and len(digits) <= 10 and int(digits) <= 4294967295):
            raise InputError(f"{pre}invalid AS number {text[:70]!r}")
        return str(int(digits))
    if scope not in ("Ip", "Range"):
        if len(text) > _MAX_VALUE or any(c.isspace() for c in text):
            raise InputError(f"{pre}invalid {scope} value {text[:70]!r}: at most {_MAX_VALUE} characters, no spaces")
        return text
    try:
        return str(parse_ip(text) if scope == "Ip" else parse_network(text, strict=True))
    except ValueError as err:
        raise InputError(f"{pre}invalid {'IP' if scope == 'Ip' else 'range'} {text!r}: {err}") from None


def validate(item: dict, where: str = "", origin: str = "ccscli") -> DecisionInput:
    """One decision from a mapping with keys value, scope, type, duration, reason|scenario (missing: defaults).
    Every field is a string; durations are bounded by `synsec.engine.durations`."""
    pre = f"{where}: " if where else ""
    if not isinstance(item, dict):
        raise InputError(f"{pre}a decision must be an object")
    unknown = set(item) - {"value", "scope", "type", "duration", "reason", "scenario", "origin"}
    if unknown:
        raise InputError(f"{pre}unknown field(s) {', '.join(sorted(map(str, unknown)))[:200]}")
    value = _text(item, "value", pre).strip()
    if not value:
        raise InputError(f"{pre}missing value")
    scope_text = _text(item, "scope", pre, DEFAULTS["scope"])
    scope = _scope(scope_text, pre)
    value = _value(scope, value, pre)
    dtype = _text(item, "type", pre, DEFAULTS["type"]).strip().lower()
    if not dtype or not set(dtype) <= _TYPE_OK:
        raise InputError(f"{pre}invalid decision type {dtype!r}")
    text = _text(item, "duration", pre, DEFAULTS["duration"])
    try:
        duration = parse_duration(text)
    except DurationError as err:
        raise InputError(f"{pre}{err}") from None
    if duration <= 0:
        raise InputError(f"{pre}duration must be positive, got {text!r}")
    reason = _text(item, "reason", pre) or _text(item, "scenario", pre) or DEFAULTS["reason"]
    return DecisionInput(scope=scope, value=value, type=dtype, duration=duration, scenario=reason,
                         origin=_text(item, "origin", pre, origin))


def parse_import(text: str, fmt: str, defaults: dict) -> list[DecisionInput]:
    """`ccscli decisions import`: json (a list of objects), csv (header row) or values (one per line).
    Every entry is validated; all errors are reported together."""
    items: list[tuple[str, dict]] = []
    if fmt == "json":
        data = parse_json(text)
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
