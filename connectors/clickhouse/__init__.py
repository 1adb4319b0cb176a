"""ClickHouse sink: DDL migrations, batched idempotent inserts of alerts/decisions, the Kafka loop, queries."""

from connectors.clickhouse.client import ChdbClient, client_from_url, ensure_database, parse_url
from connectors.clickhouse.migrate import MigrateResult, MigrationError, detect_features, migrate
from connectors.clickhouse.queries import Query, QueryResult, load_queries
from connectors.clickhouse.sink import ClickHouseSink, Flushed, SinkBackpressure

__all__ = ["ChdbClient", "client_from_url", "ensure_database", "parse_url", "MigrateResult", "MigrationError",
           "detect_features", "migrate", "Query", "QueryResult", "load_queries", "ClickHouseSink", "Flushed",
           "SinkBackpressure"]
