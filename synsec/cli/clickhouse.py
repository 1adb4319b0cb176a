"""`synsec clickhouse`: apply the DDL (`migrate`), run the shipped analyst queries (`queries`, `query`), and
consume alerts and decisions from Kafka into ClickHouse (`sink`)."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

import click

from synsec.cli.output import emit_json, output_option, table
from synsec.cli.topics import broker_options, topic_name, topology_option

__all__ = ["clickhouse"]

url_option = click.option("--url", envvar="SYNSEC_CLICKHOUSE_URL", default="clickhouse://127.0.0.1:9000/synsec",
                          show_default=True, help="Native-protocol URL ($SYNSEC_CLICKHOUSE_URL).")


@click.group()
def clickhouse() -> None:
    """ClickHouse history store: schema migrations, analyst queries, and the Kafka sink."""
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
    if text.isascii() and text.isdigit():
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


def _decoder(codecs, alerts_topic: str):
    """decode(topic, bytes) for SinkLoop: an Alert (from `alerts_topic`), a Decision, or None for a
    decisions-topic tombstone."""
    from synsec.wire.records import record_to_alert, record_to_decision

    def decode(topic: str, data: bytes | None):
        if topic == alerts_topic:
            return record_to_alert(codecs.decode("alert", data))
        rec = codecs.decode("decision", data) if data is not None else None
        return None if rec is None else record_to_decision(rec)

    return decode


def _dead_letterer(producer, codecs, topic: str, timeout_s: float = 10.0):
    """dead_letter(record, error) for SinkLoop: an Avro dead_letter on `topic`, acknowledged before the loop
    may commit past the record (a failed send raises, so the record is redelivered)."""
    from synsec.wire.records import DeadLetter, dead_letter_to_record

    def dead_letter(record, err: Exception) -> None:
        dl = DeadLetter(topic=record.topic, partition=record.partition, offset=record.offset, key=record.key,
                        value=record.value, error=f"{type(err).__name__}: {err}",
                        timestamp=max(int(record.timestamp or 0), 0), agent="clickhouse-sink")
        producer.send(topic, key=record.key, value=codecs.encode("dead_letter", dead_letter_to_record(dl))
                      ).get(timeout=timeout_s)

    return dead_letter


@clickhouse.command()
@broker_options
@url_option
@click.option("--group", default="synsec-clickhouse", show_default=True, help="Kafka consumer group.")
@topology_option()
@click.option("--alerts-topic", help="Default: the topology's alerts topic.")
@click.option("--decisions-topic", help="Default: the topology's decisions topic.")
@click.option("--deadletter-topic", help="Default: the topology's dead-letter topic.")
@click.option("--batch-size", type=click.IntRange(1), default=1000, show_default=True,
              help="Rows per insert.")
@click.option("--max-age", type=click.FloatRange(0.01), default=1.0, show_default=True,
              help="Seconds a row may wait before its batch is inserted anyway.")
@click.option("--max-records", type=click.IntRange(0), default=0,
              help="Stop after this many messages (0: run until SIGINT/SIGTERM).")
@output_option
def sink(broker, url, group, topology, alerts_topic, decisions_topic, deadletter_topic, batch_size, max_age,
         max_records, output) -> None:
    """Consume alerts and decisions from Kafka into ClickHouse (batched, idempotent; offsets committed only
    after each successful insert; undecodable messages to the dead-letter topic). Run `migrate` first."""
    import signal
    import threading

    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    from connectors.clickhouse.client import client_from_url, parse_url
    from connectors.clickhouse.consumer import SinkLoop, make_consumer
    from connectors.clickhouse.sink import ClickHouseSink
    from synsec.wire.codecs import Codecs
    from synsec.wire.registry import LocalRegistry

    try:
        target = parse_url(url)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--url") from None
    alerts_topic = topic_name(topology, "alerts", alerts_topic)
    decisions_topic = topic_name(topology, "decisions", decisions_topic)
    deadletter_topic = topic_name(topology, "deadletter", deadletter_topic)
    codecs = Codecs(LocalRegistry())
    kafka = broker.kafka_python_kwargs()
    bootstrap = kafka.pop("bootstrap_servers")
    try:
        consumer = make_consumer(bootstrap, group_id=group, **kafka)
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", **kafka)
    except KafkaError as err:
        raise click.ClickException(f"cannot reach {broker.url}: {err}") from None
    ch = ClickHouseSink(lambda: client_from_url(target), batch_size=batch_size, max_age_s=max_age)
    loop = SinkLoop(consumer, ch, _decoder(codecs, alerts_topic),
                    dead_letter=_dead_letterer(producer, codecs, deadletter_topic), topics=(alerts_topic, decisions_topic))
    stopping = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stopping.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    click.echo(f"synsec clickhouse sink: {broker.url} ({alerts_topic}, {decisions_topic}) → "
               f"{target.host}:{target.port}/{target.database}, group {group}", err=True)
    loop.subscribe()
    try:
        stats = loop.run(stop=lambda: stopping.is_set() or (max_records and loop.stats.records >= max_records
                                                            and ch.buffered == 0))
    finally:
        consumer.close()
        producer.close(timeout=5)
        ch.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    result = {"records": stats.records, "stored": stats.stored, "tombstones": stats.empty,
              "dead_lettered": stats.dead_lettered, "commits": stats.commits, "paused": stats.paused}
    if output == "json":
        emit_json(result)
    else:
        click.echo(" ".join(f"{k}={v}" for k, v in result.items()))
