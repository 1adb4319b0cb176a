"""Same verdicts however the lines arrive (issue 11): one mixed sshd + nginx log, with slow sub-threshold probers
and well-paced crawlers, produced unkeyed, keyed by IP and keyed at random into 1, 4 and 8 partitions, with 1
and 2 workers, and once with a SIGKILL in the middle: every run's alerts (scenario, source, start, stop, events
count, id) and decisions are `synsec replay`'s.

Each worker set takes one segment of the log per key mode, each segment the same log a day later (so the
buckets of one segment are long gone when the next comes), and its alerts are told apart by their start time.
CI runs a subset of the matrix (it includes unkeyed x 4 partitions x 1 worker, unkeyed x 8 x 2 workers and
random keys x 1 partition); SYNSEC_TOPOLOGY_FULL=1 runs every combination.
"""

from __future__ import annotations

import calendar
import os
import subprocess
import sys
import time
from collections import Counter

import pytest

from connectors.kafka.broker import LocalBroker
from tests.streams.topology_util import (REPO, Worker, collect, create_topics, full_alerts_of, full_decisions_of,
                                         produce_typed, read_lines, replay_typed)
from synsec.engine.model import Line
from synsec.assembly.build import EngineOptions, build_engine
from tests.property.test_tie_order import tie_seconds, write_tie_content

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAY = 86400.0
KEYS = ("none", "ip", "random")
if os.environ.get("SYNSEC_TOPOLOGY_FULL") == "1":
    MATRIX = [(p, w, KEYS) for p in (1, 4, 8) for w in (1, 2)]
else:
    MATRIX = [(4, 1, ("none", "ip")), (8, 2, ("none", "random")), (1, 1, ("random",))]


def _merged(nginx: list[str], auth: list[str]) -> list[tuple[str, str]]:
    """The two files of a mixed log as one stream in time order (a line that does not parse keeps the time of
    the line before it in its file), each line with its type."""
    engine, _ = build_engine(EngineOptions(reference_year=time.gmtime().tm_year))
    timed = []
    for lines, log_type in ((nginx, "nginx"), (auth, "syslog")):
        ts = 0.0
        for i, line in enumerate(lines):
            evt = engine.parse(Line(line, "t", {"type": log_type}))
            ts = evt.ts if evt is not None else ts
            timed.append((ts, log_type == "syslog", i, line, log_type))
    return [(line, log_type) for *_k, line, log_type in sorted(timed)]


class _Logs:
    """The test log, one copy per day offset, with what replay decides on it."""

    def __init__(self, tmp_path):
        self.dir = tmp_path
        self.cache: dict[int, tuple] = {}

    def __call__(self, day: int):
        if day not in self.cache:
            out = self.dir / f"mixed-{day}.log"
            subprocess.run([sys.executable, str(REPO / "bench" / "gen_log.py"), "--kind", "mixed", "--lines", "3000",
                            "--rate", "5", "--seed", "11", "--attack-ratio", "0.1", "--near-misses", "4",
                            "--start", f"2026-03-{1 + day:02d}T08:00:00", "-o", str(out)], check=True, cwd=REPO,
                           capture_output=True)
            pairs = _merged(read_lines(out), read_lines(out.with_suffix(".auth.log")))
            start = calendar.timegm((2026, 3, 1 + day, 0, 0, 0))
            self.cache[day] = (pairs, *replay_typed(pairs), start)
        return self.cache[day]


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    return _Logs(tmp_path_factory.mktemp("event-order"))


def _topology(tmp_path, partitions: int) -> str:
    """`default` with every topic on `partitions` partitions."""
    path = tmp_path / f"p{partitions}.yaml"
    text = (REPO / "topologies" / "default.yaml").read_text()
    assert "  partitions: 4 " in text
    path.write_text(text.replace("  partitions: 4 ", f"  partitions: {partitions} "))
    return str(path)


def _segment(got, start: float):
    """The alerts and decisions of the segment whose events start on the day at `start`."""
    alerts = [a for a in full_alerts_of(got["synsec.alerts"]) if start <= a[2] < start + DAY]
    ids = {a[5] for a in alerts}
    return Counter(alerts), {d for d in full_decisions_of(got["synsec.decisions"]) if d[4] in ids}


def _wait(broker, start: float, n: int, timeout: float = 150.0):
    return collect(broker, ["synsec.alerts", "synsec.decisions"],
                   lambda g: sum(start <= a[2] < start + DAY for a in full_alerts_of(g["synsec.alerts"])) >= n,
                   timeout=timeout)


def test_the_log_has_near_misses_and_replay_bans_none_of_them(logs):
    """The log is what the finding needs: slow probers and crawlers that replay does not ban, among attacks
    that it does (sshd and nginx)."""
    pairs, alerts, decisions, _start = logs(0)
    sources = {a[1] for a in alerts}
    assert {t for _l, t in pairs} == {"nginx", "syslog"} and len(alerts) >= 10 and decisions
    assert {a[0] for a in alerts} >= {"synsec/ssh-bf", "synsec/http-probing"}
    assert not any(s.startswith("207.46.13.") for s in sources)        # the crawlers
    assert sum(line.count("bingbot") for line, _t in pairs) >= 100


@pytest.mark.parametrize("partitions,workers,keys", MATRIX,
                         ids=[f"p{p}-w{w}-{'+'.join(k)}" for p, w, k in MATRIX])
def test_unkeyed_raw_lines_give_replays_verdicts(tmp_path, logs, partitions, workers, keys):
    """Regression (unkeyed raw lines gave false bans): whatever the message keys, partition and worker counts,
    the topology's alerts (ids, counts, start and stop) and decisions are replay's, nothing more."""
    with LocalBroker(log_dir=tmp_path / "tansu") as broker:
        topology = _topology(tmp_path, partitions)
        create_topics(broker, topology)
        procs = [Worker(broker, topology, tmp_path, f"w{i}") for i in range(workers)]
        try:
            for day, mode in enumerate(keys):
                pairs, alerts, decisions, start = logs(day)
                produce_typed(broker, pairs, mode, seed=day)
                got_alerts, got_decisions = _segment(_wait(broker, start, sum(alerts.values())), start)
                assert got_alerts == alerts, (mode, procs[0].tail())
                assert got_decisions == decisions, mode
        finally:
            for p in procs:
                p.stop()


def test_a_worker_killed_with_records_held_loses_none_and_pours_none_twice(tmp_path, logs):
    """A worker that never committed an offset is SIGKILLed while records wait for event-time order (held in the
    bucket table's changelog) on 4 partitions fed unkeyed lines; its successor reads everything again: every
    alert comes out with replay's id and counts, and replay's decisions, none lost and none counted twice."""
    pairs, alerts, decisions, start = logs(0)
    cut = len(pairs) // 2
    with LocalBroker(log_dir=tmp_path / "tansu") as broker:
        create_topics(broker, "default")
        # idle after 60 s only: the records of the last second or so of the first half stay held until the kill
        first = Worker(broker, "default", tmp_path, "first", args=("--commit-interval", "3600",
                                                                   "--idle-advance", "60"))
        produce_typed(broker, pairs[:cut], "none")
        got = collect(broker, ["synsec.alerts", "synsec-buckets-changelog"],
                      lambda g: len(g["synsec.alerts"]) >= 3 and _held(g["synsec-buckets-changelog"]),
                      timeout=120, quiet=0.5)
        first.kill()
        assert _held(got["synsec-buckets-changelog"]), first.tail()
        second = Worker(broker, "default", tmp_path, "second")
        try:
            produce_typed(broker, pairs[cut:], "none")
            got = _wait(broker, start, sum(alerts.values()))
        finally:
            second.stop()
    got_alerts, got_decisions = _segment(got, start)
    assert set(got_alerts) == set(alerts), second.tail()
    assert all(n <= 2 for n in got_alerts.values())                     # at-least-once: a repeat has the same id
    assert got_decisions == decisions


def test_same_second_lines_in_adversarial_order_decide_as_replay(tmp_path):
    """Regression (ties were poured by content in the topology, by file order in replay): a `distinct` and a
    `cancel_on` scenario fed several different lines per second, each second's lines in descending order,
    unkeyed into 4 partitions read by 2 workers: replay's alerts and decisions, the tie scenarios' included."""
    cfg = write_tie_content(tmp_path / "cfg")
    pairs = [(line, "syslog") for s in tie_seconds() for line in reversed(s)]
    alerts, decisions = replay_typed(pairs, EngineOptions(config_dir=cfg, reference_year=time.gmtime().tm_year))
    assert {a[0] for a in alerts} >= {"test/tie-distinct", "test/tie-cancel"}
    with LocalBroker(log_dir=tmp_path / "tansu") as broker:
        create_topics(broker, "default")
        procs = [Worker(broker, "default", tmp_path, f"w{i}", args=("--config-dir", str(cfg))) for i in range(2)]
        try:
            produce_typed(broker, pairs, "none")
            got = collect(broker, ["synsec.alerts", "synsec.decisions"],
                          lambda g: len(g["synsec.alerts"]) >= sum(alerts.values()), timeout=150)
        finally:
            for p in procs:
                p.stop()
    assert Counter(full_alerts_of(got["synsec.alerts"])) == alerts, procs[0].tail()
    assert full_decisions_of(got["synsec.decisions"]) == decisions


def _held(changelog) -> int:
    """Records held in the bucket table, as its changelog says now (last value per key)."""
    last = {}
    for m in changelog:
        last[m.key] = m.value
    return sum(1 for k, v in last.items() if k.startswith(b"\x00held\x00") and v is not None)
