"""Issue 12 on the real bundled broker (tansu): central in Kafka mode loses no accepted signal to a broker outage
or its own SIGKILL — a batch the broker cannot take is stored and answered 503, its resend 200, and the restarted
central produces it once, with the labels it had, before serving."""

from __future__ import annotations

import json
import signal
import time
import urllib.error

import pytest
from kafka import KafkaConsumer

from connectors.kafka.admin import ensure_topics
from connectors.kafka.broker import LocalBroker, free_port
from synsec.wire.codecs import Codecs
from synsec.wire.kafka import BrokerSettings
from synsec.wire.registry import LocalRegistry
from tests.integration.test_central_crowdsec import _call, _wait
from tests.streams.test_curation_topology import H, SCENARIO, SYNSEC, Proc, _health, _hub_and_rules, procs  # noqa: F401
from topologies import TOPOLOGY_DIR, load_topology

pytestmark = pytest.mark.integration


def _batch(ips: list[str], tag: str) -> list[dict]:
    return [{"scenario": SCENARIO, "scenario_hash": H, "scenario_version": "0.2", "uuid": f"{tag}-{i}",
             "source": {"scope": "Ip", "value": ip}, "start_at": "2026-11-22T10:00:00Z",
             "stop_at": "2026-11-22T10:00:05Z"} for i, ip in enumerate(ips)]


def _signals_on(broker: LocalBroker, topic: str) -> list[dict]:
    """Every signal record on the topic (time markers and cohort records left out), decoded."""
    codecs = Codecs(LocalRegistry())
    consumer = KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, group_id=None, consumer_timeout_ms=1500)
    try:
        return [codecs.decode("signal", m.value) for m in consumer if not m.key.startswith((b"tick:", b"cohort:"))]
    finally:
        consumer.close()


def test_signals_stored_during_an_outage_reach_the_topic_once_after_a_kill(tmp_path, procs):
    """Broker up: batch A goes out (200). Broker stopped: batch B is stored and answered 503 within the client's
    timeout, its resend 200. Central SIGKILLed, a broker back (empty: memory storage), central restarted: the
    signals topic holds B's signals exactly once, with their first received time and cohort, and not A's."""
    broker = LocalBroker(log_dir=tmp_path / "tansu").start()
    try:
        topo_path = tmp_path / "topology.yaml"
        topo_path.write_text((TOPOLOGY_DIR / "single.yaml").read_text())
        topo = load_topology(str(topo_path))
        assert ensure_topics(BrokerSettings.from_url(broker.url), topo).ok
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        cmd = [*SYNSEC, "central", "--listen", f"127.0.0.1:{port}", "--state-dir", str(tmp_path / "c"),
               "--topology", str(topo_path), *_hub_and_rules(tmp_path)]
        central = Proc([*cmd, "--broker", broker.url], tmp_path / "central1.log")
        procs.append(central)
        _wait(lambda: _health(url), 30, "synsec central")
        cred = {"machine_id": "w1", "password": "pw-w1"}
        _call(url + "v2/watchers", cred)
        token = _call(url + "v2/watchers/login", cred)["token"]
        _call(url + "v2/signals", _batch(["45.13.227.1"], "a"), token)
        assert [s["source"]["value"] for s in _signals_on(broker, topo.topics["signals"].name)] == ["45.13.227.1"]

        broker.stop()
        b_ips = ["45.13.227.2", "45.13.227.3", "45.13.227.4"]
        started, sent_at = time.monotonic(), time.time()
        with pytest.raises(urllib.error.HTTPError) as refused:
            _call(url + "v2/signals", _batch(b_ips, "b"), token)
        assert time.monotonic() - started < 9, "the watcher waited past its timeout"
        assert refused.value.code == 503
        assert "stored but not yet published" in json.loads(refused.value.read())["message"]
        assert _call(url + "v2/signals", _batch(b_ips, "b"), token) == {"message": "OK"}   # the resend
        central.stop(signal.SIGKILL)

        broker = LocalBroker(log_dir=tmp_path / "tansu2").start()     # its old port may be in TIME_WAIT
        assert ensure_topics(BrokerSettings.from_url(broker.url), topo).ok
        procs.append(Proc([*cmd, "--broker", broker.url], tmp_path / "central2.log"))
        _wait(lambda: _health(url), 30, "the restarted central")
        got = _signals_on(broker, topo.topics["signals"].name)
        assert sorted(s["source"]["value"] for s in got) == b_ips
        assert len({s["labels"]["received_at"] for s in got}) == 1     # one batch: its first received time
        assert sent_at - 1 < float(got[0]["labels"]["received_at"]) < sent_at + 1    # not the restart's clock
        assert len({s["labels"]["cohort"] for s in got}) == 1 and got[0]["labels"]["cohort"]
        assert "3 stored signals sent again" in (tmp_path / "central2.log").read_text()
    finally:
        broker.stop()
