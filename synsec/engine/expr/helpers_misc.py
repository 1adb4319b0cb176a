"""Other CrowdSec helpers: numbers, time, Sprintf, stash, decision counts, LibInjectionIsSQLI/IsXSS
(synsec.engine.expr.libinjection), and the I/O helpers that the pure engine registers as safe constants
(LookupHost, Hostname, GeoIP*); TimeNow gives event time;
CrowdsecCTI asks the ExprContext's lookup, which the runner points at the local community blocklist."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from ..durations import DurationError, parse_duration_with_days
from .builtins import parse_go_duration
from .gofmt import sprintf
from .libinjection import is_sqli, is_xss
from .registry import helper

__all__ = ["distance"]


helper("Sprintf", 1, None, returns="str", pure=True)(sprintf)


@helper("Atof", 1, returns="float", pure=True)
def atof(s) -> float:
    """strconv.ParseFloat; 0 when it does not parse (CrowdSec logs and returns 0)."""
    try:
        return float(s.replace("_", "x")) if s.strip() == s else 0.0
    except ValueError:
        return 0.0


@helper("Distance", 4, returns="float", pure=True)
def distance(lat1, long1, lat2, long2) -> float:
    """Haversine distance in km between two lat/long pairs given as strings; 0 if either is 0,0."""
    a1, o1, a2, o2 = (float(x) for x in (lat1, long1, lat2, long2))
    if (a1 == 0 and o1 == 0) or (a2 == 0 and o2 == 0):
        return 0.0
    p1, p2 = math.radians(a1), math.radians(a2)
    dp, dl = p2 - p1, math.radians(o2 - o1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))      # umahmood/haversine: earth radius 6371 km


def _intervals(name: str, what: str, times) -> list[timedelta]:
    """The gaps between consecutive times once sorted (CrowdSec's Average/MedianInterval input rules)."""
    if not isinstance(times, (list, tuple)):
        raise TypeError(f"{name} expects a slice of times")
    for i, t in enumerate(times):
        if not isinstance(t, datetime):
            raise TypeError(f"element at index {i} is not a time.Time")
    if len(times) < 2:
        raise ValueError(f"need at least two times to calculate {what}")
    ts = sorted(times)
    return [b - a for a, b in zip(ts, ts[1:])]


@helper("AverageInterval", 1, returns="any")
def average_interval(times) -> timedelta:
    """The mean gap between the times (a duration); an error for fewer than two times."""
    gaps = _intervals("AverageInterval", "an average interval", times)
    return sum(gaps, timedelta(0)) / len(gaps)


@helper("MedianInterval", 1, returns="any")
def median_interval(times) -> timedelta:
    """The median gap between the times (a duration); an error for fewer than two times."""
    gaps = sorted(_intervals("MedianInterval", "a median", times))
    mid = len(gaps) // 2
    return gaps[mid] if len(gaps) % 2 else (gaps[mid - 1] + gaps[mid]) / 2


@helper("ToString", 1, returns="str", pure=True)
def to_string(v) -> str:
    return v if v.__class__ is str else ""


@helper("ParseUnix", 1, returns="str", pure=True)
def parse_unix(value) -> str:
    """Unix seconds (fraction ignored) to RFC 3339 UTC; "" when not a positive integer."""
    try:
        i = int(value.split(".")[0], 10)
    except ValueError:
        return ""
    if i <= 0:
        return ""
    return datetime.fromtimestamp(i, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@helper("Get", 2, returns="str", pure=True)
def get_index(arr, index) -> str:
    return arr[index] if index < len(arr) else ""


@helper("FloatApproxEqual", 2, returns="bool", pure=True)
def float_approx_equal(a, b) -> bool:
    return abs(a - b) < 1e-6


@helper("Distinct", 1, returns="list")
def distinct(items):
    """The items without repeats, first occurrences in order (Go map keys: 1, 1.0 and true are distinct; a
    list or map item is an error, as hashing one is in Go); nil when not a list."""
    if not isinstance(items, (list, tuple)):
        return None
    out, seen = [], set()
    for x in items:
        if isinstance(x, (list, dict)):
            raise TypeError(f"Distinct: hash of unhashable type {type(x).__name__}")
        key = (x.__class__, x)
        if key not in seen:
            seen.add(key)
            out.append(x)
    return out


@helper("Flatten", 0, None, returns="list")
def flatten(*items):
    """The arguments with every nested list spliced in, depth first: Flatten(1, [2, [3]]) is [1, 2, 3]."""
    out: list = []
    stack = [iter(items)]
    while stack:
        for x in stack[-1]:
            if isinstance(x, (list, tuple)):
                stack.append(iter(x))
                break
            out.append(x)
        else:
            stack.pop()
    return out


@helper("FlattenDistinct", 0, None, returns="list")
def flatten_distinct(*items):
    """Flatten, then Distinct."""
    return distinct(flatten(*items))


@helper("GetFromStash", 2, returns="str", needs_ctx=True)
def get_from_stash(ctx, cache, key) -> str:
    return ctx.stash.get(cache, key)


@helper("SetInStash", 3, 4, needs_ctx=True)
def set_in_stash(ctx, cache, key, value, expiration=None):
    """Store value; expiration is a Go duration string or timedelta, measured in event time."""
    ttl = None
    if isinstance(expiration, str):
        ttl = parse_go_duration(expiration).total_seconds()
    elif expiration is not None:
        ttl = expiration.total_seconds()
    ctx.stash.set(cache, key, value, ttl)
    return None


@helper("GetDecisionsCount", 1, returns="int", needs_ctx=True)
def get_decisions_count(ctx, value) -> int:
    """Decisions ever taken on `value` (or a range holding it): synsec.engine.history."""
    return ctx.history.count(value) if isinstance(value, str) else 0


@helper("GetDecisionsSinceCount", 2, returns="int", needs_ctx=True)
def get_decisions_since_count(ctx, value, since) -> int:
    """Decisions on `value` taken in the last `since` (a Go duration; `d` days accepted, as CrowdSec's)."""
    seconds = _since_seconds(since)
    if seconds is None or not isinstance(value, str):
        return 0
    return ctx.history.count(value, seconds)


@helper("GetActiveDecisionsCount", 1, returns="int", needs_ctx=True)
def get_active_decisions_count(ctx, value) -> int:
    return ctx.history.active_count(value) if isinstance(value, str) else 0


@helper("GetActiveDecisionsTimeLeft", 1, needs_ctx=True)
def get_active_decisions_time_left(ctx, value) -> timedelta:
    """Time left on the latest active decision on `value` (a duration; 0 without one)."""
    return timedelta(seconds=ctx.history.time_left(value) if isinstance(value, str) else 0.0)


def _since_seconds(since) -> float | None:
    """CrowdSec's ParseDurationWithDays (`7d`, `1d12h`, any Go duration); None when it does not parse."""
    if isinstance(since, timedelta):
        return since.total_seconds()
    try:
        return parse_duration_with_days(since)
    except DurationError:
        return None


# --- helpers that would need the network, a clock or a database: registered, deterministic, no I/O ---
@helper("TimeNow", 0, returns="str", needs_ctx=True)
def time_now(ctx) -> str:
    """The engine's now as RFC 3339 UTC, as CrowdSec formats it: the newest event time, since the pure engine
    reads no clock (so a replay gives what live processing gave; live, it follows the wall clock)."""
    return datetime.fromtimestamp(int(ctx.now), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@helper("Hostname", 0, returns="str")
def hostname() -> str:
    """No host lookup in the pure engine: always ""."""
    return ""


@helper("CrowdsecCTI", 1, needs_ctx=True)
def crowdsec_cti(ctx, ip):
    """CrowdSec's CTI object for `ip` (synsec.engine.cti.SmokeItem), answered by the context's lookup (the
    installation's community blocklist); the empty item of an unknown address when there is none."""
    return ctx.cti(ip if isinstance(ip, str) else "")


@helper("GeoIPEnrich", 1)
def geoip_enrich(ip):
    """GeoIP is an enricher stage in synsec, not an expr call: always nil."""
    return None


@helper("GeoIPASNEnrich", 1)
def geoip_asn_enrich(ip):
    return None


@helper("GeoIPRangeEnrich", 1)
def geoip_range_enrich(ip):
    return None


@helper("LibInjectionIsSQLI", 1, returns="bool", pure=True)
def libinjection_is_sqli(s) -> bool:
    """Whether the text reads as SQL injection (synsec.engine.expr.libinjection)."""
    return isinstance(s, str) and is_sqli(s)


@helper("LibInjectionIsXSS", 1, returns="bool", pure=True)
def libinjection_is_xss(s) -> bool:
    """Whether the text reads as XSS (synsec.engine.expr.libinjection)."""
    return isinstance(s, str) and is_xss(s)
