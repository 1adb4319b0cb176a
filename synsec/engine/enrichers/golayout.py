"""Go `time.Parse` layouts (`evt.StrTimeFormat`, e.g. "01/02/2006, 3:04:05 PM") turned into regexes once.

A layout becomes one anchored regex whose named groups are those the date parser reads (y, m or b, d, H, M, S,
frac, tz); `I` and `p` carry a 12-hour clock. As in Go, a fraction of a second may follow the seconds even when
the layout does not show one, and a zone abbreviation (MST) reads as UTC.
"""

from __future__ import annotations

import re

__all__ = ["layout_regex", "hour_of"]

_TZ = r"(?P<tz>[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)"
_TOKENS = [   # longest first where one is a prefix of another
    ("January", r"(?P<bl>[A-Za-z]{3,9})"), ("Monday", r"[A-Za-z]{6,9}"), ("2006", r"(?P<y>\d{4})"),
    ("-07:00:00", _TZ), ("-07:00", _TZ), ("-0700", _TZ), ("-07", _TZ),
    ("Z07:00:00", r"(?:Z|" + _TZ + ")"), ("Z07:00", r"(?:Z|" + _TZ + ")"), ("Z0700", r"(?:Z|" + _TZ + ")"),
    ("Z07", r"(?:Z|" + _TZ + ")"),
    ("Jan", r"(?P<b>[A-Za-z]{3})"), ("Mon", r"[A-Za-z]{3}"), ("MST", r"(?:[A-Z]{3,5}|[+-]\d{2,4})"),
    ("01", r"(?P<m>\d{2})"), ("02", r"(?P<d>\d{2})"), ("03", r"(?P<I>\d{2})"), ("04", r"(?P<M>\d{2})"),
    ("05", r"(?P<S>\d{2})"), ("06", r"(?P<yy>\d{2})"), ("_2", r" ?(?P<d>\d{1,2})"), ("15", r"(?P<H>\d{1,2})"),
    ("PM", r"(?P<p>AM|PM)"), ("pm", r"(?P<p>am|pm)"),
    ("1", r"(?P<m>\d{1,2})"), ("2", r"(?P<d>\d{1,2})"), ("3", r"(?P<I>\d{1,2})"), ("4", r"(?P<M>\d{1,2})"),
    ("5", r"(?P<S>\d{1,2})"),
]
_FRACTION = re.compile(r"[.,](0+|9+)(?![0-9])")
_OPTIONAL_FRACTION = r"(?:[.,](?P<frac>\d{1,9}))?"
_cache: dict[str, re.Pattern | None] = {}


def _compile(layout: str) -> re.Pattern | None:
    out, seen, i = [], set(), 0
    while i < len(layout):
        frac = _FRACTION.match(layout, i)
        if frac and "S" in seen and "frac" not in seen:
            out.append(r"[.,](?P<frac>\d{1,9})" if frac.group(1)[0] == "0" else _OPTIONAL_FRACTION)
            seen.add("frac")
            i = frac.end()
            continue
        for token, pattern in _TOKENS:
            if layout.startswith(token, i):
                names = set(re.findall(r"\?P<(\w+)>", pattern))
                if names & seen:
                    return None            # a field twice: not a layout synsec reads
                seen |= names
                out.append(pattern)
                if "S" in names and not _FRACTION.match(layout, i + len(token)):
                    out.append(_OPTIONAL_FRACTION)       # Go reads a fraction after the seconds anyway
                    seen.add("frac")
                i += len(token)
                break
        else:
            out.append(re.escape(layout[i]))
            i += 1
    if not {"d"} <= seen or not ({"m", "b", "bl"} & seen):
        return None
    return re.compile("".join(out))


def layout_regex(layout: str) -> re.Pattern | None:
    """The regex of a Go layout (None when the layout names no day and month), compiled once."""
    if layout not in _cache:
        if len(_cache) > 256:
            _cache.clear()
        _cache[layout] = _compile(layout[:200])
    return _cache[layout]


def hour_of(groups: dict) -> dict:
    """The groups with a 12-hour clock, a two-digit year and a full month name made plain (H, y, b)."""
    g = dict(groups)
    if g.get("I") is not None:
        hour = int(g["I"]) % 12 + (12 if (g.get("p") or "").lower() == "pm" else 0)
        g["H"] = str(hour)
    if g.get("yy") is not None:
        yy = int(g["yy"])
        g["y"] = str(1900 + yy if yy >= 69 else 2000 + yy)
    if g.get("bl"):
        g["b"] = g["bl"][:3]
    return g
