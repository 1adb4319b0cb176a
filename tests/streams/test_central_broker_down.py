"""Issue 12 on the real bundled broker (tansu): `synsec central --broker` started with no broker listening serves
anyway — register, login, decisions stream and metrics answer, signals get a JSON 503 with Retry-After — and
reaches the broker when it comes up on that port; a broker lost while serving gives the same bounded answers,
and what was stored meanwhile goes out once, by the periodic resend, when it is back (nobody resends)."""

from __future__ import annotations

import json
from collections import Counter
import urllib.error

import pytest

from connectors.kafka.admin import ensure_topics
from connectors.kafka.broker import LocalBroker, free_port
from synsec.wire.kafka import BrokerSettings
from tests.integration.test_central_crowdsec import _call, _wait
from tests.streams.test_central_outage import _batch, _signals_on
from tests.streams.test_curation_topology import SCENARIO, SYNSEC, Proc, _hub_and_rules, procs  # noqa: F401
from topologies import TOPOLOGY_DIR, load_topology

pytestmark = pytest.mark.integration


def _health(url: str) -> dict:
    try:
        return _call(url + "health")
    except OSError:
        return {}


def _refused(url: str, body, token: str) -> tuple[int, str, dict]:
    """A call that must fail: its status, Retry-After and JSON body (the client's 10 s timeout bounds it)."""
    with pytest.raises(urllib.error.HTTPError) as err:
        _call(url, body, token)
    return err.value.code, err.value.headers.get("Retry-After", ""), json.loads(err.value.read())


def _serves_without_the_broker(url: str, who: str, token: str) -> None:
    """Register, login, decisions stream and metrics answer from the store; health says the broker is down."""
    assert _call(url + "v2/watchers", {"machine_id": who, "password": f"pw-{who}"}) == {
        "message": "watcher registered"}
    assert _call(url + "v2/watchers/login", {"machine_id": who, "password": f"pw-{who}"})["token"]
    assert set(_call(url + "v2/decisions/stream?startup=true", token=token)) == {"new", "deleted"}
    assert _call(url + "v2/metrics", {"machines": []}, token) == {"message": "OK"}
    assert _health(url) == {"status": "up", "broker": "down"}


@pytest.fixture
def setup(tmp_path, procs):
    topo_path = tmp_path / "topology.yaml"
    topo_path.write_text((TOPOLOGY_DIR / "single.yaml").read_text())
    opts = _hub_and_rules(tmp_path)
    (tmp_path / "curation.yaml").write_text("cohorts: {same_block: true}\n")    # from 127.0.0.1: one cohort
    port, broker_port = free_port(), free_port()
    central = Proc([*SYNSEC, "central", "--listen", f"127.0.0.1:{port}", "--state-dir", str(tmp_path / "c"),
                    "--topology", str(topo_path), "--broker", f"kafka://127.0.0.1:{broker_port}", *opts],
                   tmp_path / "central.log")
    procs.append(central)
    return f"http://127.0.0.1:{port}/", broker_port, load_topology(str(topo_path)), tmp_path / "central.log"


def _broker(port: int, topo, tmp_path, n: int) -> LocalBroker:
    broker = LocalBroker(port, log_dir=tmp_path / f"tansu{n}").start()
    assert ensure_topics(BrokerSettings.from_url(broker.url), topo).ok
    return broker


def _list(broker: LocalBroker, topo, ip: str) -> None:
    """What the curation topology publishes for a listing: a record on the blocklist topic."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    try:
        producer.send(topo.topics["blocklist"].name, key=f"Ip:{ip}".encode(),
                      value=json.dumps({"value": ip, "scenario": SCENARIO, "until": 4e9}).encode()).get(10)
    finally:
        producer.close()


def _listed(url: str, token: str) -> set[str]:
    return {d["value"] for d in _call(url + "v2/decisions/stream?startup=true", token=token)["new"]}


def _cohort_records(broker: LocalBroker, topic: str) -> list[bytes]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, group_id=None, consumer_timeout_ms=1500)
    try:
        return [m.key for m in consumer if m.key.startswith(b"cohort:")]
    finally:
        consumer.close()


def test_central_started_without_a_broker_serves_and_publishes_once_it_comes_up(setup, tmp_path):
    """No broker on the configured port: central starts (its log says what it waits for), everything but signals
    answers, signals get 503 + Retry-After; tansu started on that port: central reaches it, the batch a client
    pushed while it was down (then resent: 200) is on the topic once, with the registrations' cohort change."""
    url, broker_port, topo, log = setup
    assert _wait(lambda: _health(url).get("status") == "up", 30, "central without a broker")
    assert f"waiting for the broker at 127.0.0.1:{broker_port}" in log.read_text()
    cred = {"machine_id": "w1", "password": "pw-w1"}
    assert _call(url + "v2/watchers", cred) == {"message": "watcher registered"}
    token = _call(url + "v2/watchers/login", cred)["token"]
    _serves_without_the_broker(url, "w2", token)       # same address as w1: a cohort change, stored
    status, retry, body = _refused(url + "v2/signals", _batch(["45.13.227.1", "45.13.227.2"], "a"), token)
    assert status == 503 and int(retry) >= 1 and "not been reached" in body["message"]
    assert _call(url + "v2/signals", _batch(["45.13.227.1", "45.13.227.2"], "a"), token) == {"message": "OK"}

    broker = _broker(broker_port, topo, tmp_path, 1)
    try:
        assert _wait(lambda: _health(url).get("broker") == "up", 30, "central reaching the broker")
        assert "reached the broker" in log.read_text()
        assert _call(url + "v2/signals", _batch(["45.13.227.3"], "b"), token) == {"message": "OK"}
        got = _signals_on(broker, topo.topics["signals"].name)
        assert [s["source"]["value"] for s in got] == ["45.13.227.1", "45.13.227.2", "45.13.227.3"]
        assert sorted(_cohort_records(broker, topo.topics["signals"].name)) == [b"cohort:w1", b"cohort:w2"]
    finally:
        broker.stop()


def test_a_broker_lost_while_serving_gives_bounded_503s_and_what_was_stored_goes_out_when_it_is_back(setup, tmp_path):
    """Broker up, then stopped: signals get 503 + Retry-After within the client's timeout, the rest answers (a
    registration's cohort change is stored, never produced); nobody resends; tansu back on its port (empty:
    memory storage, topics created again): the batch and, by the periodic resend, the cohort change are on the
    topic once; every route answers as before, and the blocklist follower, which had read one record of the old
    broker, reads the new broker's topic from its start; aiokafka's reconnection lines are at most one a second."""
    url, broker_port, topo, log = setup
    broker = _broker(broker_port, topo, tmp_path, 1)
    try:
        assert _wait(lambda: _health(url).get("broker") == "up", 30, "central reaching the broker")
        cred = {"machine_id": "w1", "password": "pw-w1"}
        _call(url + "v2/watchers", cred)
        token = _call(url + "v2/watchers/login", cred)["token"]
        assert _call(url + "v2/signals", _batch(["45.13.227.1"], "a"), token) == {"message": "OK"}
        _list(broker, topo, "45.13.227.8")
        assert _wait(lambda: _listed(url, token) == {"45.13.227.8"}, 30, "the first blocklist record")
    finally:
        broker.stop()
    status, retry, body = _refused(url + "v2/signals", _batch(["45.13.227.2", "45.13.227.3"], "b"), token)
    assert status == 503 and int(retry) >= 1 and "stored but not yet published" in body["message"]
    _serves_without_the_broker(url, "w2", token)

    broker = _broker(broker_port, topo, tmp_path, 2)
    try:
        topic = topo.topics["signals"].name
        assert _wait(lambda: _cohort_records(broker, topic) == [b"cohort:w2"], 60,      # w2 joins w1's cohort
                     "the periodic resend of the cohort change")
        assert [s["source"]["value"] for s in _signals_on(broker, topic)] == ["45.13.227.2", "45.13.227.3"]
        assert _wait(lambda: _health(url).get("broker") == "up", 30, "health")
        assert _call(url + "v2/signals", _batch(["45.13.227.4"], "c"), token) == {"message": "OK"}
        assert _call(url + "v2/watchers", {"machine_id": "w3", "password": "pw-w3"}) == {
            "message": "watcher registered"}
        assert _call(url + "v2/metrics", {"machines": []}, token) == {"message": "OK"}
        assert _wait(lambda: "reading it again from its start" in log.read_text(), 30, "the follower's reset")
        _list(broker, topo, "45.13.227.9")        # offset 0 of the new broker: before where the follower was
        assert _wait(lambda: _listed(url, token) == {"45.13.227.8", "45.13.227.9"}, 60, "the blocklist again")
    finally:
        broker.stop()
    kafka_lines = Counter(line[:19] for line in log.read_text().splitlines() if " aiokafka" in line)
    assert kafka_lines and max(kafka_lines.values()) == 1     # at most one a second (the rest counted)
