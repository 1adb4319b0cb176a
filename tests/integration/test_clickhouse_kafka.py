"""Kafka → ClickHouse end to end: Avro alerts/decisions on a real broker (tansu) into a real ClickHouse 18.16."""

from __future__ import annotations

import time
import uuid

import pytest

from connectors.clickhouse.client import client_from_url, ensure_database
from connectors.clickhouse.consumer import SinkLoop, make_consumer
from connectors.clickhouse.localserver import LocalClickHouse
from connectors.clickhouse.migrate import migrate
from connectors.clickhouse.sink import ClickHouseSink
from tests.integration.test_clickhouse import known_alerts, known_decisions

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    from connectors.kafka.broker import LocalBroker

    broker = LocalBroker(log_dir=tmp_path_factory.mktemp("tansu")).start()
    ch = LocalClickHouse(tmp_path_factory.mktemp("clickhouse"))
    try:
        ch.start()
        yield broker, ch
    finally:
        ch.stop()
        broker.stop()


def _codec_decoder():
    from synsec.wire.codecs import Codecs
    from synsec.wire.records import record_to_alert, record_to_decision
    from synsec.wire.registry import LocalRegistry

    codecs = Codecs(LocalRegistry())

    def decode(topic: str, data: bytes | None):
        name = "alert" if topic.endswith("alerts") else "decision"
        rec = codecs.decode(name, data)
        if rec is None:
            return None                                   # tombstone: nothing to store
        return record_to_alert(rec) if name == "alert" else record_to_decision(rec)

    return codecs, decode


def _produce(bootstrap, topics, codecs, alerts, decisions) -> dict:
    from kafka import KafkaAdminClient, KafkaProducer, TopicPartition

    from synsec.wire.records import alert_to_record, decision_key, decision_to_record

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics({t: {"num_partitions": 2, "replication_factor": 1} for t in topics})
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    sent = []
    try:
        for a in alerts:
            sent.append(producer.send(topics[0], key=a.UUID.encode(), value=codecs.encode("alert",
                                                                                        alert_to_record(a))))
        sent.append(producer.send(topics[0], key=b"poison", value=b"\x00not avro at all"))
        for d in decisions:
            sent.append(producer.send(topics[1], key=decision_key(d), value=codecs.encode("decision",
                                                                                        decision_to_record(d))))
        sent.append(producer.send(topics[1], key=b"Ip:192.0.2.200", value=None))        # tombstone
        producer.flush()
        last: dict = {}
        for fut in sent:
            md = fut.get(timeout=10)
            tp = TopicPartition(md.topic, md.partition)
            last[tp] = max(last.get(tp, -1), md.offset)
    finally:
        producer.close()
    return last


def _drain(bootstrap, topics, url, decode, expected_records, group):
    dead = []
    consumer = make_consumer(bootstrap, group_id=group, session_timeout_ms=6000, heartbeat_interval_ms=1000)
    sink = ClickHouseSink(lambda: client_from_url(url), batch_size=5, max_age_s=0.3)
    loop = SinkLoop(consumer, sink, decode, dead_letter=lambda rec, err: dead.append(rec), topics=topics)
    loop.subscribe()
    deadline = time.monotonic() + 60
    loop.run(stop=lambda: (loop.stats.records >= expected_records and sink.buffered == 0)
             or time.monotonic() > deadline)
    return consumer, loop, dead, sink


def test_alerts_and_decisions_flow_from_kafka_and_commit_after_insert(servers):
    """Avro alerts/decisions on tansu land once each in ClickHouse; the poison record is dead-lettered with its
    offset, the tombstone skipped, and committed offsets cover every record; a second group re-reading all of
    it (redelivery) adds no row under FINAL."""
    from kafka import TopicPartition

    broker, ch = servers
    tag = uuid.uuid4().hex[:8]
    topics = (f"{tag}.synsec.alerts", f"{tag}.synsec.decisions")
    url = ch.url("t_kafka")
    ensure_database(url)
    client = client_from_url(url)
    migrate(client)
    codecs, decode = _codec_decoder()
    alerts = known_alerts()
    decisions = known_decisions(alerts)
    last = _produce(broker.bootstrap, topics, codecs, alerts, decisions)
    total = len(alerts) + len(decisions) + 2

    consumer, loop, dead, sink = _drain(broker.bootstrap, topics, url, decode, total, f"ch-{tag}")
    try:
        assert loop.stats.records == total and loop.stats.stored == total - 2
        assert loop.stats.empty == 1 and [r.value for r in dead] == [b"\x00not avro at all"]
        assert dead[0].topic == topics[0] and dead[0].offset >= 0
        assert client.execute("SELECT count() FROM alerts FINAL")[0][0] == len(alerts)
        assert client.execute("SELECT count() FROM decisions FINAL")[0][0] == len(decisions)
        assert {tp: consumer.committed(tp) for tp in last} == {tp: off + 1 for tp, off in last.items()}
        assert sorted(r[0] for r in client.execute("SELECT id FROM alerts")) == sorted(a.UUID for a in alerts)
    finally:
        consumer.close()
        sink.close()

    consumer, loop, _, sink = _drain(broker.bootstrap, topics, url, decode, total, f"ch-{tag}-again")
    try:
        assert loop.stats.records == total
        assert client.execute("SELECT count() FROM alerts")[0][0] == 2 * len(alerts)      # copies written...
        assert client.execute("SELECT count() FROM alerts FINAL")[0][0] == len(alerts)     # ...one row each
        assert client.execute("SELECT count() FROM decisions FINAL")[0][0] == len(decisions)
    finally:
        consumer.close()
        sink.close()
        client.disconnect()
