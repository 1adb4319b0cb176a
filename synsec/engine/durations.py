"""Go `time.ParseDuration` for the durations CrowdSec content uses (`10s`, `0.5s`, `1h30m`, `4h`)."""

from __future__ import annotations

import re

__all__ = ["parse_duration", "DurationError"]

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


class DurationError(ValueError):
    """Not a Go duration."""


def parse_duration(text) -> float:
    """Seconds in a Go duration string. `0` alone is allowed; a bare number without a unit is not."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        raise DurationError(f"invalid duration {text!r}: missing unit (e.g. '10s')")
    if not isinstance(text, str):
        raise DurationError(f"invalid duration {text!r}: expected a string like '10s'")
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
    return sign * total
