"""Enrichers: ParseDate layouts without a clock, and GeoIpCity/GeoIpASN/IpToRange on tiny fixture mmdb files."""

from __future__ import annotations

import maxminddb
import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from synsec.engine.enrichers import ENRICHERS, EnrichContext
from synsec.engine.enrichers.dateparse import parse_date
from synsec.engine.model import Event, Line


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
        "IsoCode": "FR", "IsInEU": "true", "Latitude": "48.850000", "Longitude": "2.350000"}     # Go's %f
    assert ENRICHERS["GeoIpASN"]("203.0.113.7", evt, ctx) == {
        "ASNNumber": "64500", "ASNumber": "64500", "ASNOrg": "Example Net"}
    assert ENRICHERS["IpToRange"]("203.0.113.7", evt, ctx) == {"SourceRange": "203.0.113.0/25"}


def test_geoip_unknown_or_invalid(dbs):
    """An invalid IP or a missing database enrich nothing (no crash); a valid IP outside the databases gets the
    fields of Go's empty record, as CrowdSec's GeoIpCity/GeoIpASN give it (IpToRange nothing)."""
    ctx = EnrichContext(city_db=dbs[0], asn_db=dbs[1])
    for value in ("not-an-ip", "", "010.1.2.3"):
        assert ENRICHERS["GeoIpCity"](value, Event(), ctx) == {}
        assert ENRICHERS["GeoIpASN"](value, Event(), ctx) == {}
    assert ENRICHERS["GeoIpCity"]("203.0.113.7", Event(), EnrichContext()) == {}
    assert ENRICHERS["GeoIpCity"]("198.51.100.1", Event(), ctx) == {
        "IsoCode": "", "IsInEU": "false", "Latitude": "0.000000", "Longitude": "0.000000"}
    assert ENRICHERS["GeoIpASN"]("198.51.100.1", Event(), ctx) == {"ASNNumber": "0", "ASNumber": "0", "ASNOrg": ""}
    assert ENRICHERS["IpToRange"]("198.51.100.1", Event(), ctx) == {}


def test_geoip_city_falls_back_to_registered_then_represented_country(tmp_path):
    """A record without a country ISO code takes the registered country's, then the represented country's."""
    city = MMDBWriter(ip_version=6, database_type="GeoIP2-City", ipv4_compatible=True)
    city.insert_network(IPSet(["192.0.2.0/25"]), {"country": {"names": {"en": "?"}},
                                                  "registered_country": {"iso_code": "DE",
                                                                         "is_in_european_union": True}})
    city.insert_network(IPSet(["192.0.2.128/25"]), {"represented_country": {"iso_code": "US"}})
    city.to_db_file(str(tmp_path / "c.mmdb"))
    ctx = EnrichContext(city_db=maxminddb.open_database(str(tmp_path / "c.mmdb")))
    assert [ENRICHERS["GeoIpCity"](ip, Event(), ctx)["IsoCode"] for ip in ("192.0.2.1", "192.0.2.200")] == ["DE", "US"]
    assert ENRICHERS["GeoIpCity"]("192.0.2.1", Event(), ctx)["IsInEU"] == "true"


def test_unmarshal_json_fills_unmarshaled_from_the_raw_line():
    """UnmarshalJSON decodes the line's raw text (not the static's value) into evt.Unmarshaled, numbers as
    floats as Go's interface{} decoding gives them; a line that is not a JSON object changes nothing and fails
    nothing (CrowdSec's unmarshalJSON logs and goes on)."""
    evt = Event(Line('{"foo": "bar", "pouet": 42, "n": {"a": [1, "x"]}}\n'))
    assert ENRICHERS["UnmarshalJSON"]("ignored", evt, EnrichContext()) == {}
    assert evt.Unmarshaled == {"foo": "bar", "pouet": 42.0, "n": {"a": [1.0, "x"]}}
    assert isinstance(evt.Unmarshaled["pouet"], float)
    for raw in ("xxheader VALUE2 trailing stuff", "[1, 2]"):
        evt = Event(Line(raw))
        assert ENRICHERS["UnmarshalJSON"](raw, evt, EnrichContext()) == {} and evt.Unmarshaled == {}


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
