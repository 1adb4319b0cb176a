"""The crowd's Kafka path on the real bundled broker (tansu): `synsec central --broker` produces accepted signals to
the topology's signals topic, `synsec curation` (Faust, state in its changelogged table) lists what three
independent watchers report and publishes it on the compacted blocklist topic, and central serves it — also
after the curation worker was killed and rebuilt its state from the changelog."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.kafka.admin import ensure_topics
from connectors.kafka.broker import free_port
from synsec.wire.kafka import BrokerSettings
from tests.integration.test_central_crowdsec import _call, _wait
from tests.procutil import stop
from topologies import TOPOLOGY_DIR, load_topology

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SYNSEC = [sys.executable, "-m", "synsec.cli.main"]
H = "c" * 64
SCENARIO = "crowdsecurity/http-probing"
class Proc:
    def __init__(self, cmd: list[str], log: Path):
        self.log = log
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def stop(self, sig=signal.SIGTERM) -> None:
        stop(self.proc, sig, grace=20)


@pytest.fixture
def procs():
    started: list[Proc] = []
    yield started
    for p in started:
        p.stop()


def test_central_and_the_curation_topology_list_through_the_broker(broker, tmp_path, unique_name, procs):
    """3 watchers report an attacker through central; the curation topology lists it on the blocklist topic and
    central serves it. The curation worker is then SIGKILLed: restarted, it rebuilds the partition from its
    changelog, so a third report of an address two watchers reported before the kill lists it too."""
    prefix = unique_name() + "."
    topo_text = (TOPOLOGY_DIR / "single.yaml").read_text()
    topo_text = topo_text.replace("name: synsec.", f"name: {prefix}synsec.").replace("app_id: synsec",
                                                                                      f"app_id: {prefix}s")
    topo_path = tmp_path / "topology.yaml"
    topo_path.write_text(topo_text)
    assert ensure_topics(BrokerSettings.from_url(broker.url), load_topology(str(topo_path))).ok
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    common = ["--topology", str(topo_path), *_hub_and_rules(tmp_path)]
    procs.append(Proc([*SYNSEC, "central", "--listen", f"127.0.0.1:{port}", "--state-dir", str(tmp_path / "c"),
                       "--broker", broker.url, *common], tmp_path / "central.log"))
    curation_cmd = [*SYNSEC, "curation", "--broker", broker.url, *common, "--state-dir", str(tmp_path / "cur"),
                    "--session-timeout", "6", "--verify-end-offsets", "--loglevel", "info"]
    worker = Proc(curation_cmd, tmp_path / "curation1.log")
    procs.append(worker)
    _wait(lambda: _health(url), 30, "synsec central")
    tokens = {}
    for who in ("w1", "w2", "w3"):
        cred = {"machine_id": who, "password": f"pw-{who}"}
        _call(url + "v2/watchers", cred)
        tokens[who] = _call(url + "v2/watchers/login", cred)["token"]

    def report(who: str, ip: str) -> None:
        _call(url + "v2/signals", [{"scenario": SCENARIO, "scenario_hash": H, "scenario_version": "0.2",
                                    "source": {"scope": "Ip", "value": ip}, "start_at": "2026-11-22T10:00:00Z",
                                    "stop_at": "2026-11-22T10:00:05Z"}], tokens[who])

    def listed() -> set[str]:
        got = _call(url + "v2/decisions/stream?startup=true", token=tokens["w1"])
        return {d["value"] for d in got["new"]}

    for who in ("w1", "w2", "w3"):
        report(who, "45.13.227.7")
    for who in ("w1", "w2"):
        report(who, "45.13.227.8")
    assert _wait(lambda: listed() == {"45.13.227.7"} and listed(), 90, "the first listing through the topology")
    worker.stop(signal.SIGKILL)
    procs.append(Proc(curation_cmd, tmp_path / "curation2.log"))
    report("w3", "45.13.227.8")
    assert _wait(lambda: listed() == {"45.13.227.7", "45.13.227.8"} and listed(), 90,
                 "the listing that needs the state before the kill")
    why = _call(url + "v2/crowd/explain?ip=45.13.227.8", token=tokens["w2"])
    assert why["listed"] and why["rule"].startswith("decided by the curation topology")
    assert "rebuilt from the table" in (tmp_path / "curation2.log").read_text()


def _hub_and_rules(tmp_path: Path) -> list[str]:
    """Central's and the curation's --curation and --hub-index options: one scenario, no same-block cohorts."""
    rules = tmp_path / "curation.yaml"
    rules.write_text("cohorts: {same_block: false}\n")          # every watcher registers from 127.0.0.1
    index = tmp_path / "index.json"
    index.write_text(json.dumps({"scenarios": {SCENARIO: {
        "path": f"scenarios/{SCENARIO}.yaml", "version": "0.2", "labels": {"service": "http"},
        "content": base64.b64encode(b"type: leaky\n").decode(), "versions": {"0.2": {"digest": H}}}}}))
    return ["--curation", str(rules), "--hub-index", str(index)]


def _health(url: str) -> bool:
    try:
        return _call(url + "health").get("status") == "up"
    except OSError:
        return False
