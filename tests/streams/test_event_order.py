"""Same verdicts however the lines arrive (issue 11): one mixed sshd + nginx log, with slow sub-threshold probers
and well-paced crawlers, produced unkeyed, keyed by IP and keyed at random into 1, 4 and 8 partitions, with 1
and 2 workers, once with a SIGKILL in the middle, and once with a SIGKILL beside a second worker that takes
over: every run's alerts (scenario, source, start, stop, events count, id) and decisions are `synsec replay`'s.

Each worker set takes one segment of the log per key mode, each segment the same log a day later (so the
buckets of one segment are long gone when the next comes), and its alerts are told apart by their start time.
CI runs a subset of the matrix (it includes unkeyed x 4 partitions x 1 worker, unkeyed x 8 x 2 workers and
random keys x 1 partition); SYNSEC_TOPOLOGY_FULL=1 runs every combination.

The edge cases after it (streams.ordering): same-second lines fed to `distinct` and `cancel_on` scenarios in
adversarial order, `reprocess: true` overflows poured by another scenario, and a partition coming back from
idle with a line its shipper delivered behind later ones: replay's verdicts, and no record counted late.
"""

from __future__ import annotations

import calendar
import json
import os
import random
import re
import shutil
import urllib.request
import subprocess
import sys
import time
from collections import Counter

import pytest

from connectors.kafka.broker import LocalBroker, free_port
from synsec.content.loader import default_content_dir
from synsec.metrics import parse
from streams.metrics import HELD
from tests.streams.topology_util import (REPO, Worker, collect, create_topics, full_alerts_of, full_decisions_of,
                                         order_report, produce_typed, read_lines, replay_typed)
from synsec.engine.model import Line
from synsec.assembly.build import EngineOptions, build_engine
from tests.property.test_tie_order import TIE_SCENARIOS, tie_seconds, write_tie_content

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


_RESTART_COUNTERS = ("late", "forced", "repeated", "rerouted", "redelivered", "poured")


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
        port = free_port()
        second = Worker(broker, "default", tmp_path, "second", args=("--metrics-listen", f"127.0.0.1:{port}"))
        try:
            produce_typed(broker, pairs[cut:], "none")
            got = _wait(broker, start, sum(alerts.values()))
            counts = {c: _agent_count(port, "buckets", c) for c in _RESTART_COUNTERS}
            got_alerts, got_decisions = _segment(got, start)
            missing = sorted(set(alerts) - set(got_alerts))
            report = order_report(broker, missing) if set(got_alerts) != set(alerts) else ""
        finally:
            second.stop()
    # the counters tell a record poured out of order (late, forced) from one taken twice (repeated, rerouted...)
    assert set(got_alerts) == set(alerts), \
        f"{sorted(set(got_alerts) ^ set(alerts))}\ncounts: {counts}\n{report}\n{second.tail()}"
    assert all(n <= 2 for n in got_alerts.values())                     # at-least-once: a repeat has the same id
    assert got_decisions == decisions


@pytest.mark.alone
def test_a_worker_killed_beside_another_with_records_held_hands_them_over_once(tmp_path, logs):
    """Regression (issue 11: alerts with later stops and more events after a rebalance on a loaded machine): two
    workers share 4 partitions fed unkeyed lines; one, which never committed, is SIGKILLed while records wait for
    event-time order, and the other takes its partitions over at the rebalance (their changelog recovered, the
    raw partitions read again from the start) while the rest of the log comes: replay's alerts and decisions,
    and once every source is idle no record is left held in the changelog (one left would be poured again by
    the next owner). It failed when the end of the recovery dropped buffered messages (2 runs in 8 at load
    13): streams.transport's fetch loop then skipped lines it was to read again; and with records late (3 runs
    in 12 at load 13-16; 3 traced, 23 to 81 late from the first lines on): streams.ordering let the
    sources of the worker that routed first past the other's, marked idle before it knew any time (test_ordering);
    and probably once (two alerts of one partition missing, nothing late or left held; not traced) when the
    message the fetch loop was handing over at that drop reached an agent before the dropped ones came again,
    which it then skipped as taken (traced as offset jumps in 3 of 24 runs on a starved CPU share; test_transport)."""
    pairs, alerts, decisions, start = logs(0)
    cut = len(pairs) // 2
    port, victim_port = free_port(), free_port()
    with LocalBroker(log_dir=tmp_path / "tansu") as broker:
        create_topics(broker, "default")
        victim = Worker(broker, "default", tmp_path, "victim", args=("--commit-interval", "3600",
                                                                     "--idle-advance", "60", "--loglevel", "info",
                                                                     "--metrics-listen", f"127.0.0.1:{victim_port}"))
        # --idle-advance 10: a worker that fetches its first lines seconds after the other (a loaded machine)
        # must not find the other's sources idle already (streams.ordering: their records would be late)
        survivor = Worker(broker, "default", tmp_path, "survivor", args=("--metrics-listen", f"127.0.0.1:{port}",
                                                                         "--loglevel", "info", "--idle-advance", "10"))
        try:
            collect(broker, ["synsec.alerts"], lambda g: _same_generation([victim.log, survivor.log]), timeout=60,
                    quiet=0)
            produce_typed(broker, pairs[:cut], "none")
            got = collect(broker, ["synsec.alerts", "synsec-buckets-changelog"],
                          lambda g: len(g["synsec.alerts"]) >= 3 and _held(g["synsec-buckets-changelog"]),
                          timeout=120, quiet=0.5)
            late_before = [_agent_count(p, "buckets", "late") for p in (victim_port, port)]   # told apart on failure
            victim.kill()
            assert _held(got["synsec-buckets-changelog"]), victim.tail()
            produce_typed(broker, pairs[cut:], "none")
            got = _wait(broker, start, sum(alerts.values()))
            left = collect(broker, ["synsec-buckets-changelog"],
                           lambda g: not _held(g["synsec-buckets-changelog"]), timeout=30, quiet=0)
            counts = {c: _agent_count(port, "buckets", c) for c in _RESTART_COUNTERS}
            counts["late before the kill (victim, survivor)"] = late_before
            counts["held now"] = _gauge(port, HELD)
            got_alerts, got_decisions = _segment(got, start)
            report = "" if set(got_alerts) == set(alerts) and not _held(left["synsec-buckets-changelog"]) else \
                order_report(broker, sorted(set(alerts) - set(got_alerts)))
        finally:
            survivor.stop()
            victim.stop()
    # a string: pytest cuts a message of any other type short (the counts of the first failures were lost)
    why = f"alerts not replay's: {sorted(set(got_alerts) ^ set(alerts))}\nsurvivor's counts: {counts}\n{report}"
    assert set(got_alerts) == set(alerts), why
    assert all(n <= 2 for n in got_alerts.values())                     # at-least-once: a repeat has the same id
    assert got_decisions == decisions
    assert not _held(left["synsec-buckets-changelog"]), why


def _same_generation(logs: list) -> bool:
    """Whether workers logging at info level have all recovered their tables in the same, last generation of the
    group (Faust logs "generation id N" when partitions are assigned, "Restore complete!" when they are ready)."""
    done = set()
    for log in logs:
        text = log.read_text(errors="replace")
        at = [m for m in re.finditer(r"generation id (\d+) app consumers id", text)]
        if not at or "Restore complete!" not in text[at[-1].end():]:
            return False
        done.add(at[-1].group(1))
    return len(done) == 1


REPROCESS = {
    "rp-burst": ("a burst per IP, its overflow poured again", "evt.Meta.log_type == 'ssh_failed-auth'",
                 "groupby: evt.Meta.source_ip\ncapacity: 2\nleakspeed: 10s\nblackhole: 1m\nreprocess: true\n"),
    "rp-wave": ("bursts of several IPs close together: fed only reprocessed overflows",
                "evt.GetType() == 'overflow' && evt.Overflow.Alert.Scenario == 'test/rp-burst'",
                "distinct: evt.Overflow.Alert.Source.Value\ncapacity: 2\nleakspeed: 20s\n"),
}


def _reprocess_content(root) -> None:
    shutil.copytree(default_content_dir(), root)
    for name, (what, filt, rest) in REPROCESS.items():
        (root / "scenarios" / f"zz-{name}.yaml").write_text(
            f"type: leaky\nname: test/{name}\ndescription: \"{what}\"\nfilter: \"{filt}\"\n{rest}")


def _bursts(n: int = 40) -> list[tuple[str, str]]:
    """sshd failures: each of n IPs makes a burst of 2 to 5 at a random time of a 10-minute window."""
    rng, lines = random.Random(4), []
    for i in range(n):
        start = calendar.timegm((2026, 3, 1, 9, 0, 0)) + rng.randrange(0, 600)
        for k in range(rng.choice([2, 3, 4, 5])):
            t = time.gmtime(start + k // 2)
            stamp = f"{time.strftime('%b', t)} {t.tm_mday:>2} {time.strftime('%H:%M:%S', t)}"
            lines.append((start + k // 2, f"{stamp} web1 sshd[{200 + i}]: Failed password for root from "
                                          f"198.51.100.{i + 1} port {41000 + k} ssh2"))
    return [(line, "syslog") for _ts, line in sorted(lines)]


def _samples(port: int) -> list:
    """A worker's /metrics, parsed."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as res:
        return parse(res.read().decode())


def _gauge(port: int, name: str) -> float:
    return sum(s.value for s in _samples(port) if s.name == name)


def _agent_count(port: int, agent: str, counter: str) -> float:
    return sum(s.value for s in _samples(port) if s.name == "synsec_worker_agent_total" and s.get("agent") == agent
               and s.get("counter") == counter)


def test_same_second_ties_and_reprocessed_overflows_decide_as_replay_and_none_is_late(tmp_path):
    """Regressions: (ties) a `distinct` and a `cancel_on` scenario fed several different lines per second,
    each second's lines in descending order (the topology poured ties by content, replay by file order);
    (reprocess) a `reprocess: true` scenario per IP feeding a scenario of bursts of several IPs (its overflow
    events came back behind the watermark, late and out of order). Unkeyed into 4 partitions read by 2
    workers: replay's alerts and decisions, every scenario's included, and no record counted late."""
    cfg = tmp_path / "cfg"
    _reprocess_content(cfg)
    write_tie_content(tmp_path / "ties")
    for name in TIE_SCENARIOS:
        shutil.copy(tmp_path / "ties" / "scenarios" / f"zz-{name}.yaml", cfg / "scenarios")
    pairs = [(line, "syslog") for s in tie_seconds() for line in reversed(s)] + _bursts()
    alerts, decisions = replay_typed(pairs, EngineOptions(config_dir=cfg, reference_year=time.gmtime().tm_year))
    assert {a[0] for a in alerts} >= {"test/tie-distinct", "test/tie-cancel", "test/rp-burst", "test/rp-wave"}
    ports = [free_port(), free_port()]
    with LocalBroker(log_dir=tmp_path / "tansu") as broker:
        create_topics(broker, "default")
        procs = [Worker(broker, "default", tmp_path, f"w{i}", args=("--config-dir", str(cfg), "--metrics-listen",
                                                                     f"127.0.0.1:{port}"))
                 for i, port in enumerate(ports)]
        try:
            produce_typed(broker, pairs, "none")
            got = collect(broker, ["synsec.alerts", "synsec.decisions"],
                          lambda g: len(g["synsec.alerts"]) >= sum(alerts.values()), timeout=150)
            late = sum(_agent_count(port, "buckets", "late") for port in ports)
            poured = sum(_agent_count(port, "buckets", "poured") for port in ports)
        finally:
            for p in procs:
                p.stop()
    assert Counter(full_alerts_of(got["synsec.alerts"])) == alerts, procs[0].tail()
    assert full_decisions_of(got["synsec.decisions"]) == decisions
    assert poured > len(pairs) and late == 0


def _paced(seconds: float, base: float, slow_every: float = 2.6):
    """(line, partition, slow) at a steady pace, event time 10x the wall clock: every 20 ms a line of one of 8
    IPs to partition 1, 2 or 3; every `slow_every` s one to partition 0, which is quiet (idle) in between."""
    rng, t0, i, next_slow = random.Random(9), time.monotonic(), 0, slow_every
    while (elapsed := time.monotonic() - t0) < seconds:
        ts = base + int(elapsed * 10)
        slow = elapsed >= next_slow
        next_slow += slow_every if slow else 0
        t = time.gmtime(ts)
        yield (f"{time.strftime('%b', t)} {t.tm_mday:>2} {time.strftime('%H:%M:%S', t)} web1 sshd[{300 + i}]: "
               f"Failed password for root from 203.0.113.{rng.randrange(1, 9)} port {42000 + i} ssh2",
               0 if slow else 1 + i % 3, slow)
        i += 1
        time.sleep(0.02)


@pytest.mark.alone
def test_a_source_back_from_idle_makes_no_late_records(tmp_path):
    """Regression (a source back from idle made late records): partitions 1-3 get a steady stream; partition 0
    gets one line every 2.6 s, so it is idle in between, from a shipper that batches for 0.4 s (its line
    reaches the broker behind lines of later seconds on the others). Two workers: no record is late, and the
    alerts and decisions are replay's of the same lines in time order."""
    from kafka import KafkaProducer

    base = calendar.timegm((2026, 3, 1, 11, 0, 0))
    ports = [free_port(), free_port()]
    sent = []
    with LocalBroker(log_dir=tmp_path / "tansu") as broker:
        create_topics(broker, "default")
        procs = [Worker(broker, "default", tmp_path, f"w{i}", args=("--metrics-listen", f"127.0.0.1:{port}"))
                 for i, port in enumerate(ports)]
        fast = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=5)
        slow = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=400)
        try:
            time.sleep(6)                                      # both workers in the group before the stream
            for line, partition, lagging in _paced(16.0, base):
                (slow if lagging else fast).send("synsec.raw", partition=partition, value=json.dumps(
                    {"message": line, "labels": {"type": "syslog"}}).encode())
                sent.append(line)
            fast.flush()
            slow.flush()
            alerts, decisions = replay_typed(_merged([], sent))
            got = collect(broker, ["synsec.alerts", "synsec.decisions"],
                          lambda g: len(g["synsec.alerts"]) >= sum(alerts.values()), timeout=120, quiet=4)
            late = sum(_agent_count(port, "buckets", "late") for port in ports)
        finally:
            fast.close()
            slow.close()
            for p in procs:
                p.stop()
    assert alerts and decisions
    assert late == 0, procs[0].tail()
    assert Counter(full_alerts_of(got["synsec.alerts"])) == alerts
    assert full_decisions_of(got["synsec.decisions"]) == decisions


def _held(changelog) -> int:
    """Records held in the bucket table, as its changelog says now (last value per key)."""
    last = {}
    for m in changelog:
        last[m.key] = m.value
    return sum(1 for k, v in last.items() if k.startswith(b"\x00held\x00") and v is not None)
