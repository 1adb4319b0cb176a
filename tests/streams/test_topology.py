"""The Faust topology against a real broker (tansu): same verdicts as replay, scale-out, restart, poison."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter

import pytest

from connectors.kafka.broker import LocalBroker
from tests.streams.topology_util import (CODECS, REPO, Worker, alerts_of, collect, committed, create_topics,
                                         decisions_of,
                                         produce_lines, produce_raw, read_lines, replay_alert_ids,
                                         replay_reference)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SAMPLES = REPO / "scenarios" / "samples"


@pytest.fixture
def local_broker(tmp_path):
    """A broker of this test's own (tansu starts in ~0.05 s): no state shared between topology tests."""
    b = LocalBroker(log_dir=tmp_path / "tansu").start()
    try:
        yield b
    finally:
        b.stop()


def _split_topology(tmp_path) -> str:
    """`single` with routing as an agent of its own (reading synsec.events) instead of inside parse."""
    path = tmp_path / "split.yaml"
    text = (REPO / "topologies" / "single.yaml").read_text()
    assert "route: {inline: true}" in text
    path.write_text(text.replace("route: {inline: true}", "route: {concurrency: 1}"))
    return str(path)


def _run(broker, tmp_path, topology: str, batches: list[tuple[list[str], str]], expected: Counter, workers=1):
    create_topics(broker, topology)
    procs = [Worker(broker, topology, tmp_path, f"w{i}") for i in range(workers)]
    try:
        for lines, log_type in batches:
            produce_lines(broker, lines, log_type)
        n = sum(expected.values())
        got = collect(broker, ["synsec.alerts", "synsec.decisions"],
                      lambda g: len(g["synsec.alerts"]) >= n, timeout=120)
    finally:
        for p in procs:
            p.stop()
    return got, procs


@pytest.mark.parametrize("routing", ["inline", "agent"])
def test_same_verdicts_as_replay(local_broker, tmp_path, routing):
    """nginx + sshd samples through the topology give replay's alerts (scenario, source, count) and decisions,
    whether parse routes its events itself or a route agent reads them from synsec.events."""
    nginx, auth = read_lines(SAMPLES / "nginx-demo.log"), read_lines(SAMPLES / "auth-demo.log")
    ref_n, dec_n, _ = replay_reference(nginx, "nginx")
    ref_a, dec_a, _ = replay_reference(auth, "syslog")
    expected = ref_n + ref_a
    topology = "single" if routing == "inline" else _split_topology(tmp_path)
    got, procs = _run(local_broker, tmp_path, topology, [(nginx, "nginx"), (auth, "syslog")], expected)
    assert Counter(alerts_of(got["synsec.alerts"])) == expected, procs[0].tail()
    assert decisions_of(got["synsec.decisions"]) == dec_n | dec_a
    keys = {m.key.decode() for m in got["synsec.decisions"]}
    assert keys == {f"{s}:{v}" for s, v, _t, _sc in dec_n | dec_a}
    ids = {CODECS.decode("alert", m.value)["uuid"] for m in got["synsec.alerts"]}
    assert ids == replay_alert_ids(nginx, "nginx") | replay_alert_ids(auth, "syslog")   # ids travel with alerts


def _generated(tmp_path, lines: int) -> list[str]:
    out = tmp_path / "mixed.log"
    subprocess.run([sys.executable, str(REPO / "bench" / "gen_log.py"), "--kind", "nginx", "--lines", str(lines),
                    "--seed", "7", "--attack-ratio", "0.3", "-o", str(out)], check=True, cwd=REPO)
    return read_lines(out)


def test_two_workers_split_buckets_and_agree_with_one(tmp_path):
    """On 4 partitions, two workers share the buckets and together give the alerts one worker gives."""
    lines = _generated(tmp_path, 3000)
    expected, _, _ = replay_reference(lines, "nginx")
    assert sum(expected.values()) >= 5
    results = []
    for workers in (1, 2):
        workdir = tmp_path / f"run{workers}"
        workdir.mkdir()
        with LocalBroker(log_dir=workdir / "tansu") as broker:
            got, procs = _run(broker, workdir, "default", [(lines, "nginx")], expected, workers=workers)
            results.append(Counter(alerts_of(got["synsec.alerts"])))
            assert all(p.proc.returncode is not None for p in procs)
    assert results[0] == expected
    assert results[1] == results[0]


def test_sigkill_mid_stream_loses_nothing(local_broker, tmp_path):
    """A worker killed with a bucket half full: after a restart the bucket overflows at the same event."""
    lines = read_lines(SAMPLES / "auth-demo.log")
    expected, decisions, first_at = replay_reference(lines, "syslog")
    (scenario, ip), at = max(first_at.items(), key=lambda kv: kv[1])     # the last alert to form
    cut = at - 1                                                         # its bucket holds events, not full
    create_topics(local_broker, "single")
    first = Worker(local_broker, "single", tmp_path, "first")
    produce_lines(local_broker, lines[:cut], "syslog")
    early = sum(n for (sc, src, _c), n in expected.items() if first_at[(sc, src)] < cut)
    collect(local_broker, ["synsec.alerts", "synsec-buckets-changelog"],
            lambda g: len(g["synsec.alerts"]) >= early and len(g["synsec-buckets-changelog"]) > 0, timeout=90,
            quiet=2.0)
    first.kill()
    second = Worker(local_broker, "single", tmp_path, "second")
    try:
        produce_lines(local_broker, lines[cut:], "syslog")
        got = collect(local_broker, ["synsec.alerts", "synsec.decisions"],
                      lambda g: len(set(alerts_of(g["synsec.alerts"]))) >= len(expected), timeout=120)
    finally:
        second.stop()
    alerts = Counter(alerts_of(got["synsec.alerts"]))
    assert set(alerts) == set(expected), second.tail()                   # none lost, same counts
    assert all(n <= 2 for n in alerts.values())                          # at-least-once, not more
    target = [a for a in alerts if a[0] == scenario and a[1] == ip]
    assert target and target[0][2] == next(c for (sc, src, c) in expected if (sc, src) == (scenario, ip))
    assert decisions_of(got["synsec.decisions"]) == decisions


def test_a_source_read_again_after_a_crash_is_poured_once(local_broker, tmp_path):
    """A worker that never got to commit its offsets is SIGKILLed: its successor parses synsec.raw again from
    the start and routes every line again, under new buckets-in offsets. The routed records carry their origin
    (raw partition and offset), the bucket table remembers the newest origin poured, and nothing is poured twice:
    every alert comes out once, with replay's event counts."""
    lines = read_lines(SAMPLES / "auth-demo.log")
    expected, decisions, first_at = replay_reference(lines, "syslog")
    (scenario, ip), at = max(first_at.items(), key=lambda kv: kv[1])
    cut = at - 1
    create_topics(local_broker, "single")
    first = Worker(local_broker, "single", tmp_path, "first", args=("--commit-interval", "3600"))
    produce_lines(local_broker, lines[:cut], "syslog")
    early = sum(n for (sc, src, _c), n in expected.items() if first_at[(sc, src)] < cut)
    assert early >= 1
    collect(local_broker, ["synsec.alerts", "synsec-buckets-changelog"],
            lambda g: len(g["synsec.alerts"]) >= early and len(g["synsec-buckets-changelog"]) > 0, timeout=90,
            quiet=2.0)
    first.kill()
    assert committed(local_broker, "synsec", "synsec.raw") in (None, 0), "the first worker committed: no re-read"
    second = Worker(local_broker, "single", tmp_path, "second")
    try:
        produce_lines(local_broker, lines[cut:], "syslog")
        got = collect(local_broker, ["synsec.alerts", "synsec.decisions"],
                      lambda g: len(g["synsec.alerts"]) >= sum(expected.values()), timeout=120)
    finally:
        second.stop()
    assert Counter(alerts_of(got["synsec.alerts"])) == expected, second.tail()
    assert decisions_of(got["synsec.decisions"]) == decisions
    assert committed(local_broker, "synsec", "synsec.raw") == len(lines)          # the successor read it all


def test_poison_messages_go_to_the_dead_letter_topic(local_broker, tmp_path):
    """Garbage and wrong-schema values on every input topic are dead-lettered; the agents keep going.
    (Routing runs as an agent here, so that synsec.events is an input topic too.)"""
    topology = _split_topology(tmp_path)
    create_topics(local_broker, topology)
    worker = Worker(local_broker, topology, tmp_path)
    try:
        wrong_schema = CODECS.encode("decision", {"id": "x", "alert_id": "", "origin": "o", "scenario": "s",
                                                  "scope": "Ip", "value": "1.2.3.4", "type": "ban",
                                                  "duration": 1.0, "until": 2.0, "simulated": False})
        garbage = [b"\x00\x00\x00\x00\x01garbage", b"\xff\xfe\xfd", wrong_schema]
        for topic in ("synsec.events", "synsec.buckets-in", "synsec.alerts"):
            produce_raw(local_broker, topic, garbage)
        produce_raw(local_broker, "synsec.raw", [b'{"no_message": 1}', b'{"message": "\\ud800"} x', b"[1, 2]"])
        lines = read_lines(SAMPLES / "auth-demo.log")
        expected, _, _ = replay_reference(lines, "syslog")
        produce_lines(local_broker, lines, "syslog")
        got = collect(local_broker, ["synsec.deadletter", "synsec.alerts"],
                      lambda g: len(g["synsec.deadletter"]) >= 12 and
                      len(g["synsec.alerts"]) >= len(garbage) + sum(expected.values()), timeout=120)
    finally:
        worker.stop()
    letters = [CODECS.decode("dead_letter", m.value) for m in got["synsec.deadletter"]]
    by_topic = Counter(dl["topic"] for dl in letters)
    assert by_topic == {"synsec.raw": 3, "synsec.events": 3, "synsec.buckets-in": 3, "synsec.alerts": 3}, \
        worker.tail()
    assert all(dl["error"] and dl["offset"] >= 0 for dl in letters)
    produced = [m for m in got["synsec.alerts"] if m.offset >= len(garbage)]   # after the test's own garbage
    assert not expected - Counter(alerts_of(produced))                        # valid lines still processed
