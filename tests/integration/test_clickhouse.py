"""The ClickHouse sink against a real ClickHouse server (Debian's clickhouse-server 18.16) on loopback."""

from __future__ import annotations

import calendar
import shutil
import uuid

import pytest

from connectors.clickhouse.client import client_from_url, ensure_database
from connectors.clickhouse.localserver import LocalClickHouse, free_port
from connectors.clickhouse.migrate import FEATURE_PROBES, load_migrations, migrate
from connectors.clickhouse.queries import load_queries
from connectors.clickhouse.sink import ClickHouseSink, SinkBackpressure
from synsec.engine.model import Alert, Decision, Source

pytestmark = pytest.mark.integration

HOUR = 3600
T0 = 1772445600        # 2026-03-02 10:00:00 UTC
MONTH_BEFORE = T0 - 30 * 86400

# (scenario, ip, country, as_number, as_name, start offset in s) — the known data the queries must answer
ALERTS = [
    ("crowdsecurity/ssh-bf", "203.0.113.10", "FR", "64500", "Example-A", 0),
    ("crowdsecurity/ssh-bf", "203.0.113.11", "FR", "64500", "Example-A", 60),
    ("crowdsecurity/ssh-bf", "198.51.100.20", "DE", "64501", "Example-B", HOUR + 5),
    ("crowdsecurity/http-probing", "203.0.113.10", "FR", "64500", "Example-A", HOUR + 10),
    ("crowdsecurity/http-probing", "192.0.2.5", "US", "64502", "Example-C", HOUR + 20),
    ("crowdsecurity/http-crawl", "203.0.113.10", "FR", "64500", "Example-A", 2 * HOUR + 1),
]


def make_alert(scenario, ip, cn, asn, as_name, start, events=3) -> Alert:
    alert = Alert(Scenario=scenario, Source=Source("Ip", ip, ip, "", asn, as_name, cn, 48.85, 2.35),
                  EventsCount=events, StartAt=start + 0.25, StopAt=start + 30.5, Capacity=5, Leakspeed="10s",
                  Events=[{"timestamp": start + i, "meta": {"source_ip": ip, "log_type": "ssh_failed-auth"}}
                          for i in range(events)], Labels={"remediation": "true", "service": "ssh"},
                  Remediation=True, Message=f"Ip {ip} performed '{scenario}' ({events} events)",
                  ScenarioVersion="0.1", ScenarioHash="abc")
    alert.UUID = f"a-{scenario.split('/')[1]}-{ip}-{start}"
    return alert


def known_alerts() -> list[Alert]:
    out = [make_alert(*row[:5], T0 + row[5]) for row in ALERTS]
    out.append(make_alert("crowdsecurity/ssh-bf", "203.0.113.99", "CN", "64999", "Old-AS", MONTH_BEFORE))
    return out


def known_decisions(alerts: list[Alert]) -> list[Decision]:
    out = [Decision("synsec", a.Scenario, "Ip", a.Source.Value, "ban", 4 * HOUR, a.StopAt + 4 * HOUR,
                    id=f"{a.UUID}-0", alert_id=a.UUID) for a in alerts]
    out += [Decision("ccscli", "manual", "Ip", "192.0.2.77", "captcha", HOUR, T0 + 2 * HOUR, id="m-1"),
            Decision("ccscli", "manual", "Range", "192.0.2.0/24", "captcha", HOUR, T0 + 2 * HOUR, id="m-2"),
            Decision("community", "crowdsecurity/ssh-bf", "Ip", "203.0.113.50", "ban", 24 * HOUR,
                     T0 + 24 * HOUR, id="c-1"),
            Decision("synsec", "crowdsecurity/ssh-bf", "Ip", "203.0.113.51", "ban", 4 * HOUR, T0 + 4 * HOUR,
                     simulated=True, id="s-1")]
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if shutil.which("clickhouse-server") is None:
        pytest.fail("clickhouse-server missing: apt-get install -y clickhouse-server (scripts/apt-packages.txt)")
    ch = LocalClickHouse(tmp_path_factory.mktemp("clickhouse")).start()
    yield ch
    ch.stop()


@pytest.fixture
def db(server):
    """A fresh, migrated database on the shared server: (url, client)."""
    url = server.url(f"t_{uuid.uuid4().hex[:10]}")
    ensure_database(url)
    client = client_from_url(url)
    migrate(client)
    yield url, client
    client.disconnect()


def epoch(dt) -> int:
    """Epoch seconds of a naive DateTime the server returned in its time zone (UTC in these servers)."""
    return calendar.timegm(dt.timetuple())


def count(client, table: str, final: bool = True) -> int:
    return client.execute(f"SELECT count() FROM {table}{' FINAL' if final else ''}")[0][0]


def test_migrate_applies_base_ddl_on_18_16(server):
    """On 18.16 migrate creates alerts/decisions/alerts_hourly and skips (without recording) feature migrations."""
    url = server.url("t_migrate")
    ensure_database(url)
    client = client_from_url(url)
    result = migrate(client)
    assert result.server_version.startswith("18.16")
    assert result.applied == ["001_alerts.sql", "002_decisions.sql", "003_alerts_hourly.sql"]
    assert result.features == frozenset()
    assert set(result.skipped) == {m.name for m in load_migrations() if m.requires}
    tables = {r[0] for r in client.execute("SHOW TABLES")}
    assert {"alerts", "decisions", "alerts_hourly", "alerts_hourly_mv", "schema_migrations"} <= tables
    assert not any(t.startswith("_synsec_probe") for t in tables)
    engine, partition, order = client.execute(
        "SELECT engine, partition_key, sorting_key FROM system.tables WHERE database = 't_migrate' "
        "AND name = 'alerts'")[0]
    assert (engine, partition, order) == ("ReplacingMergeTree", "toYYYYMM(start_at)",
                                          "toStartOfHour(start_at), scenario, id")
    recorded = client.execute("SELECT version FROM schema_migrations ORDER BY version")
    assert recorded == [("001",), ("002",), ("003",)]


def test_migrate_is_idempotent(db):
    """A second migrate applies nothing and leaves the tables and the migration log unchanged."""
    _, client = db
    before = [client.execute(f"SHOW CREATE TABLE {t}") for t in ("alerts", "decisions", "alerts_hourly")]
    result = migrate(client)
    assert result.applied == []
    assert [client.execute(f"SHOW CREATE TABLE {t}") for t in ("alerts", "decisions", "alerts_hourly")] == before
    assert count(client, "schema_migrations", final=False) == 3


def test_feature_probes_all_fail_on_18_16(db):
    """Every modern feature the migrator probes for is really missing on 18.16 (so the probes can tell)."""
    from connectors.clickhouse.migrate import detect_features

    _, client = db
    assert detect_features(client) == frozenset()
    assert set(FEATURE_PROBES) == {"ttl", "low_cardinality", "bloom_filter_index", "non_replicated_deduplication"}


def test_sink_flushes_by_size(db):
    """With batch_size=4 nothing is inserted for 3 rows; the 4th makes the batch due and all 4 land."""
    url, client = db
    sink = ClickHouseSink(lambda: client_from_url(url), batch_size=4, max_age_s=3600)
    alerts = known_alerts()
    for a in alerts[:3]:
        sink.add(a)
        assert sink.flush_due() is None
    assert count(client, "alerts") == 0
    sink.add(alerts[3])
    flushed = sink.flush_due()
    assert flushed is not None and flushed.rows == {"alerts": 4}
    assert count(client, "alerts") == 4


def test_sink_flushes_by_age(db):
    """A partial batch is inserted once its oldest row is max_age_s old (injected clock), not before."""
    url, client = db
    now = [100.0]
    sink = ClickHouseSink(lambda: client_from_url(url), batch_size=1000, max_age_s=2.0, clock=lambda: now[0])
    for d in known_decisions(known_alerts())[:3]:
        sink.add(d)
    now[0] += 1.9
    assert sink.flush_due() is None and count(client, "decisions") == 0
    now[0] += 0.2
    flushed = sink.flush_due()
    assert flushed is not None and flushed.rows == {"decisions": 3}
    assert count(client, "decisions") == 3


def test_redelivery_leaves_one_row_per_id(db):
    """Inserting the same alerts and decisions twice leaves one row each under FINAL and after a merge."""
    url, client = db
    alerts = known_alerts()
    decisions = known_decisions(alerts)
    for _ in range(2):
        sink = ClickHouseSink(lambda: client_from_url(url), batch_size=100, max_age_s=60)
        for rec in alerts + decisions:
            sink.add(rec)
        assert sink.flush() is not None
    assert count(client, "alerts", final=False) == 2 * len(alerts)      # both copies were written
    assert count(client, "alerts") == len(alerts)
    assert count(client, "decisions") == len(decisions)
    per_hour = client.execute("SELECT sum(n) FROM (SELECT uniqExactMerge(alerts) AS n FROM alerts_hourly "
                              "GROUP BY hour, scenario)")[0][0]
    assert per_hour == len(alerts)
    client.execute("OPTIMIZE TABLE alerts FINAL")
    client.execute("OPTIMIZE TABLE decisions FINAL")
    assert count(client, "alerts", final=False) == len(alerts)
    assert count(client, "decisions", final=False) == len(decisions)


def test_rows_round_trip(db):
    """An alert's fields, labels and event metas come back as written (times to the second)."""
    url, client = db
    alert = known_alerts()[0]
    sink = ClickHouseSink(lambda: client_from_url(url), batch_size=10, max_age_s=60)
    sink.add(alert)
    sink.flush()
    row = client.execute("SELECT id, scenario, source_ip, source_country, source_as_number, events_count, "
                         "toUnixTimestamp(start_at), toUnixTimestamp(stop_at), labels.key, labels.value, "
                         "length(events.meta), visitParamExtractString(events.meta[1], 'source_ip') "
                         "FROM alerts")[0]
    assert row == (alert.UUID, alert.Scenario, "203.0.113.10", "FR", "64500", 3, T0, T0 + 30,
                   ["remediation", "service"], ["true", "ssh"], 3, "203.0.113.10")


def test_server_down_retries_and_loses_nothing(tmp_path):
    """ClickHouse killed mid-run: flushes fail and back off, add() refuses when full, and after a restart
    every row arrives exactly once with the positions reported for commit."""
    ch = LocalClickHouse(tmp_path).start()
    try:
        url = ch.url("t_down")
        ensure_database(url)
        client = client_from_url(url)
        migrate(client)
        alerts = [make_alert("crowdsecurity/ssh-bf", f"10.0.{i // 250}.{i % 250}", "FR", "1", "A", T0 + i)
                  for i in range(60)]
        sink = ClickHouseSink(lambda: client_from_url(url, connect_timeout=1), batch_size=10, max_age_s=60,
                              max_buffer=40, retry_initial_s=0.05, retry_max_s=0.2)
        for i, a in enumerate(alerts[:10]):
            sink.add(a, ("p0", i))
        assert sink.flush_due().positions == {"p0": 9}
        client.disconnect()
        ch.kill()                                    # a crash, with the sink's connection open
        added = 10
        with pytest.raises(SinkBackpressure):
            for a in alerts[10:]:
                sink.add(a, ("p0", added))
                added += 1
                sink.flush()                         # fails: server down; rows stay buffered
        assert added == 50 and sink.buffered == 40  # refused the 51st instead of dropping anything
        assert sink.stats.failures >= 3 and sink.retrying
        assert sink.flush() is None
        ch.start()
        flushed = sink.flush_blocking(timeout_s=10)
        assert flushed is not None and flushed.positions == {"p0": 49} and flushed.rows == {"alerts": 40}
        for i, a in enumerate(alerts[50:], start=50):
            sink.add(a, ("p0", i))
        assert sink.flush().positions == {"p0": 59}
        assert client.execute("SELECT count(), uniqExact(id) FROM alerts")[0] == (60, 60)
        sink.close()
        client.disconnect()
    finally:
        ch.stop()


def test_closed_port_backs_off_exponentially():
    """Pointed at a closed port the sink keeps every row and doubles its retry delay up to the cap."""
    now = [0.0]
    url = f"clickhouse://127.0.0.1:{free_port()}/default"
    sink = ClickHouseSink(lambda: client_from_url(url, connect_timeout=1), batch_size=2, max_age_s=1,
                          retry_initial_s=1.0, retry_max_s=4.0, clock=lambda: now[0])
    sink.add(known_alerts()[0], ("p", 0))
    sink.add(known_alerts()[1], ("p", 1))
    waits = []
    for _ in range(4):
        assert sink.flush_due() is None
        waits.append(sink._next_try - now[0])
        assert sink.flush_due() is None            # backing off: not even attempted
        now[0] = sink._next_try
    assert waits == [1.0, 2.0, 4.0, 4.0]
    assert sink.stats.failures == 4 and sink.buffered == 2 and "Connection refused" in sink.stats.last_error


@pytest.fixture
def loaded(db):
    url, client = db
    alerts = known_alerts()
    sink = ClickHouseSink(lambda: client_from_url(url), batch_size=100, max_age_s=60)
    for rec in alerts + known_decisions(alerts) + alerts[:3]:     # with redelivered copies
        sink.add(rec)
    assert sink.flush() is not None
    return client


PERIOD = {"start": T0, "end": T0 + 86400}

EXPECTED = {
    "top_scenarios": (dict(PERIOD, limit=2), lambda rows: [r[:4] for r in rows] == [
        ("crowdsecurity/ssh-bf", 3, 3, 9), ("crowdsecurity/http-probing", 2, 2, 6)]),
    "top_source_ips": (dict(PERIOD, limit=2), lambda rows: [r[:6] for r in rows] == [
        ("203.0.113.10", 3, 3, "FR", "64500", "Example-A"), ("192.0.2.5", 1, 1, "US", "64502", "Example-C")]),
    "top_countries": (dict(PERIOD, limit=10), lambda rows: rows == [("FR", 4, 2), ("DE", 1, 1), ("US", 1, 1)]),
    "top_as": (dict(PERIOD, limit=10), lambda rows: rows == [
        ("64500", "Example-A", 4, 2), ("64501", "Example-B", 1, 1), ("64502", "Example-C", 1, 1)]),
    "source_ips_over_time": (dict(PERIOD, step=HOUR, limit=2), lambda rows: [(epoch(r[0]), *r[1:])
                                                                             for r in rows] == [
        (T0, "203.0.113.10", 1), (T0 + HOUR, "192.0.2.5", 1), (T0 + HOUR, "203.0.113.10", 1),
        (T0 + 2 * HOUR, "203.0.113.10", 1)]),
    "countries_over_time": (dict(PERIOD, step=86400, limit=1), lambda rows: [r[1:] for r in rows] == [
        ("FR", 4)]),
    "as_over_time": (dict(PERIOD, step=2 * HOUR, limit=3), lambda rows: [r[1:] for r in rows] == [
        ("64500", 3), ("64501", 1), ("64502", 1), ("64500", 1)]),
    "decisions_by_origin": (PERIOD, lambda rows: rows == [
        ("synsec", "ban", 7, 5, 1, 14400), ("ccscli", "captcha", 2, 2, 0, 3600),
        ("community", "ban", 1, 1, 0, 86400)]),
    "alerts_per_hour": (PERIOD, lambda rows: [(epoch(r[0]), r[1], r[2], r[3]) for r in rows] == [
        (T0, "crowdsecurity/ssh-bf", 2, 2),
        (T0 + HOUR, "crowdsecurity/http-probing", 2, 2), (T0 + HOUR, "crowdsecurity/ssh-bf", 1, 1),
        (T0 + 2 * HOUR, "crowdsecurity/http-crawl", 1, 1)]),
    "source_history": ({"value": "203.0.113.10"}, lambda rows: [(r[1], r[4], r[5], r[6]) for r in rows] == [
        ("crowdsecurity/ssh-bf", "a-ssh-bf-203.0.113.10-%d-0" % T0, "ban", "synsec"),
        ("crowdsecurity/http-probing", "a-http-probing-203.0.113.10-%d-0" % (T0 + HOUR + 10), "ban", "synsec"),
        ("crowdsecurity/http-crawl", "a-http-crawl-203.0.113.10-%d-0" % (T0 + 2 * HOUR + 1), "ban", "synsec")]),
}


def test_every_query_file_has_expected_answers():
    """Each shipped analyst query file is checked by test_analyst_query (no untested query)."""
    assert set(load_queries()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_analyst_query(loaded, name):
    """The shipped query returns the known answer on 18.16 for the known data (redelivered copies ignored)."""
    params, check = EXPECTED[name]
    result = load_queries()[name].run(loaded, **params)
    assert result.rows and check(result.rows), result.rows


def test_no_raw_log_line_is_stored(db):
    """Alerts from replaying the nginx demo log are stored without any raw log line in any column."""
    from pathlib import Path

    from synsec.assembly.build import EngineOptions
    from synsec.runner.replay import replay

    url, client = db
    log = Path(__file__).resolve().parents[1] / "golden" / "demo" / "nginx-demo" / "input.log"
    result = replay([str(log)], {"type": "nginx"}, EngineOptions(), reference_ts=1709287200.0)
    assert result.alerts
    sink = ClickHouseSink(lambda: client_from_url(url), batch_size=1000, max_age_s=60)
    for rec in result.alerts + result.decisions:
        sink.add(rec)
    sink.flush()
    stored = repr(client.execute("SELECT * FROM alerts")) + repr(client.execute("SELECT * FROM decisions"))
    assert count(client, "alerts") == len(result.alerts)
    lines = [ln for ln in log.read_text().splitlines() if ln.strip()]
    assert not [ln for ln in lines if ln in stored or ln.split('"')[1] in stored]   # nor the request line


def test_cli_migrate_and_query(server, loaded):
    """`synsec clickhouse migrate` creates and migrates a database (then has nothing to do); `query` prints JSON."""
    import json

    from click.testing import CliRunner

    from synsec.cli.main import cli

    url = server.url("t_cli")
    first = CliRunner().invoke(cli, ["clickhouse", "migrate", "--url", url, "-o", "json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["applied"] == ["001_alerts.sql", "002_decisions.sql", "003_alerts_hourly.sql"]
    again = CliRunner().invoke(cli, ["clickhouse", "migrate", "--url", url])
    assert again.exit_code == 0 and "nothing to apply" in again.output
    db_url = server.url(loaded.connection.database)
    out = CliRunner().invoke(cli, ["clickhouse", "query", "top_countries", "--url", db_url, "--since", str(T0),
                                   "--until", "2026-03-03T10:00:00Z", "-o", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)[0] == {"country": "FR", "alerts": 4, "sources": 2}
    down = CliRunner().invoke(cli, ["clickhouse", "migrate", "--url", f"clickhouse://127.0.0.1:{free_port()}/x"])
    assert down.exit_code == 1 and "Connection refused" in down.output
