"""CrowdSec's `ParseDate`: the layouts of pkg/parser/enrich_date.go, parsed without a clock.

Yearless syslog dates take the replay's reference year; dates without a zone are UTC. Returns
(MarshaledTime, epoch seconds) or None; MarshaledTime is what Go's `time.MarshalText` writes of the parsed time,
as CrowdSec's ParseDate does: the wall time as written, its fraction without trailing zeros, and its zone
(`Z` for UTC and for none, else `+01:00`); a Unix time is written in UTC to the second (`Format(RFC3339)`).
"""

from __future__ import annotations

import calendar
import re

from synsec.engine.enrichers.golayout import hour_of, layout_regex

__all__ = ["parse_date", "MONTHS"]

MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}

_TZ = r"(?P<tz>Z|[+-]\d{2}:?\d{2})?"
_FRAC = r"(?:[.,](?P<frac>\d{1,9}))?"
_HMS = r"(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?" + _FRAC
_LAYOUTS = [
    # RFC 3339 / ISO 8601 (T or space), optional zone
    re.compile(r"(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?:[T ]" + _HMS + r")?\s*" + _TZ + r"(?:\s+[A-Z]{3,4})?$"),
    # 02/Jan/2006:15:04:05 -0700 (HTTPDATE)
    re.compile(r"(?P<d>\d{1,2})/(?P<b>[A-Za-z]{3})/(?P<y>\d{4}):" + _HMS + r"\s*" + _TZ + "$"),
    # Jan  2 15:04:05 (syslog, yearless) and Jan 2 2006 15:04:05
    re.compile(r"(?:[A-Za-z]{3},?\s+)?(?P<b>[A-Za-z]{3})\s+(?P<d>\d{1,2})(?:\s+(?P<y>\d{4}))?\s+" + _HMS
               + r"(?:\s+(?P<y2>\d{4}))?\s*" + _TZ + "$"),
    # 2006/01/02 15:04:05 (nginx error log), 2006/01/02
    re.compile(r"(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})(?:\s+" + _HMS + r")?\s*" + _TZ + "$"),
    # 01/02/2006 15:04:05
    re.compile(r"(?P<m>\d{2})/(?P<d>\d{2})/(?P<y>\d{4})(?:\s+" + _HMS + r")?\s*" + _TZ + "$"),
    # 02-Jan-2006 15:04:05
    re.compile(r"(?P<d>\d{1,2})-(?P<b>[A-Za-z]{3})-(?P<y>\d{4})(?:\s+" + _HMS + r")?\s*" + _TZ + "$"),
    # Mon Jan 02 15:04:05.000000 2006 (apache error log) handled by layout 3 with y2
]
_UNIX = re.compile(r"(?P<s>\d{9,10})(?:\.(?P<frac>\d{1,9}))?$")
_UNIX_MS = re.compile(r"(?P<ms>\d{13})$")

_cache: dict[tuple[str, int, str], tuple[str, float] | None] = {}


def _tz_offset(tz: str | None) -> int:
    if not tz or tz == "Z":
        return 0
    sign = -1 if tz[0] == "-" else 1
    digits = tz[1:].replace(":", "")
    return sign * (int(digits[:2]) * 3600 + int(digits[2:4]) * 60)


def _from_match(g: dict, reference_year: int) -> tuple[float, str] | None:
    year = g.get("y") or g.get("y2")
    year = int(year) if year else reference_year
    if g.get("b"):
        month = MONTHS.get(g["b"].lower())
        if month is None:
            return None
    else:
        month = int(g["m"])
    day = int(g["d"])
    hour, minute = int(g.get("H") or 0), int(g.get("M") or 0)
    sec = int(g.get("S") or 0)
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and sec < 61):
        return None
    frac = g.get("frac")
    offset = _tz_offset(g.get("tz"))
    ts = calendar.timegm((year, month, day, hour, minute, sec, 0, 0, 0)) - offset
    digits = (frac or "").rstrip("0")
    zone = "Z" if not offset else f"{'-' if offset < 0 else '+'}{abs(offset) // 3600:02d}:{abs(offset) % 3600 // 60:02d}"
    text = (f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{sec:02d}"
            + (f".{digits}" if digits else "") + zone)
    return ts + (int(frac) / 10 ** len(frac) if frac else 0.0), text


def _marshal(ts: float) -> str:
    """A Unix time as CrowdSec writes it: RFC 3339 in UTC, to the second."""
    y, mo, d, h, mi, s = _gmtime(int(ts // 1))
    return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}Z"


def _gmtime(secs: int) -> tuple[int, int, int, int, int, int]:
    days, rem = divmod(secs, 86400)
    h, rem = divmod(rem, 3600)
    mi, s = divmod(rem, 60)
    # civil-from-days (Howard Hinnant), valid for the proleptic Gregorian calendar
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + (m <= 2), m, d, h, mi, s)


def _parse_uncached(text: str, reference_year: int) -> tuple[float, str] | None:
    for layout in _LAYOUTS:
        m = layout.match(text)
        if m:
            found = _from_match(m.groupdict(), reference_year)
            if found is not None:
                return found
    m = _UNIX.match(text)
    if m:
        frac = m.group("frac")
        ts = int(m.group("s")) + (int(frac) / 10 ** len(frac) if frac else 0.0)
        return ts, _marshal(ts)
    m = _UNIX_MS.match(text)
    if m:
        ts = int(m.group("ms")) / 1000.0
        return ts, _marshal(ts)
    return None


def _parse_with_layout(text: str, layout: str, reference_year: int) -> tuple[float, str] | None:
    """`text` read with the Go layout `layout` (the event's StrTimeFormat), or None."""
    regex = layout_regex(layout)
    m = regex.fullmatch(text) if regex is not None else None
    return _from_match(hour_of(m.groupdict()), reference_year) if m else None


def parse_date(text: str, reference_year: int, layout_hint: str = "") -> tuple[str, float] | None:
    """(MarshaledTime, epoch seconds) for a date in any CrowdSec layout, or None. `layout_hint`
    (evt.StrTimeFormat, a Go layout) is tried first, as CrowdSec's ParseDate tries it."""
    key = (text, reference_year, layout_hint)
    hit = _cache.get(key, False)
    if hit is not False:
        return hit
    text = text.strip() if text else ""
    found = _parse_with_layout(text, layout_hint, reference_year) if text and layout_hint else None
    found = found or (_parse_uncached(text, reference_year) if text else None)
    out = None if found is None else (found[1], found[0])
    if len(_cache) > 8192:
        _cache.clear()
    _cache[key] = out
    return out
