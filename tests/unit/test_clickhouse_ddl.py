"""The ClickHouse DDL and queries on current ClickHouse (in-process chDB): the modern migration path."""

from __future__ import annotations

import shutil

import pytest

from connectors.clickhouse.client import ChdbClient, parse_url
from connectors.clickhouse.migrate import FEATURE_PROBES, SCHEMA_DIR, MigrationError, load_migrations, migrate
from connectors.clickhouse.queries import QueryError, load_queries
from connectors.clickhouse.sink import ClickHouseSink
from tests.integration.test_clickhouse import EXPECTED, known_alerts, known_decisions


@pytest.fixture
def chdb(tmp_path):
    client = ChdbClient(str(tmp_path / "chdb"), database="synsec")
    yield client
    client.close()


def test_modern_ddl_is_accepted_by_current_clickhouse(chdb):
    """On current ClickHouse every migration applies: TTL, LowCardinality, bloom indexes, insert dedup."""
    result = migrate(chdb, retention_days=90)
    assert result.applied == [m.name for m in load_migrations()] and result.skipped == {}
    assert result.features == {"ttl", "low_cardinality", "bloom_filter_index", "non_replicated_deduplication"}
    alerts = chdb.execute("SHOW CREATE TABLE alerts")[0][0]
    assert "TTL start_at + toIntervalDay(90)" in alerts
    assert "`source_country` LowCardinality(String)" in alerts
    assert "INDEX idx_source_value source_value TYPE bloom_filter" in alerts
    assert "non_replicated_deduplication_window = 1000" in alerts
    assert "TTL until + toIntervalDay(90)" in chdb.execute("SHOW CREATE TABLE decisions")[0][0]
    assert "TTL hour + toIntervalDay(90)" in chdb.execute("SHOW CREATE TABLE alerts_hourly")[0][0]


def test_migrate_twice_applies_nothing(chdb):
    """A second run on current ClickHouse applies nothing and records each migration once."""
    migrate(chdb)
    assert migrate(chdb).applied == []
    assert chdb.execute("SELECT count() FROM schema_migrations")[0][0] == len(load_migrations())


def test_skipped_migration_applies_after_upgrade(chdb, monkeypatch, tmp_path):
    """A migration skipped for a missing feature is not recorded, so a later run (server upgraded) applies it."""
    monkeypatch.setitem(FEATURE_PROBES, "ttl", "CREATE TABLE {t} (d NoSuchType) ENGINE = Memory")
    first = migrate(chdb)
    assert first.skipped == {"101_ttl.sql": ("ttl",)} and "101_ttl.sql" not in first.applied
    assert "TTL" not in chdb.execute("SHOW CREATE TABLE alerts")[0][0]
    monkeypatch.undo()
    assert migrate(chdb).applied == ["101_ttl.sql"]
    assert "TTL start_at" in chdb.execute("SHOW CREATE TABLE alerts")[0][0]


def test_changed_applied_migration_is_an_error(chdb, tmp_path):
    """Editing a migration after it was applied makes migrate fail naming the file."""
    schema = tmp_path / "schema"
    shutil.copytree(SCHEMA_DIR, schema, ignore=shutil.ignore_patterns("queries"))
    migrate(chdb, schema_dir=schema)
    path = schema / "002_decisions.sql"
    path.write_text(path.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match="002_decisions.sql: changed after it was applied"):
        migrate(chdb, schema_dir=schema)


def test_bad_migration_names_file_and_statement(chdb, tmp_path):
    """A failing statement raises MigrationError naming the file and the statement number."""
    (tmp_path / "001_ok.sql").write_text("CREATE TABLE IF NOT EXISTS t1 (a UInt8) ENGINE = Memory")
    (tmp_path / "002_bad.sql").write_text("CREATE TABLE t2 (a UInt8) ENGINE = Memory;\nCREATE TABLE oops (")
    with pytest.raises(MigrationError, match="002_bad.sql: statement 2"):
        migrate(chdb, schema_dir=tmp_path)
    assert [r[0] for r in chdb.execute("SELECT version FROM schema_migrations")] == ["001"]


def test_unknown_feature_is_a_load_error(tmp_path):
    """A '-- requires:' naming a feature with no probe is rejected at load."""
    (tmp_path / "001_x.sql").write_text("-- requires: time_travel\nSELECT 1")
    with pytest.raises(MigrationError, match="time_travel"):
        load_migrations(tmp_path)


@pytest.fixture
def loaded(chdb):
    migrate(chdb)
    alerts = known_alerts()
    sink = ClickHouseSink(lambda: chdb, batch_size=100, max_age_s=60)
    for rec in alerts + known_decisions(alerts) + alerts[:3]:     # with redelivered copies
        sink.add(rec)
    assert sink.flush() is not None
    return chdb


def test_redelivered_rows_collapse_on_current_clickhouse(loaded):
    """Redelivered alerts leave one row per id under FINAL on current ClickHouse too."""
    n = len(known_alerts())
    assert loaded.execute("SELECT count() FROM alerts FINAL")[0][0] == n


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_analyst_query_on_current_clickhouse(loaded, name):
    """Every shipped query gives the same answer on current ClickHouse as on 18.16."""
    params, check = EXPECTED[name]
    result = load_queries()[name].run(loaded, **params)
    assert result.rows and check(result.rows), result.rows


def test_query_parameters_are_checked(loaded):
    """A query run with a missing or unexpected parameter fails before reaching the server."""
    q = load_queries()["top_scenarios"]
    with pytest.raises(QueryError, match="missing"):
        q.run(loaded, start=0, end=1)
    with pytest.raises(QueryError, match="unexpected"):
        q.run(loaded, start=0, end=1, limit=1, step=3)


def test_parse_url():
    """clickhouse:// URLs give host, port, database and credentials; the password is masked in repr."""
    u = parse_url("clickhouse://bob:s3cret@ch.example:9001/synsec")
    assert (u.host, u.port, u.database, u.user, u.password) == ("ch.example", 9001, "synsec", "bob", "s3cret")
    assert "s3cret" not in repr(u)
    assert parse_url("clickhouse://127.0.0.1").port == 9000 and parse_url("clickhouse://h/").database == "default"
    with pytest.raises(ValueError):
        parse_url("http://h:8123/db")
    with pytest.raises(ValueError):
        parse_url("clickhouse://h/db;drop")
