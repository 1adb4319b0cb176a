"""Enrichers: ParseDate layouts without a clock, and GeoIpCity/GeoIpASN/IpToRange on tiny fixture mmdb files."""

from __future__ import annotations

import maxminddb
import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from synsec.engine.enrichers import ENRICHERS, EnrichContext
from synsec.engine.enrichers.dateparse import parse_date
from synsec.engine.model import Event


@pytest.mark.parametrize("text,expected", [
    ("10/Oct/2000:13:55:36 -0700", "2000-10-10T13:55:36-07:00"),      # Go's MarshalText: the zone as written
    ("10/Oct/2000:13:55:36 +0000", "2000-10-10T13:55:36Z"),
    ("Nov  2 10:00:01", "2026-11-02T10:00:01Z"),
    ("2026-11-22T10:00:01.5+01:00", "2026-11-22T10:00:01.5+01:00"),
    ("2023-04-06T09:05:54.9910Z", "2023-04-06T09:05:54.991Z"),        # the fraction without trailing zeros
    ("2026/11/22 10:00:01", "2026-11-22T10:00:01Z"),
    ("Mon Nov 22 10:00:01.123456 2026", "2026-11-22T10:00:01.123456Z"),
    ("1700000000", "2023-11-14T22:13:20Z"),
    ("1700000000.25", "2023-11-14T22:13:20Z"),                          # Format(RFC3339): to the second
])
def test_parse_date_layouts(text, expected):
    """CrowdSec's date layouts give MarshaledTime as Go writes it (zone and fraction as parsed); yearless syslog
    dates take the reference year."""
    assert parse_date(text, 2026)[0] == expected


def test_parse_date_rejects_garbage():
    """Text that is no date gives None (the line keeps no timestamp and is counted)."""
    assert parse_date("not a date", 2026) is None and parse_date("Foo 99 99:99:99", 2026) is None


@pytest.fixture(scope="module")
def dbs(tmp_path_factory):
    d = tmp_path_factory.mktemp("mmdb")
    city = MMDBWriter(ip_version=6, database_type="GeoIP2-City", ipv4_compatible=True)
    city.insert_network(IPSet(["203.0.113.0/24"]), {"country": {"iso_code": "FR", "is_in_european_union": True},
                                                    "location": {"latitude": 48.85, "longitude": 2.35}})
    city.to_db_file(str(d / "city.mmdb"))
    asn = MMDBWriter(ip_version=6, database_type="GeoLite2-ASN", ipv4_compatible=True)
    asn.insert_network(IPSet(["203.0.113.0/25"]), {"autonomous_system_number": 64500,
                                                   "autonomous_system_organization": "Example Net"})
    asn.to_db_file(str(d / "asn.mmdb"))
    return maxminddb.open_database(str(d / "city.mmdb")), maxminddb.open_database(str(d / "asn.mmdb"))


def test_geoip_enrichers(dbs):
    """GeoIpCity/GeoIpASN/IpToRange fill IsoCode, coordinates, AS number/org and the ASN network."""
    ctx = EnrichContext(city_db=dbs[0], asn_db=dbs[1])
    evt = Event()
    assert ENRICHERS["GeoIpCity"]("203.0.113.7", evt, ctx) == {
        "IsoCode": "FR", "IsInEU": "true", "Latitude": "48.85", "Longitude": "2.35"}
    assert ENRICHERS["GeoIpASN"]("203.0.113.7", evt, ctx) == {
        "ASNNumber": "64500", "ASNumber": "64500", "ASNOrg": "Example Net"}
    assert ENRICHERS["IpToRange"]("203.0.113.7", evt, ctx) == {"SourceRange": "203.0.113.0/25"}


def test_geoip_unknown_or_invalid(dbs):
    """An IP outside the databases, an invalid IP or a missing database enrich nothing (no crash)."""
    ctx = EnrichContext(city_db=dbs[0], asn_db=dbs[1])
    for value in ("198.51.100.1", "not-an-ip", ""):
        assert ENRICHERS["GeoIpCity"](value, Event(), ctx) == {}
        assert ENRICHERS["GeoIpASN"](value, Event(), ctx) == {}
    assert ENRICHERS["GeoIpCity"]("203.0.113.7", Event(), EnrichContext()) == {}


@pytest.mark.parametrize("text,layout,expected", [
    ("08/02/2023, 7:32:47 PM", "01/02/2006, 3:04:05 PM", "2023-08-02T19:32:47Z"),
    ("0613 10:22:21.684962", "0102 15:04:05", "2026-06-13T10:22:21.684962Z"),     # no year: the reference year
    ("221128 14:49:17", "060102 15:04:05", "2022-11-28T14:49:17Z"),
    ("2023-04-06 09:05:54.991-0700", "2006-01-02 15:04:05.000-0700", "2023-04-06T09:05:54.991-07:00"),
    ("Mon Nov  2 10:00:01 2026", "Mon Jan _2 15:04:05 2006", "2026-11-02T10:00:01Z"),
    ("2023-04-06 09:05:54,123456789", "2006-01-02 15:04:05,999999999", "2023-04-06T09:05:54.123456789Z"),
    ("2026-11-22T10:00:01+01:00", "01/02/2006", "2026-11-22T10:00:01+01:00"),    # layout fails: the usual ones
])
def test_parse_date_with_the_events_go_layout(text, layout, expected):
    """evt.StrTimeFormat (a Go layout) is tried first, as CrowdSec's ParseDate does."""
    assert parse_date(text, 2026, layout)[0] == expected
