"""GeoIpCity, GeoIpASN, IpToRange: CrowdSec's geoip enrichers over mmdb readers handed in by the shell."""

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


def geoip_city(value: str, evt, ctx) -> dict:
    """Country ISO code, EU membership, coordinates (GeoLite2-City/Country layout)."""
    record, _ = _lookup(ctx.city_db, value)
    if not record:
        return {}
    country = record.get("country") or record.get("registered_country") or {}
    out = {"IsoCode": str(country.get("iso_code", "")),
           "IsInEU": "true" if country.get("is_in_european_union") else "false"}
    loc = record.get("location") or {}
    if "latitude" in loc:
        out["Latitude"] = repr(float(loc["latitude"]))
        out["Longitude"] = repr(float(loc.get("longitude", 0.0)))
    return out


def geoip_asn(value: str, evt, ctx) -> dict:
    """AS number and organisation (GeoLite2-ASN layout)."""
    record, _ = _lookup(ctx.asn_db, value)
    if not record:
        return {}
    num = str(record.get("autonomous_system_number", ""))
    return {"ASNNumber": num, "ASNumber": num, "ASNOrg": str(record.get("autonomous_system_organization", ""))}


def ip_to_range(value: str, evt, ctx) -> dict:
    """The network the ASN database holds the IP in (`SourceRange`)."""
    record, prefix = _lookup(ctx.asn_db, value)
    if not record:
        return {}
    net = ipaddress.ip_network(f"{value}/{prefix}", strict=False)
    return {"SourceRange": str(net)}
