"""Where an event comes from, as CrowdSec's `SourceFromEvent` (pkg/leakybucket/overflows.go) computes it.

Computed once per pour and kept in the queue entry as tuples
`(scope, value, ip, range, as_number, as_name, cn, latitude, longitude)`, or as a str saying why the event has
no valid source (CrowdSec's NewAlert fails on such a queue, and so does ours).
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

from synsec.engine.model import OVFLW

__all__ = ["event_sources", "source_tuple"]


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}").fullmatch


def _valid_ip(text: str) -> bool:
    """Go's net.ParseIP: dotted quads without leading zeros, or IPv6 (no zone)."""
    return _IPV4(text) is not None or _valid_ipv6(text)


@lru_cache(maxsize=65536)
def _valid_ipv6(text: str) -> bool:
    if ":" not in text:
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return "%" not in text          # Go's net.ParseIP rejects zones


@lru_cache(maxsize=16384)
def _network(text: str) -> str | None:
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        return None


_ENRICHED_KEYS = frozenset(("ASNumber", "ASNNumber", "ASNOrg", "IsoCode", "Latitude", "Longitude", "SourceRange"))


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def _scope_value(spec, evt) -> str:
    value = spec.scope_expr(evt)
    return value if isinstance(value, str) else ""


def event_sources(spec, evt):
    """Sources of one event for this scenario's scope, or an error message."""
    try:
        if evt.Type == OVFLW:
            return _overflow_sources(spec, evt)
        return _log_sources(spec, evt)
    except Exception as err:       # a failing scope expression: the alert will fail, as in CrowdSec
        return f"while running scope filter: {err}"


def _log_sources(spec, evt):
    scope = spec.scope_type
    if scope not in ("Ip", "Range"):
        if spec.scope_expr is None:
            return "empty scope information"
        return ((scope, _scope_value(spec, evt), "", "", "", "", "", 0.0, 0.0),)
    meta, enriched = evt.Meta, evt.Enriched
    ip = meta.get("source_ip")
    if ip is None:
        return f"scope is {scope} but Meta[source_ip] doesn't exist"
    if not _valid_ip(ip):
        return f"scope is {scope} but '{ip}' isn't a valid ip"
    if _ENRICHED_KEYS.isdisjoint(enriched):     # no GeoIP/range enrichment: what the gets below would give
        asn = org = cn = ""
        lat = lon = None
        declared = meta.get("SourceRange") or ""
    else:
        asn = enriched.get("ASNumber")
        if asn is None:
            asn = enriched.get("ASNNumber", "")
        org, cn = enriched.get("ASNOrg", ""), enriched.get("IsoCode", "")
        lat, lon = enriched.get("Latitude"), enriched.get("Longitude")
        declared = meta.get("SourceRange") or enriched.get("SourceRange") or ""
    rng = ""
    if declared:
        rng = _network(declared)
        if rng is None:
            return f"declared range {declared} of {ip} can't be parsed"
    if scope == "Ip":
        value = ip
    else:
        value = _scope_value(spec, evt) if spec.scope_expr is not None else rng
    return ((scope, value, ip, rng, asn, org, cn, _float(lat) if lat else 0.0, _float(lon) if lon else 0.0),)


def _overflow_sources(spec, evt):
    """An overflow poured again (`reprocess`): keep its sources, or widen Ip sources to their Range."""
    out = []
    sources = evt.Overflow.Sources if evt.Overflow is not None else {}
    for value, src in sources.items():
        if src.Scope == spec.scope_type:
            out.append(source_tuple(src, value))
        elif spec.scope_type == "Range" and src.Scope == "Ip":
            new = src.Range
            if spec.scope_expr is not None:
                new = _scope_value(spec, evt)
            if new:
                out.append(("Range", new, "", src.Range, src.AsNumber, src.AsName, src.Cn,
                            src.Latitude, src.Longitude))
    return tuple(out)


def source_tuple(src, value: str | None = None) -> tuple:
    return (src.Scope, src.Value if value is None else value, src.IP, src.Range, src.AsNumber, src.AsName,
            src.Cn, src.Latitude, src.Longitude)
