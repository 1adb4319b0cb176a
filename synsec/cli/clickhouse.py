"""`synsec clickhouse`: apply the DDL (`migrate`) and run the shipped analyst queries (`queries`, `query`)."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

import click

from synsec.cli.output import emit_json, output_option, table

__all__ = ["clickhouse"]

url_option = click.option("--url", envvar="SYNSEC_CLICKHOUSE_URL", default="clickhouse://127.0.0.1:9000/synsec",
                          show_default=True, help="Native-protocol URL ($SYNSEC_CLICKHOUSE_URL).")


@click.group()
def clickhouse() -> None:
    """ClickHouse history store: schema migrations and analyst queries."""
    # the driver logs a traceback per failed connection; the command reports the error once itself
    logging.getLogger("clickhouse_driver").setLevel(logging.CRITICAL)


@clickhouse.command()
@url_option
@click.option("--retention-days", type=click.IntRange(1), default=365, show_default=True,
              help="TTL of alerts and decisions, on servers that support TTL.")
@output_option
def migrate(url, retention_days, output) -> None:
    """Create the database and apply pending migrations from schemas/clickhouse/ (idempotent)."""
    from clickhouse_driver.errors import Error as DriverError

    from connectors.clickhouse.client import client_from_url, ensure_database, parse_url
    from connectors.clickhouse.migrate import MigrationError, migrate as run_migrate

    try:
        target = parse_url(url)
        ensure_database(target)
        client = client_from_url(target)
        try:
            result = run_migrate(client, retention_days=retention_days)
        finally:
            client.disconnect()
    except (ValueError, MigrationError, DriverError, OSError) as err:
        raise click.ClickException(str(err)) from None
    if output == "json":
        emit_json({"server_version": result.server_version, "applied": result.applied,
                   "skipped": {k: list(v) for k, v in result.skipped.items()},
                   "features": sorted(result.features)})
        return
    click.echo(f"ClickHouse {result.server_version} at {target.host}:{target.port}/{target.database}")
    for name in result.applied:
        click.echo(f"applied  {name}")
    for name, missing in result.skipped.items():
        click.echo(f"skipped  {name} (server lacks: {', '.join(missing)})")
    if not result.applied:
        click.echo("nothing to apply")


@clickhouse.command("queries")
@output_option
def list_queries(output) -> None:
    """List the shipped analyst queries and their parameters."""
    from connectors.clickhouse.queries import load_queries

    queries = load_queries()
    if output == "json":
        emit_json([{"name": q.name, "params": list(q.params), "description": q.description}
                   for q in queries.values()])
        return
    table(f"{len(queries)} quer(ies)", ["name", "params", "description"],
          [[q.name, " ".join(q.params), q.description] for q in queries.values()])


def _epoch(text: str | None, default: float) -> int:
    if not text:
        return int(default)
    if text.isdigit():
        return int(text)
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int((dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp())


@clickhouse.command()
@click.argument("name")
@url_option
@click.option("--since", help="Start: RFC 3339 or epoch seconds (default: 24h before --until).")
@click.option("--until", help="End (exclusive): RFC 3339 or epoch seconds (default: now).")
@click.option("--limit", type=click.IntRange(1), default=10, show_default=True)
@click.option("--step", type=click.IntRange(1), default=3600, show_default=True,
              help="Bucket width in seconds for *_over_time queries.")
@click.option("--value", default="", help="Source value for source_history.")
@output_option
def query(name, url, since, until, limit, step, value, output) -> None:
    """Run the analyst query NAME (see `synsec clickhouse queries`)."""
    from clickhouse_driver.errors import Error as DriverError

    from connectors.clickhouse.client import client_from_url
    from connectors.clickhouse.queries import QueryError, load_queries

    queries = load_queries()
    if name not in queries:
        raise click.BadParameter(f"{name!r}: one of {', '.join(queries)}", param_hint="NAME")
    end = _epoch(until, time.time())
    available = {"start": _epoch(since, end - 86400), "end": end, "limit": limit, "step": step, "value": value}
    q = queries[name]
    client = None
    try:
        client = client_from_url(url)
        result = q.run(client, **{p: available[p] for p in q.params})
    except (ValueError, QueryError, DriverError, OSError) as err:
        raise click.ClickException(str(err)) from None
    finally:
        if client is not None:
            client.disconnect()
    if output == "json":
        emit_json(result.dicts())
    else:
        table(q.description, result.columns, [list(r) for r in result.rows])
