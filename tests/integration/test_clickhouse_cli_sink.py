"""`synsec clickhouse sink`: the CLI wiring of Kafka (tansu, Avro) → SinkLoop → ClickHouse, with dead letters."""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner

from synsec.cli.clickhouse import clickhouse
from tests.integration.test_clickhouse import known_alerts, known_decisions
from tests.integration.test_clickhouse_kafka import _codec_decoder, _produce, servers  # noqa: F401 — fixture

pytestmark = pytest.mark.integration


def test_sink_command_stores_rows_and_dead_letters_poison(servers):  # noqa: F811
    """`synsec clickhouse sink --max-records N` stores every alert and decision once, skips the tombstone, and
    publishes the poison message to the dead-letter topic as an Avro dead_letter naming its topic and offset."""
    from kafka import KafkaAdminClient, KafkaConsumer

    from connectors.clickhouse.client import client_from_url
    from synsec.wire.records import record_to_dead_letter

    broker, ch = servers
    tag = uuid.uuid4().hex[:8]
    topics = (f"{tag}.synsec.alerts", f"{tag}.synsec.decisions")
    dlq = f"{tag}.synsec.deadletter"
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    admin.create_topics({dlq: {"num_partitions": 1, "replication_factor": 1}})
    admin.close()
    url = ch.url("t_cli_sink")
    runner = CliRunner()
    res = runner.invoke(clickhouse, ["migrate", "--url", url])
    assert res.exit_code == 0, res.output
    codecs, _ = _codec_decoder()
    alerts = known_alerts()
    decisions = known_decisions(alerts)
    _produce(broker.bootstrap, topics, codecs, alerts, decisions)
    total = len(alerts) + len(decisions) + 2

    res = runner.invoke(clickhouse, ["sink", "--broker", broker.url, "--url", url, "--group", f"g-{tag}",
                                 "--alerts-topic", topics[0], "--decisions-topic", topics[1],
                                 "--deadletter-topic", dlq, "--batch-size", "5", "--max-age", "0.3",
                                 "--max-records", str(total), "-o", "json"])
    assert res.exit_code == 0, res.output
    stats = json.loads(res.stdout)
    assert stats["records"] == total and stats["stored"] == total - 2
    assert stats["tombstones"] == 1 and stats["dead_lettered"] == 1
    client = client_from_url(url)
    try:
        assert client.execute("SELECT count() FROM alerts FINAL")[0][0] == len(alerts)
        assert client.execute("SELECT count() FROM decisions FINAL")[0][0] == len(decisions)
    finally:
        client.disconnect()

    consumer = KafkaConsumer(dlq, bootstrap_servers=broker.bootstrap, group_id=None,
                             auto_offset_reset="earliest", consumer_timeout_ms=3000)
    try:
        [msg] = list(consumer)
    finally:
        consumer.close()
    dl = record_to_dead_letter(codecs.decode("dead_letter", msg.value))
    assert (dl.topic, dl.value, dl.agent) == (topics[0], b"\x00not avro at all", "clickhouse-sink")
    assert dl.offset >= 0 and dl.error
