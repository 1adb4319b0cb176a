"""Parser `method:` enrichers, by CrowdSec name. Each returns a dict merged into `evt.Enriched`.

An enricher is `fn(value: str, evt: Event, ctx: EnrichContext) -> dict[str, str]`. Databases (GeoIP/ASN mmdb
readers) and the reverse-DNS resolver are made by the shell and handed in through `EnrichContext`; the engine
itself opens nothing and sends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from synsec.engine.counters import CounterSet
from synsec.engine.enrichers.dateparse import parse_date
from synsec.engine.enrichers.geoip import geoip_asn, geoip_city, ip_to_range
from synsec.engine.expr.helpers_data import go_json

__all__ = ["EnrichContext", "ENRICHERS", "enricher_names"]


@dataclass
class EnrichContext:
    """What enrichers may read: the replay's reference year, optional mmdb readers, the reverse-DNS resolver,
    the engine's counter set."""

    reference_year: int = 1970
    city_db: Any = None        # maxminddb.Reader-like: .get_with_prefix_len(ip) -> (record, prefixlen)
    asn_db: Any = None
    reverse_dns: Callable[[str], str] | None = None   # ip -> PTR name with its final dot, or "" (assembly.rdns)
    counts: CounterSet = field(default_factory=CounterSet)


def _parse_date(value: str, evt, ctx: EnrichContext) -> dict:
    parsed = parse_date(value, ctx.reference_year, evt.StrTimeFormat)
    if parsed is None:
        ctx.counts.inc("parser_dateparse_failed")     # a ParseDate whose text matched no layout
        return {}
    marshaled, ts = parsed
    evt.ts = ts
    return {"MarshaledTime": marshaled}


def _reverse_dns(value: str, evt, ctx: EnrichContext) -> dict:
    """CrowdSec's reverse_dns: `reverse_dns` is the IP's PTR name (final dot kept); nothing when none is known."""
    name = ctx.reverse_dns(value) if ctx.reverse_dns is not None and value else ""
    return {"reverse_dns": name} if name else {}


def _unmarshal_json(value: str, evt, ctx: EnrichContext) -> dict:
    """CrowdSec's UnmarshalJSON method: the line's raw text (whatever the static's value) decoded into
    `evt.Unmarshaled` (numbers as floats); a line that is not a JSON object leaves it as it was. Enriches nothing."""
    try:
        data = go_json(evt.Line.Raw)
    except ValueError:
        return {}
    if isinstance(data, dict):
        evt.Unmarshaled.update(data)
    return {}


ENRICHERS: dict[str, Callable[[str, Any, EnrichContext], dict]] = {
    "ParseDate": _parse_date,
    "GeoIpCity": geoip_city,
    "GeoIpASN": geoip_asn,
    "IpToRange": ip_to_range,
    "reverse_dns": _reverse_dns,
    "UnmarshalJSON": _unmarshal_json,
}


def enricher_names() -> list[str]:
    return sorted(ENRICHERS)
