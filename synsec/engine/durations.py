"""Durations, validated once for every entry point: Go `time.ParseDuration` text (`10s`, `0.5s`, `1h30m`, `4h`)
as CrowdSec content and cscli use it, bounded so that no duration can break what is computed from it.

A duration is a finite number of seconds, at most `MAX_DURATION` (10 years of 365 days: `87600h`) and not
negative unless the caller allows it. `parse_duration` (text) and `check_seconds` (a number) enforce it for
content (profiles, scenarios, stash), API and ccscli input; `bounded_until` is for readers of decisions
written before the bound existed (store rows, decisions-topic records): it never raises.
"""

from __future__ import annotations

import math
import re

from .errors import SynsecError

__all__ = ["parse_duration", "parse_duration_with_days", "check_seconds", "bounded_until", "seconds_text", "DurationError",
           "MAX_DURATION", "MAX_DURATION_TEXT"]

MAX_DURATION = 10 * 365 * 24 * 3600.0      # seconds
MAX_DURATION_TEXT = "87600h"               # the same bound as Go text (10 years of 365 days)
_MAX_TEXT_LEN = 64                         # no real duration is longer; bounds the work per value

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)")   # ASCII digits only


class DurationError(SynsecError, ValueError):
    """Not a Go duration, or one out of range (not finite, negative, above MAX_DURATION)."""


def check_seconds(seconds: float, text: object = None, *, allow_negative: bool = False) -> float:
    """`seconds` as a float if it is finite, within MAX_DURATION and (unless `allow_negative`) >= 0; else
    DurationError naming `text` (the value as given; `seconds` when not given)."""
    shown = seconds if text is None else text
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise DurationError(f"invalid duration {shown!r}: not a number of seconds")
    if not math.isfinite(seconds):
        raise DurationError(f"invalid duration {_short(shown)}: not a finite number")
    if seconds < 0 and not allow_negative:
        raise DurationError(f"invalid duration {_short(shown)}: negative")
    if abs(seconds) > MAX_DURATION:
        raise DurationError(f"invalid duration {_short(shown)}: longer than {MAX_DURATION_TEXT} (10 years)")
    return float(seconds)


def parse_duration(text, *, allow_negative: bool = False) -> float:
    """Seconds in a Go duration string, checked by `check_seconds`. `0` alone is allowed; a bare number
    without a unit is not."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        raise DurationError(f"invalid duration {text!r}: missing unit (e.g. '10s')")
    if not isinstance(text, str):
        raise DurationError(f"invalid duration {text!r}: expected a string like '10s'")
    if len(text) > _MAX_TEXT_LEN:
        raise DurationError(f"invalid duration {_short(text)}: longer than {_MAX_TEXT_LEN} characters")
    s = text.strip()
    sign = 1.0
    if s[:1] in "+-" and s:
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise DurationError(f"invalid duration {text!r}")
    pos, total = 0, 0.0
    while pos < len(s):
        m = _PART.match(s, pos)
        if not m:
            raise DurationError(f"invalid duration {text!r}")
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return check_seconds(sign * total, text, allow_negative=allow_negative)


def parse_duration_with_days(text) -> float:
    """CrowdSec's ParseDurationWithDays: a Go duration, optionally led by whole days (`7d`, `1d12h`)."""
    if isinstance(text, str):
        m = _DAYS.match(text.strip())
        if m:
            rest = text.strip()[m.end():]
            return check_seconds(int(m.group(1)) * 86400.0 + (parse_duration(rest) if rest else 0.0), text)
    return parse_duration(text)


_DAYS = re.compile(r"([0-9]{1,6})d")


def bounded_until(until: object, now: float) -> float | None:
    """An `until` (epoch seconds) read from data written before durations were bounded: None when it is not
    a number (NaN, NULL: the reader skips the decision), else clamped to within MAX_DURATION of `now`
    (an infinite ban becomes a 10-year one). The reader counts both cases: compare the result with `until`."""
    if isinstance(until, bool) or not isinstance(until, (int, float)) or until != until:
        return None
    return min(max(float(until), now - MAX_DURATION), now + MAX_DURATION)


def seconds_text(seconds: float) -> str:
    """A duration as Go text in seconds that `parse_duration` reads back exactly to the nanosecond
    (`14400s`, `0.5s`; never an exponent)."""
    text = f"{seconds:.9f}".rstrip("0").rstrip(".")
    return f"{text}s"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:30]}…({len(text)} chars)"
