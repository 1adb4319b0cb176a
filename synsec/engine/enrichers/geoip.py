"""GeoIpCity, GeoIpASN, IpToRange: CrowdSec's geoip enrichers over mmdb readers handed in by the shell.

As in CrowdSec, a valid IP the City or ASN database does not hold still gets its fields, from the empty record
Go's geoip2 returns (IsoCode "", IsInEU false, coordinates 0.000000; AS number 0); IpToRange gives nothing then."""

from __future__ import annotations

import ipaddress

__all__ = ["geoip_city", "geoip_asn", "ip_to_range"]


def _lookup(db, value: str):
    if db is None or not value:
        return None, 0
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return None, 0
    try:
        return db.get_with_prefix_len(value)
    except (ValueError, TypeError):
        return None, 0


def _record(db, value: str) -> dict | None:
    """The database's record for a valid IP ({} when it holds none, as Go's empty record), None for an invalid
    IP or no database."""
    if db is None or not value:
        return None
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return None
    record, _ = _lookup(db, value)
    return record if isinstance(record, dict) else {}


def geoip_city(value: str, evt, ctx) -> dict:
    """Country ISO code (country, else registered, else represented country), EU membership, coordinates with
    Go's %f (GeoLite2-City/Country layout)."""
    record = _record(ctx.city_db, value)
    if record is None:
        return {}
    country = next((c for c in (record.get(k) for k in ("country", "registered_country", "represented_country"))
                    if isinstance(c, dict) and c.get("iso_code")), {})
    loc = record.get("location") or {}
    return {"IsoCode": str(country.get("iso_code", "")),
            "IsInEU": "true" if country.get("is_in_european_union") else "false",
            "Latitude": f"{float(loc.get('latitude') or 0.0):f}",
            "Longitude": f"{float(loc.get('longitude') or 0.0):f}"}


def geoip_asn(value: str, evt, ctx) -> dict:
    """AS number and organisation (GeoLite2-ASN layout)."""
    record = _record(ctx.asn_db, value)
    if record is None:
        return {}
    num = str(int(record.get("autonomous_system_number") or 0))
    return {"ASNNumber": num, "ASNumber": num, "ASNOrg": str(record.get("autonomous_system_organization", ""))}


def ip_to_range(value: str, evt, ctx) -> dict:
    """The network the ASN database holds the IP in (`SourceRange`)."""
    record, prefix = _lookup(ctx.asn_db, value)
    if not record:
        return {}
    net = ipaddress.ip_network(f"{value}/{prefix}", strict=False)
    return {"SourceRange": str(net)}
