"""Kafka mode escalation: the profiles' GetDecisionsCount reads the decisions topic (connectors/kafka/history.py)
on a real broker, as the profiles agent of `synsec worker` does."""

from __future__ import annotations

import time

import pytest
from kafka import KafkaProducer

from connectors.kafka.admin import ensure_topics
from connectors.kafka.history import TopicHistory
from synsec.assembly.build import EngineOptions, build_engine
from synsec.engine.decisions import taken
from synsec.engine.model import Alert, Decision, Source
from synsec.wire.codecs import Codecs
from synsec.wire.records import decision_key, decision_to_record
from synsec.wire.registry import LocalRegistry
from tests.unit.test_decision_history import escalation_content

pytestmark = pytest.mark.integration
IP = "192.0.2.77"


def test_profiles_count_the_decisions_topic(broker, broker_settings, fresh_topology, tmp_path):
    """An engine bans an IP twice (4h, 8h) on the topic; a fresh engine (empty memory) reading it bans it 12h."""
    assert ensure_topics(broker_settings, fresh_topology).ok
    topic = fresh_topology.topics["decisions"].name
    opts = EngineOptions.from_flags(config_dir=escalation_content(tmp_path))
    codecs = Codecs(LocalRegistry())
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    histories = []

    def worker_decides(engine, n: int) -> list[float]:
        now = time.time() + n
        alert = Alert("synsec/ssh-bf", Source(Value=IP, IP=IP), 6, now - 5, now, Remediation=True)
        decisions = [taken(d, now) for d in engine.decide(alert)]
        for d in decisions:
            producer.send(topic, key=decision_key(d), value=codecs.encode("decision", decision_to_record(d)))
        producer.flush()
        return [d.duration / 3600 for d in decisions]

    def worker():
        engine, _content = build_engine(opts)
        histories.append(TopicHistory(broker_settings.kafka_python_kwargs(), topic, codecs))
        engine.profiles.history.source = histories[-1]
        return engine

    try:
        first = worker()
        made = worker_decides(first, 0) + worker_decides(first, 1)
        second = worker()
        deadline = time.monotonic() + 20
        while len(histories[-1].decisions_for(IP)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        made += worker_decides(second, 2)
        assert made == [4, 8, 12]
        assert len(histories[-1].decisions_for(f"::ffff:{IP}")) >= 2
    finally:
        producer.close()
        for history in histories:
            history.close()


@pytest.mark.slow
def test_worker_profiles_agent_counts_the_topic(tmp_path):
    """`synsec worker` (topology single): two bans of an IP already on the decisions topic (an earlier worker's),
    then a burst of ssh failures: the profiles agent bans it 12h."""
    from kafka import KafkaProducer as Producer

    from connectors.kafka.broker import LocalBroker
    from tests.streams.topology_util import CODECS, Worker, collect, create_topics, produce_lines
    from tests.unit.test_decision_history import bursts

    content = escalation_content(tmp_path)
    with LocalBroker(log_dir=tmp_path / "tansu") as local:
        create_topics(local, "single")
        producer = Producer(bootstrap_servers=local.bootstrap)
        now = time.time()
        for n in range(2):
            d = Decision("synsec", "synsec/ssh-bf", "Ip", IP, "ban", 3600.0 * 4 * (n + 1), now - 600 + n, id=f"old{n}")
            producer.send("synsec.decisions", key=decision_key(d), value=CODECS.encode("decision", decision_to_record(d)))
        producer.flush()
        producer.close()
        worker = Worker(local, "single", tmp_path, args=("--config-dir", str(content)))
        try:
            produce_lines(local, bursts(IP, [now]).splitlines(), "syslog")
            got = collect(local, ["synsec.decisions"], lambda g: sum(m.value is not None for m in g["synsec.decisions"])
                          >= 3, timeout=90, quiet=0.5)
        finally:
            worker.stop()
    made = [CODECS.decode("decision", m.value) for m in got["synsec.decisions"] if m.value is not None]
    assert [d["id"] for d in made[:2]] == ["old0", "old1"] and len(made) == 3, worker.tail()
    assert made[2]["duration"] in (12 * 3600, "12h0m0s"), made[2]
