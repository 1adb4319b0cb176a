"""The engine flags are one set: GeoIP and custom-pattern content decides the same in replay and in a worker.

Regression for "synsec worker / up cannot take --geoip-city, --geoip-asn, --patterns-dir": content using GeoIP
or patterns of a --patterns-dir decided differently in Kafka mode (or did not load).
"""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest
from click.testing import CliRunner
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from connectors.kafka.broker import LocalBroker
from synsec.assembly.build import ASN_MMDB, CITY_MMDB
from synsec.cli.main import cli
from synsec.content.loader import default_content_dir
from tests.streams.topology_util import CODECS, Worker, collect, create_topics, produce_lines

FR, OTHER = "203.0.113.5", "198.51.100.7"

GEOIP = """\
name: test/geoip-enrich
description: "as crowdsecurity/geoip-enrich: country and AS of the source IP"
filter: "'source_ip' in evt.Meta"
statics:
  - method: GeoIpCity
    expression: evt.Meta.source_ip
  - meta: IsoCode
    expression: evt.Enriched.IsoCode
  - method: GeoIpASN
    expression: evt.Meta.source_ip
  - meta: ASNNumber
    expression: evt.Enriched.ASNNumber
"""
PATTERN = """\
name: test/ssh-user
description: "the failed user, with a pattern that only a --patterns-dir defines"
filter: "evt.Meta.log_type == 'ssh_failed-auth'"
grok:
  pattern: 'for %{TEST_SSH_USER:failed_user} from'
  apply_on: message
statics:
  - meta: failed_user
    expression: evt.Parsed.failed_user
"""
SCENARIOS = {
    "from-fr": "evt.Meta.IsoCode == 'FR'",
    "from-as64500": "evt.Meta.ASNNumber == '64500'",
    "root-user": "evt.Meta.failed_user == 'root'",
}


def _scenario(name: str, condition: str) -> str:
    return (f"type: leaky\nname: test/{name}\ndescription: \"{condition}\"\n"
            f"filter: \"evt.Meta.log_type == 'ssh_failed-auth' && {condition}\"\n"
            "groupby: evt.Meta.source_ip\ncapacity: 2\nleakspeed: 10s\nblackhole: 1m\n")


@pytest.fixture(scope="module")
def flags(tmp_path_factory) -> list[str]:
    """--config-dir (synsec's content + GeoIP, pattern parsers and scenarios), --data-dir holding the GeoLite2
    databases under CrowdSec's names (no --geoip-* flag), --patterns-dir: the content's patterns plus one that only it defines."""
    root = tmp_path_factory.mktemp("flags")
    cfg, data, pats = root / "cfg", root / "data", root / "patterns"
    shutil.copytree(default_content_dir(), cfg)
    (cfg / "parsers" / "s02-enrich" / "zz-geoip.yaml").write_text(GEOIP)
    (cfg / "parsers" / "s02-enrich" / "zz-pattern.yaml").write_text(PATTERN)
    for name, condition in SCENARIOS.items():
        (cfg / "scenarios" / f"zz-{name}.yaml").write_text(_scenario(name, condition))
    data.mkdir()
    city = MMDBWriter(ip_version=6, database_type="GeoLite2-City", ipv4_compatible=True)
    city.insert_network(IPSet(["203.0.113.0/24"]), {"country": {"iso_code": "FR", "is_in_european_union": True},
                                                    "location": {"latitude": 48.85, "longitude": 2.35}})
    city.to_db_file(str(data / CITY_MMDB))
    asn = MMDBWriter(ip_version=6, database_type="GeoLite2-ASN", ipv4_compatible=True)
    asn.insert_network(IPSet(["203.0.113.0/25"]), {"autonomous_system_number": 64500,
                                                   "autonomous_system_organization": "Example Net"})
    asn.to_db_file(str(data / ASN_MMDB))
    shutil.copytree(cfg / "patterns", pats)        # --patterns-dir replaces the content's patterns/
    (pats / "test").write_text("TEST_SSH_USER [a-z0-9]+\n")
    return ["--config-dir", str(cfg), "--data-dir", str(data), "--patterns-dir", str(pats)]


def _lines() -> list[str]:
    out = []
    for i in range(8):
        for ip, user in ((FR, "root"), (OTHER, "root"), (FR, "admin")):
            out.append(f"Mar  1 08:00:{10 + i:02d} web1 sshd[{100 + i}]: Failed password for {user} from {ip} "
                       f"port {40000 + i} ssh2")
    return out


def _key(scenario: str, source: dict, count: int) -> tuple:
    """(scenario, source, count, country, AS) of an alert: replay's JSON says `country`, the Avro record `cn`."""
    return scenario, source["value"], count, source.get("country", source.get("cn")), source["as_number"]


def test_replay_finds_geolite_in_the_data_dir(flags, tmp_path):
    """replay with --data-dir holding GeoLite2-City/ASN.mmdb enriches (no --geoip-* flag): the FR and AS
    scenarios fire for the FR address only, and the pattern scenario for root."""
    log = tmp_path / "auth.log"
    log.write_text("\n".join(_lines()) + "\n")
    res = CliRunner().invoke(cli, ["replay", str(log), "--type", "syslog", "--no-store", "-o", "json", *flags])
    assert res.exit_code == 0, res.output
    alerts = Counter(_key(a["scenario"], a["source"], a["events_count"]) for a in json.loads(res.stdout)["alerts"]
                     if a["scenario"].startswith("test/"))
    assert {(s, v) for s, v, *_ in alerts} == {("test/from-fr", FR), ("test/from-as64500", FR),
                                              ("test/root-user", FR), ("test/root-user", OTHER)}
    assert all(cn == "FR" and asn == "64500" for s, v, _n, cn, asn in alerts if v == FR)


def test_explain_enriches_with_the_same_flags(flags):
    """ccscli explain with the same flags (--config-dir given to ccscli) shows the country, AS and custom-pattern
    field that replay's scenarios read, and the line enters the three test scenarios."""
    from synsec.cli.ccscli import ccscli

    line = _lines()[0]
    res = CliRunner().invoke(ccscli, [*flags[:2], "explain", "--log", line, "--type", "syslog", "-o", "json",
                                      *flags[2:]])
    assert res.exit_code == 0, res.output
    [item] = json.loads(res.stdout)
    meta = {k: v for st in item["steps"] if st["success"] for k, v in st["meta"].items()}
    assert (meta.get("IsoCode"), meta.get("ASNNumber"), meta.get("failed_user")) == ("FR", "64500", "root"), meta
    assert {b["scenario"] for b in item["buckets"]} >= {f"test/{name}" for name in SCENARIOS}


@pytest.mark.integration
@pytest.mark.slow
def test_worker_decides_as_replay_with_the_same_engine_flags(flags, tmp_path):
    """A worker given replay's --config-dir/--data-dir/--patterns-dir raises replay's GeoIP and pattern alerts."""
    lines = _lines()
    log = tmp_path / "auth.log"
    log.write_text("\n".join(lines) + "\n")
    res = CliRunner().invoke(cli, ["replay", str(log), "--type", "syslog", "--no-store", "-o", "json", *flags])
    expected = Counter(_key(a["scenario"], a["source"], a["events_count"]) for a in json.loads(res.stdout)["alerts"])
    with LocalBroker(log_dir=tmp_path / "tansu") as broker:
        create_topics(broker, "single")
        worker = Worker(broker, "single", tmp_path, args=tuple(flags))
        try:
            produce_lines(broker, lines, "syslog")
            got = collect(broker, ["synsec.alerts"], lambda g: len(g["synsec.alerts"]) >= sum(expected.values()),
                          timeout=120)
        finally:
            worker.stop()
    records = [CODECS.decode("alert", m.value) for m in got["synsec.alerts"]]
    assert Counter(_key(r["scenario"], r["source"], r["events_count"]) for r in records) == expected, worker.tail()
