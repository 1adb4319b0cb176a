"""Issue 12: a reporter's name is any machine id central's registration accepts (1-128 of A-Za-z0-9_.@-), and none
of them collides with the curation topology's own keys on the trust topic (a partition's minute-done and joins-done
marks): watchers named `@`, `#`-free look-alikes and the longest id list an address through the real bundled broker
(tansu), and a trust topic holding such reporters' counts beside the marks reads both."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from connectors.central.server import _MACHINE_ID
from connectors.kafka.admin import ensure_topics
from connectors.kafka.broker import free_port
from streams.curation import _DONE, _JOINED, TrustTable
from synsec.wire.kafka import BrokerSettings
from tests.integration.test_central_crowdsec import _call, _wait
from connectors.central.curation import EPOCH
from tests.streams.test_crash_cuts import _recover as final
from tests.streams.test_crowd_topics import _topology
from tests.streams.test_curation_partitions import (T0, Setup, _mark, _produce, in_process, per_key,
                                                    rules_and_options)
from tests.streams.test_curation_topology import H, SCENARIO, SYNSEC, Proc, _health, _hub_and_rules, procs  # noqa: F401

NAMES = ["@", "@@", "-", "meta", "a" * 128]


def test_the_trust_topics_marks_are_no_machine_id_and_reporters_named_like_old_marks_are_read():
    """The marks are outside the registration charset; a reporter named `@` on a partition is counts, not that
    partition's minute mark; records of the old marks (`@`, `#`: an epoch, not counts) are skipped."""
    assert not any(_MACHINE_ID.fullmatch(mark) for mark in (_DONE, _JOINED))
    assert all(_MACHINE_ID.fullmatch(name) for name in NAMES)
    trust = TrustTable(2)
    trust.apply(b"0\x00@", b"7")                         # an old mark, left in a compacted topic
    trust.apply(b"1\x00#", b"7")
    for p in (0, 1):
        trust.apply(f"{p}\x00@".encode(), json.dumps([3, [2, 0, 0, 0, 0], [1, 0, 0, 0, 0]]).encode())
        trust.apply(f"{p}\x00{_DONE}".encode(), b"5")
    assert trust.complete(5) and not trust.complete(6) and not trust.joined
    assert trust.counts("@", 4) == (4, 0, 0, 0, 0) and trust.counts("@", 3) == (2, 0, 0, 0, 0)


@pytest.mark.integration
def test_watchers_named_at_and_the_longest_ids_list_through_the_topology(broker, tmp_path, unique_name, procs):
    """Watchers `@`, `@@` and a 128-character id report an attacker through central --broker; the curation
    topology lists it (with `@` among the reporters it used to read as partition 0's minute mark)."""
    topo_path, topo = _topology(tmp_path, unique_name() + ".")
    assert ensure_topics(BrokerSettings.from_url(broker.url), topo).ok
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    common = ["--topology", str(topo_path), *_hub_and_rules(tmp_path)]
    procs.append(Proc([*SYNSEC, "central", "--listen", f"127.0.0.1:{port}", "--state-dir", str(tmp_path / "c"),
                       "--broker", broker.url, *common], tmp_path / "central.log"))
    procs.append(Proc([*SYNSEC, "curation", "--broker", broker.url, *common, "--state-dir", str(tmp_path / "cur"),
                       "--session-timeout", "6", "--verify-end-offsets", "--loglevel", "info"],
                      tmp_path / "curation.log"))
    assert _wait(lambda: _health(url), 30, "synsec central")
    tokens = {}
    for who in ("@", "@@", "a" * 128):
        cred = {"machine_id": who, "password": "pw"}
        assert _call(url + "v2/watchers", cred) == {"message": "watcher registered"}
        tokens[who] = _call(url + "v2/watchers/login", cred)["token"]
    for who, token in tokens.items():
        _call(url + "v2/signals", [{"scenario": SCENARIO, "scenario_hash": H, "scenario_version": "0.2",
                                    "source": {"scope": "Ip", "value": "45.13.227.7"},
                                    "start_at": "2026-11-22T10:00:00Z", "stop_at": "2026-11-22T10:00:05Z"}], token)

    def listed() -> set[str]:
        got = _call(url + "v2/decisions/stream?startup=true", token=tokens["@"])
        return {d["value"] for d in got["new"]}

    assert _wait(lambda: listed() == {"45.13.227.7"}, 90, "the listing through the topology")
    assert "Traceback" not in (tmp_path / "curation.log").read_text()


@pytest.mark.integration
def test_reporters_named_at_keep_the_minute_barrier_working_across_minutes(broker, tmp_path, unique_name):
    """Reporters `@`, `@@`, `-` and `meta` list one address in a minute (their counts then go out on the trust topic
    as `<p>\\0@`…, where `@` was partition p's minute mark) and another two minutes later: 2 partitions, one worker,
    the blocklist is the in-process one (the old marks made the trust follower fail and the second listing wait)."""
    rules, common = rules_and_options(tmp_path)
    events = [("register", name, f"{20 + i}.1.{i}.9", T0 - 86400 + i * 3600) for i, name in enumerate(NAMES)]
    for k, ip in enumerate(["45.13.227.7", "45.13.227.8", "45.13.227.9"]):
        events += [("signals", who, [ip], T0 + k * 2 * EPOCH + i) for i, who in enumerate(NAMES[k % 2:][:3])]
    expected, end, _ = in_process(events, rules)
    assert len(final(expected)) == 3
    s = Setup(broker, tmp_path, unique_name(), 2, 1, common)
    try:
        asyncio.run(_produce([s], events, rules, [T0]))
        asyncio.run(_mark([s], end))
        deadline = time.monotonic() + 90
        while per_key(s.blocklist()) != per_key(expected) and time.monotonic() < deadline:
            time.sleep(1.0)
        assert per_key(s.blocklist()) == per_key(expected), s.procs[0].log.read_text(errors="replace")[-3000:]
    finally:
        for p in s.procs:
            p.stop()
