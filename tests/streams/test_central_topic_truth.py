"""Issue 12 on the real bundled broker (tansu): in Kafka mode the blocklist topic is the whole truth. A central whose
store lists addresses from before its broker was emptied (memory storage restarted while central was stopped:
every new `synsec up --central` run) removes those once it has read the topic, and serves what the topic lists."""

from __future__ import annotations

import json
import time

import pytest
from kafka import KafkaProducer

from connectors.central.curation import Listed
from connectors.central.store import CentralStore
from connectors.kafka.admin import ensure_topics
from connectors.kafka.broker import free_port
from synsec.wire.kafka import BrokerSettings
from tests.integration.test_central_crowdsec import _call, _wait
from tests.streams.test_curation_topology import SCENARIO, SYNSEC, Proc, _hub_and_rules, procs  # noqa: F401
from topologies import TOPOLOGY_DIR, load_topology

pytestmark = pytest.mark.integration


def test_listings_the_topic_lost_are_removed_at_start(broker, tmp_path, unique_name, procs):
    """A store listing 45.1.1.1 and 45.1.1.2, a topic listing only 45.1.1.2 and 45.1.1.3: once central reached the
    broker, its stream serves 45.1.1.2 and 45.1.1.3, and a watcher's delta deletes 45.1.1.1."""
    prefix = unique_name() + "."
    text = (TOPOLOGY_DIR / "single.yaml").read_text().replace("name: synsec.", f"name: {prefix}synsec.")
    topo_path = tmp_path / "topology.yaml"
    topo_path.write_text(text.replace("app_id: synsec", f"app_id: {prefix}s"))
    topo = load_topology(str(topo_path))
    assert ensure_topics(BrokerSettings.from_url(broker.url), topo).ok
    until = time.time() + 86400
    store = CentralStore(tmp_path / "c")
    store.publish([Listed(ip, SCENARIO, until, True) for ip in ("45.1.1.1", "45.1.1.2")], time.time())
    store.close()
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    for ip in ("45.1.1.2", "45.1.1.3"):
        producer.send(topo.topics["blocklist"].name, key=f"Ip:{ip}".encode(),
                      value=json.dumps({"value": ip, "scenario": SCENARIO, "until": until}).encode())
    producer.flush()
    producer.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    procs.append(Proc([*SYNSEC, "central", "--listen", f"127.0.0.1:{port}", "--state-dir", str(tmp_path / "c"),
                       "--broker", broker.url, "--topology", str(topo_path), *_hub_and_rules(tmp_path)],
                      tmp_path / "central.log"))
    cred, other = {"machine_id": "w1", "password": "pw-w1"}, {"machine_id": "w2", "password": "pw-w2"}
    _wait(lambda: _registered(url, cred), 30, "synsec central")
    _call(url + "v2/watchers", other)
    token = _token(url, other)
    before = _call(url + "v2/decisions/stream?startup=true", token=token)     # w2's position: now

    def served() -> set[str]:
        return {d["value"] for d in _call(url + "v2/decisions/stream?startup=true", token=_token(url, cred))["new"]}
    _wait(lambda: served() == {"45.1.1.2", "45.1.1.3"}, 60, "the topic's blocklist")
    assert "1 listing(s) of the store are not on the topic" in (tmp_path / "central.log").read_text()
    if "45.1.1.1" in {d["value"] for d in before["new"]}:        # w2 pulled it before the follower read the topic
        delta = _call(url + "v2/decisions/stream", token=token)
        assert "45.1.1.1" in {d["value"] for d in delta["deleted"]}


def _registered(url: str, cred: dict) -> bool:
    try:
        _call(url + "v2/watchers", cred)
        return True
    except OSError:
        return False


def _token(url: str, cred: dict) -> str:
    return _call(url + "v2/watchers/login", cred)["token"]
