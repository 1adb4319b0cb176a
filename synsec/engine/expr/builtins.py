"""expr-lang v1.17 builtins (lower-case): len, int, float, string, duration, get, abs, max, min, first, last,
keys, values, and a few list helpers. Durations are `datetime.timedelta` everywhere."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

from .gofmt import go_value
from .registry import helper
from .runtime import attribute

__all__ = ["parse_go_duration", "format_go_duration"]

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_go_duration(text: str) -> timedelta:
    """time.ParseDuration: `1h30m`, `-1.5s`, `300ms`; "0" alone is allowed."""
    sign, body = (-1, text[1:]) if text.startswith("-") else (1, text.removeprefix("+"))
    if body == "0":
        return timedelta(0)
    pos, seconds = 0, 0.0
    for m in _DURATION_PART.finditer(body):
        if m.start() != pos:
            break
        seconds += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    if not body or pos != len(body):
        raise ValueError(f"time: invalid duration {text!r}")
    return timedelta(seconds=sign * seconds)


def format_go_duration(d: timedelta) -> str:
    total = d.total_seconds()
    if total == 0:
        return "0s"
    sign = "-" if total < 0 else ""
    total = abs(total)
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    s_text = f"{s:.9f}".rstrip("0").rstrip(".")
    if h:
        return f"{sign}{int(h)}h{int(m)}m{s_text}s"
    if m:
        return f"{sign}{int(m)}m{s_text}s"
    return f"{sign}{s_text}s"


@helper("len", 1, returns="int", pure=True)
def len_(v) -> int:
    """Length of a list or map; a string's length in UTF-8 bytes, as Go's len."""
    if isinstance(v, str):
        return len(v) if v.isascii() else len(v.encode("utf-8", "surrogateescape"))
    if v is None:
        return 0
    return len(v)


@helper("int", 1, returns="int", pure=True)
def int_(v) -> int:
    if v.__class__ is str:
        return int(v.strip(), 10)
    if isinstance(v, (int, float)) and v.__class__ is not bool:
        return int(v)
    raise TypeError(f"invalid operation: int({type(v).__name__})")


@helper("float", 1, returns="float", pure=True)
def float_(v) -> float:
    if v.__class__ is str or (isinstance(v, (int, float)) and v.__class__ is not bool):
        return float(v)
    raise TypeError(f"invalid operation: float({type(v).__name__})")


@helper("string", 1, returns="str", pure=True)
def string_(v) -> str:
    return v if isinstance(v, str) else go_value(v)


@helper("duration", 1, returns="any", pure=True)
def duration(text) -> timedelta:
    return parse_go_duration(text)


@helper("now", 0)
def now():
    """No clock in the pure engine: the Unix epoch (a safe, deterministic value)."""
    return datetime.fromtimestamp(0, tz=timezone.utc)


@helper("date", 1, 3)
def date(value, layout=None, tz=None):
    """An RFC 3339 / ISO date string (layouts other than the default are not supported)."""
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


@helper("get", 2, returns="any")
def get(coll, key):
    """Safe index: nil instead of an error for a missing key or out-of-range index."""
    if isinstance(coll, dict):
        return coll.get(key)
    if isinstance(coll, (list, tuple, str)) and key.__class__ is int:
        return coll[key] if -len(coll) <= key < len(coll) else None
    if coll is not None and key.__class__ is str:
        try:
            return attribute(coll, key)          # a data field only: no method, no private name
        except (AttributeError, TypeError):
            return None
    return None


@helper("abs", 1, pure=True)
def abs_(v):
    return abs(v)


def _numbers(args):
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        return list(args[0])
    return list(args)


@helper("max", 1, None, pure=True)
def max_(*args):
    return max(_numbers(args))


@helper("min", 1, None, pure=True)
def min_(*args):
    return min(_numbers(args))


@helper("mean", 1, None, returns="float", pure=True)
def mean(*args):
    nums = _numbers(args)
    return sum(nums) / len(nums) if nums else 0.0


@helper("median", 1, None, returns="float", pure=True)
def median(*args):
    nums = sorted(_numbers(args))
    if not nums:
        return 0.0
    mid = len(nums) // 2
    return float(nums[mid]) if len(nums) % 2 else (nums[mid - 1] + nums[mid]) / 2


@helper("first", 1, pure=True)
def first(coll):
    return coll[0] if coll else None


@helper("last", 1, pure=True)
def last(coll):
    return coll[-1] if coll else None


@helper("keys", 1, returns="list")
def keys(mapping):
    return list(mapping.keys())


@helper("values", 1, returns="list")
def values(mapping):
    return list(mapping.values())


@helper("concat", 1, None, returns="list")
def concat(*lists):
    return [x for lst in lists for x in lst]


@helper("flatten", 1, returns="list")
def flatten(coll):
    out = []
    for x in coll:
        out.extend(flatten(x) if isinstance(x, (list, tuple)) else [x])
    return out


@helper("uniq", 1, returns="list")
def uniq(coll):
    out = []
    for x in coll:
        if x not in out:
            out.append(x)
    return out


@helper("reverse", 1, returns="list")
def reverse(coll):
    return list(reversed(coll))


@helper("sort", 1, 2, returns="list")
def sort(coll, order="asc"):
    return sorted(coll, reverse=order == "desc")


@helper("type", 1, returns="str", pure=True)
def type_(v):
    if v is None:
        return "nil"
    return {bool: "bool", int: "int", float: "float", str: "string", list: "array", dict: "map"}.get(
        type(v), "unknown")


@helper("toJSON", 1, returns="str")
def to_json(v):
    return json.dumps(v, ensure_ascii=False, indent=2, default=str)


@helper("fromJSON", 1)
def from_json(text):
    return json.loads(text)
