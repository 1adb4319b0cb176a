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
from synsec.engine.model import Alert, Source
from synsec.wire.codecs import Codecs
from synsec.wire.records import decision_key, decision_to_record
from synsec.wire.registry import LocalRegistry
from tests.unit.test_decision_history import escalation_content

pytestmark = pytest.mark.integration
IP = "192.0.2.77"


def test_profiles_count_the_decisions_topic(broker, broker_settings, fresh_topology, tmp_path):
    """A worker bans an IP twice (4h, 8h) on the topic; a restarted worker (empty memory) bans it 12h."""
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
