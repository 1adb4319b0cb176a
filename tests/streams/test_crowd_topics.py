"""Issue 12 on the real bundled broker (tansu): `synsec central --broker` and `synsec curation` create the crowd's
topics they use when the broker lacks them — signals, the compacted blocklist, the curation's changelog and trust
topics — with the topology's partitions and configs (as `synsec topics create`), instead of a broker's defaults on
first use; topics that exist are left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.kafka.admin import describe_topics, ensure_topics
from connectors.kafka.broker import free_port
from synsec.wire.kafka import BrokerSettings
from tests.integration.test_central_crowdsec import _call, _wait
from tests.streams.test_curation_topology import SYNSEC, Proc, _hub_and_rules, procs  # noqa: F401
from topologies import TOPOLOGY_DIR, load_topology

pytestmark = pytest.mark.integration


def _topology(tmp_path: Path, prefix: str):
    """The single topology (1 partition: tansu makes 4 on first use) with every name prefixed for this test."""
    text = (TOPOLOGY_DIR / "single.yaml").read_text()
    text = text.replace("name: synsec.", f"name: {prefix}synsec.").replace("app_id: synsec", f"app_id: {prefix}s")
    path = tmp_path / "topology.yaml"
    path.write_text(text)
    return path, load_topology(str(path))


def _crowd_topics(broker, topo) -> dict[str, tuple[int, str | None]]:
    """role -> (partitions, cleanup.policy) of the crowd's topics the broker has."""
    found = {t.name: t for t in describe_topics(BrokerSettings.from_url(broker.url))}
    specs = topo.all_topics
    return {role: (found[specs[role].name].partitions, found[specs[role].name].config.get("cleanup.policy"))
            for role in topo.crowd_roles if specs[role].name in found}


WANTED = {"signals": (1, "delete"), "blocklist": (1, "compact"), "changelog:curation": (1, "compact"),
          "changelog:trust": (1, "compact")}


def _central(broker, tmp_path: Path, topo_path: Path, n: int) -> tuple[Proc, str, Path]:
    port = free_port()
    log = tmp_path / f"central{n}.log"
    proc = Proc([*SYNSEC, "central", "--listen", f"127.0.0.1:{port}", "--state-dir", str(tmp_path / "c"),
                 "--topology", str(topo_path), "--broker", broker.url, *_hub_and_rules(tmp_path)], log)
    return proc, f"http://127.0.0.1:{port}/", log


def _broker_up(url: str) -> bool:
    try:
        return _call(url + "health").get("broker") == "up"
    except OSError:
        return False


def test_central_creates_the_crowds_missing_topics_as_topics_create_does(broker, tmp_path, unique_name, procs):
    """No crowd topic on the broker: central, once it reached the broker, has made the four with the topology's
    partition count and cleanup policies (the blocklist compacted) and says so; `synsec topics create` then finds
    them as it wants them; a second central start finds them and creates nothing."""
    topo_path, topo = _topology(tmp_path, unique_name() + ".")
    central, url, log = _central(broker, tmp_path, topo_path, 1)
    procs.append(central)
    assert _wait(lambda: _broker_up(url), 30, "central reaching the broker")
    assert _crowd_topics(broker, topo) == WANTED
    assert f"topic {topo.topics['blocklist'].name} (blocklist): created" in log.read_text()
    report = ensure_topics(BrokerSettings.from_url(broker.url), topo, roles=topo.crowd_roles)
    assert report.ok and not report.created
    central.stop()

    again, url, log = _central(broker, tmp_path, topo_path, 2)
    procs.append(again)
    assert _wait(lambda: _broker_up(url), 30, "central reaching the broker again")
    assert " topics: " not in log.read_text()           # nothing created, nothing differs
    assert _crowd_topics(broker, topo) == WANTED


def test_curation_creates_the_crowds_missing_topics_before_its_worker_starts(broker, tmp_path, unique_name, procs):
    """No crowd topic on the broker: `synsec curation` makes the four with the topology's partitions and configs
    before Faust or a follower touches them (tansu would make them with 4 partitions, not compacted)."""
    topo_path, topo = _topology(tmp_path, unique_name() + ".")
    log = tmp_path / "curation.log"
    procs.append(Proc([*SYNSEC, "curation", "--broker", broker.url, "--topology", str(topo_path),
                       *_hub_and_rules(tmp_path), "--state-dir", str(tmp_path / "cur"), "--session-timeout", "6",
                       "--verify-end-offsets"], log))
    assert _wait(lambda: "(changelog:trust): created" in log.read_text(), 60, "the curation creating the topics")
    assert _crowd_topics(broker, topo) == WANTED
