"""`synsec api --broker`: the API materialises the decisions topic (tansu) and publishes ccscli's writes to it."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from connectors.kafka.broker import free_port
from tests.integration.test_api_http import ccs, http, running_api

pytestmark = pytest.mark.integration

TOPIC = "synsec.decisions"


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    from connectors.kafka.admin import ensure_topics
    from connectors.kafka.broker import LocalBroker
    from synsec.wire.kafka import BrokerSettings
    from topologies import load_topology

    b = LocalBroker(log_dir=tmp_path_factory.mktemp("tansu")).start()
    try:
        ensure_topics(BrokerSettings.from_url(b.url), load_topology("single"))
        yield b
    finally:
        b.stop()


@pytest.fixture(scope="module")
def codecs():
    from synsec.wire.codecs import Codecs
    from synsec.wire.registry import LocalRegistry

    return Codecs(LocalRegistry())


def _decision(value: str, scope: str = "Ip", until: float | None = None, scenario: str = "synsec/ssh-bf"):
    from synsec.engine.model import Decision

    return Decision(origin="synsec", scenario=scenario, scope=scope, value=value, type="ban", duration=3600,
                    until=until if until is not None else time.time() + 3600, id=str(uuid.uuid4()))


def produce(bootstrap, codecs, items) -> None:
    """items: Decision (published under its key), (key, None) tombstones, or (key, bytes) raw values."""
    from kafka import KafkaProducer

    from synsec.wire.records import decision_key, decision_to_record

    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        for item in items:
            if isinstance(item, tuple):
                producer.send(TOPIC, key=item[0].encode(), value=item[1])
            else:
                producer.send(TOPIC, key=decision_key(item),
                              value=codecs.encode("decision", decision_to_record(item)))
        producer.flush(10)
    finally:
        producer.close()


def read_topic(bootstrap, codecs) -> list[tuple[str, dict | None]]:
    """Every (key, decoded value) on the decisions topic, polled until idle."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    try:
        tps = [TopicPartition(TOPIC, p) for p in consumer.partitions_for_topic(TOPIC)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        out, empty = [], 0
        while empty < 3:
            batches = consumer.poll(timeout_ms=300)
            empty = 0 if batches else empty + 1
            for records in batches.values():
                for m in records:
                    try:
                        value = None if m.value is None else codecs.decode("decision", m.value)
                    except Exception:  # noqa: BLE001 — the poison message the test itself wrote
                        continue
                    out.append((m.key.decode(), value))
        return out
    finally:
        consumer.close()


def topic_api(state, broker_url):
    """`synsec api --broker`: the decisions topic view (it reads the topic from the start: a longer start)."""
    return running_api(state, state.parent / f"api-topic-{free_port()}.log", args=("--broker", broker_url),
                       start_timeout=60)


def _until(fn, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def test_api_serves_the_topic_and_publishes_ccscli_writes(broker, codecs, tmp_path):
    """Decisions on the topic are served by ip= (ranges included); a stream pull gets them at startup, a later
    tombstone as `deleted`, a later decision as `new`; a poison value is skipped; `ccscli decisions add` and
    `delete` over the API land on the topic as a value and a tombstone."""
    state = tmp_path / "state"
    fw = ccs(state, "bouncers", "add", "fw", "-o", "raw").strip()
    admin = ccs(state, "bouncers", "add", "admin", "--role", "machine", "-o", "raw").strip()
    produce(broker.bootstrap, codecs, [
        _decision("192.0.2.7"), _decision("198.51.100.0/24", "Range", scenario="manual range"),
        _decision("192.0.2.8"), ("Ip:192.0.2.66", b"\x00not avro"),
        _decision("192.0.2.9", until=time.time() - 10),                       # already expired: not served
    ])
    with topic_api(state, broker.url) as url:
        [d] = json.loads(http(url + "/v1/decisions?ip=192.0.2.7", fw)[1])
        assert (d["value"], d["origin"], d["scope"]) == ("192.0.2.7", "synsec", "Ip") and d["id"] > 0
        [r] = json.loads(http(url + "/v1/decisions?ip=198.51.100.20", fw)[1])
        assert (r["value"], r["scenario"]) == ("198.51.100.0/24", "manual range")
        assert http(url + "/v1/decisions?ip=192.0.2.9", fw) == (200, b"null")

        body = json.loads(http(url + "/v1/decisions/stream?startup=true", fw)[1])
        assert sorted(x["value"] for x in body["new"]) == ["192.0.2.7", "192.0.2.8", "198.51.100.0/24"]
        assert json.loads(http(url + "/v1/decisions/stream", fw)[1]) == {"new": None, "deleted": None}

        produce(broker.bootstrap, codecs, [("Ip:192.0.2.8", None), _decision("203.0.113.5")])
        assert _until(lambda: http(url + "/v1/decisions?ip=203.0.113.5", fw)[1] != b"null")
        body = json.loads(http(url + "/v1/decisions/stream", fw)[1])
        assert [x["value"] for x in body["deleted"]] == ["192.0.2.8"]
        assert [x["value"] for x in body["new"]] == ["203.0.113.5"]

        api = ["decisions", "--api-url", url, "--api-key", admin]
        ccs(state, *api, "add", "--ip", "192.0.2.200", "-d", "2h", "-R", "manual ban")
        [d] = json.loads(http(url + "/v1/decisions?ip=192.0.2.200", fw)[1])   # read-your-writes
        assert d["origin"] == "ccscli" and d["scenario"] == "manual ban"
        on_topic = read_topic(broker.bootstrap, codecs)
        [(_, rec)] = [(k, v) for k, v in on_topic if k == "Ip:192.0.2.200"]
        assert rec["origin"] == "ccscli" and rec["scenario"] == "manual ban" and rec["until"] > time.time() + 7000

        ccs(state, *api, "delete", "--ip", "192.0.2.200")
        assert http(url + "/v1/decisions?ip=192.0.2.200", fw) == (200, b"null")
        assert [v for k, v in read_topic(broker.bootstrap, codecs) if k == "Ip:192.0.2.200"][-1] is None
        body = json.loads(http(url + "/v1/decisions/stream", fw)[1])
        assert [x["value"] for x in body["deleted"]] == ["192.0.2.200"] and body["new"] is None

        metrics = http(url + "/metrics")[1].decode()
        assert "synsec_api_topic_poison 1" in metrics


def test_restart_serves_the_same_ids_and_a_known_bouncer_gets_the_full_set(broker, codecs, tmp_path):
    """After an API restart, ids are unchanged (derived from offsets) and a bouncer that pulled from the
    previous process gets every active decision once (its old sequence is below the new process's floor)."""
    state = tmp_path / "state"
    fw = ccs(state, "bouncers", "add", "fw", "-o", "raw").strip()
    produce(broker.bootstrap, codecs, [_decision("192.0.2.150")])
    with topic_api(state, broker.url) as url:
        [first] = json.loads(http(url + "/v1/decisions?ip=192.0.2.150", fw)[1])
        json.loads(http(url + "/v1/decisions/stream?startup=true", fw)[1])
    with topic_api(state, broker.url) as url:
        [again] = json.loads(http(url + "/v1/decisions?ip=192.0.2.150", fw)[1])
        assert again["id"] == first["id"]
        body = json.loads(http(url + "/v1/decisions/stream", fw)[1])
        assert "192.0.2.150" in [x["value"] for x in body["new"]]


def test_api_follows_the_topologys_decisions_topic_and_serves_every_batched_decision(broker, codecs, tmp_path):
    """`synsec api --topology PATH` serves that topology's decisions topic (no name spelled anywhere), and it
    serves only once every decision written before its start is read: 300 decisions written in large batches
    (tansu's ListOffsets counts batches) are all in the first stream pull."""
    from kafka import KafkaProducer

    from connectors.kafka.admin import ensure_topics
    from synsec.wire.kafka import BrokerSettings
    from synsec.wire.records import decision_key, decision_to_record
    from topologies import TOPOLOGY_DIR, load_topology

    path = tmp_path / "renamed.yaml"
    path.write_text((TOPOLOGY_DIR / "single.yaml").read_text().replace("name: synsec.", "name: renamed."))
    topology = load_topology(path)
    name = topology.topics["decisions"].name
    assert name == "renamed.decisions"
    assert ensure_topics(BrokerSettings.from_url(broker.url), topology).ok
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=200, batch_size=1 << 20)
    values = [f"198.18.{i // 256}.{i % 256}" for i in range(300)]
    for value in values:
        d = _decision(value)
        producer.send(name, key=decision_key(d), value=codecs.encode("decision", decision_to_record(d)))
    producer.flush(10)
    producer.close()

    state = tmp_path / "state"
    fw = ccs(state, "bouncers", "add", "fw", "-o", "raw").strip()
    log = tmp_path / "api.log"
    with running_api(state, log, args=("--broker", broker.url, "--topology", str(path)), start_timeout=60) as url:
        body = json.loads(http(url + "/v1/decisions/stream?startup=true", fw)[1])
        assert sorted(x["value"] for x in body["new"]) == sorted(values)
    assert "renamed.decisions" in log.read_text()
