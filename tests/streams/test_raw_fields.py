"""The parse agent reads a JSON raw message's line and labels where the topology's raw section says."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from kafka import KafkaProducer

from connectors.kafka.broker import LocalBroker
from tests.streams.topology_util import (REPO, Worker, alerts_of, collect, create_topics, read_lines,
                                         replay_reference)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_worker_honours_raw_line_field_and_labels_field(tmp_path):
    """With raw.line_field `log` and raw.labels_field `crowdsec`, nginx lines sent as {"log", "crowdsec"} (and a
    decoy `message`, `labels`) give replay's alerts (regression: both settings were parsed but ignored)."""
    topology = tmp_path / "fields.yaml"
    text = (REPO / "topologies" / "single.yaml").read_text()
    assert "  line_field: message\n  labels_field: labels\n" in text
    topology.write_text(text.replace("  line_field: message\n  labels_field: labels\n",
                                     "  line_field: log\n  labels_field: crowdsec\n"))
    lines = read_lines(REPO / "scenarios" / "samples" / "nginx-demo.log")
    expected, _, _ = replay_reference(lines, "nginx")
    assert expected
    with LocalBroker(log_dir=tmp_path / "tansu") as broker:
        create_topics(broker, str(topology))
        worker = Worker(broker, str(topology), tmp_path)
        try:
            producer = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=5)
            for line in lines:
                producer.send("synsec.raw", json.dumps({"log": line, "crowdsec": {"type": "nginx"},
                                                        "message": "decoy", "labels": {"type": "syslog"}}).encode())
            producer.flush()
            producer.close()
            got = collect(broker, ["synsec.alerts"], lambda g: len(g["synsec.alerts"]) >= sum(expected.values()),
                          timeout=120)
        finally:
            worker.stop()
    assert Counter(alerts_of(got["synsec.alerts"])) == expected, worker.tail()
