"""The engine's counter set behind `ccscli metrics`: per-source parse counts, bucket underflows and live
buckets, their labelled families, and the merge of worker processes' counts in `replay -j`."""

from __future__ import annotations

from pathlib import Path

import pytest

from synsec.engine.buckets import BucketManager, build_spec
from synsec.engine.model import Event, Line
from synsec.engine.counters import CounterSet
from synsec.metrics import Counters, parse
from synsec.assembly.build import EngineOptions, build_engine
from synsec.assembly.metrics import LINES, OVERFLOWED, PARSED, POURED, UNDERFLOWED, UNPARSED, register_engine
from synsec.runner.replay import replay

SAMPLES = Path(__file__).resolve().parents[2] / "scenarios" / "samples"
T0 = 1_700_000_000.0


def _ev(ts: float, ip: str) -> Event:
    evt = Event()
    evt.ts = T0 + ts
    evt.Meta["log_type"], evt.Meta["source_ip"] = "ssh_failed-auth", ip
    return evt


def _leaky(**kw):
    opts = dict(name="test/leaky", type="leaky", capacity=2, leakspeed=10.0, filter=lambda e: True,
                groupby=lambda e: e.Meta["source_ip"])
    return build_spec(**{**opts, **kw})


@pytest.fixture(scope="module")
def engine_and_content():
    return build_engine(EngineOptions(reference_year=2026))


def test_per_source_counts_follow_interleaved_sources(engine_and_content):
    """Lines alternating between sources are charged to the right source; the totals are their sums."""
    engine, _ = engine_and_content
    engine.counts.clear()
    ssh = "Mar  1 10:00:01 host sshd[1]: Invalid user admin from 203.0.113.5 port 22"
    for src, text in [("a.log", ssh), ("a.log", "garbage"), ("b.log", ssh), ("a.log", ssh), ("b.log", "x")]:
        engine.parse(Line(text, src, {"type": "syslog"}), T0)
    stats = engine.counts.summary()
    assert stats["sources"] == {"a.log": {"lines": 3, "parsed": 2, "unparsed": 1, "whitelisted": 0, "bytes": 0},
                                "b.log": {"lines": 2, "parsed": 1, "unparsed": 1, "whitelisted": 0, "bytes": 0}}
    assert (stats["lines"], stats["parsed"], stats["unparsed"]) == (5, 3, 2)


def test_counter_set_take_and_add_merge_counts_once():
    """A worker's `take()` (its counts, then zero) added to another set adds every label's count once."""
    mine, theirs = CounterSet(), CounterSet()
    mine.inc("lines", "a", n=2)
    theirs.inc("lines", "b", n=3)
    theirs.inc("unparsed", "b", n=3)
    theirs.inc("decisions", "synsec", "s", "ban")
    mine.add(theirs.take())
    mine.inc("lines", "a")
    got = mine.summary()
    assert got["lines"] == 6 and got["sources"]["a"]["lines"] == 3 and got["sources"]["b"]["unparsed"] == 3
    assert got["decisions"] == 1 and theirs.snapshot() == {}
    with pytest.raises(KeyError):
        mine.inc("not_a_counter")                     # a count that is not in the table cannot be kept


def test_underflows_and_live_buckets_are_counted_per_scenario():
    """A bucket that leaks out counts one underflow; an overflowing one counts an overflow, not both."""
    m = BucketManager([_leaky()])
    for i in range(3):
        m.process(_ev(0.1 * i, "192.0.2.1"))          # capacity 2: the third pour overflows
    m.process(_ev(1.0, "192.0.2.2"))
    assert m.live_by_scenario() == {"test/leaky": 1}
    m.advance(T0 + 1000)                              # 192.0.2.2's bucket leaks out
    assert m.counts.summary()["buckets"] == {"test/leaky": {
        "poured": 4, "overflows": 1, "underflows": 1, "canceled": 0, "overflows_blackholed": 0,
        "overflows_filtered": 0, "bucket_filter_errors": 0, "bucket_groupby_errors": 0, "bucket_alert_errors": 0,
        "alerts": 0}}
    assert m.live_by_scenario() == {}


def test_bucket_ends_without_alert_are_counted_by_why():
    """CrowdSec sends an empty overflow when a bucket ends without an alert: a `cancel_on` pour (also the first
    one of a bucket), an overflow within the key's blackhole, an overflow its overflow_filter rejects, also a
    counter's timed one. Each is counted under its name and raises no alert, and is neither an overflow nor an
    underflow."""
    specs = [_leaky(name="t/cancel", capacity=5, cancel_on=lambda e: e.Meta["user"] == "x"),
             _leaky(name="t/bh", capacity=1, blackhole=60.0),
             _leaky(name="t/filtered", capacity=1, overflow_filter=lambda queue, signal, leaky: False),
             build_spec(name="t/counter", type="counter", capacity=-1, duration=5.0, filter=lambda e: True,
                        overflow_filter=lambda queue, signal, leaky: leaky.Total_count > 3)]
    m = BucketManager(specs)
    alerts = []
    for ts, user in ((0, ""), (1, "x"), (2, "x"), (3, ""), (4, ""), (20, ""), (21, "")):
        evt = _ev(ts, "192.0.2.1")
        evt.Meta["user"] = user
        alerts += m.process(evt)
    alerts += m.advance(T0 + 1000)
    counts = {name: m.counts.by(name) for name in ("canceled", "overflows_blackholed", "overflows_filtered",
                                                   "overflows", "underflows")}
    assert counts == {
        "canceled": {("t/cancel",): 2},                           # a live bucket, then a fresh one
        "overflows_blackholed": {("t/bh",): 2},                   # at 3 (2nd overflow, 4 in the pair) and 21
        "overflows_filtered": {("t/filtered",): 3, ("t/counter",): 1},
        "overflows": {("t/bh",): 1, ("t/counter",): 1},           # bh's first, the counter of 5 events
        "underflows": {("t/cancel",): 1}}                        # its bucket of 3, 4, 20, 21 leaks out
    assert sorted(a.Scenario for a in alerts) == ["t/bh", "t/counter"]


def test_register_engine_renders_live_counts(engine_and_content):
    """A Counters with the engine registered renders its current counts at each render (worker /metrics)."""
    engine, _ = engine_and_content
    engine.counts.clear()
    counters = register_engine(Counters(), engine)
    engine.parse(Line("garbage", "c.log", {"type": "syslog"}), T0)
    first = {(s.name, s.labels): s.value for s in parse(counters.render())}
    engine.parse(Line("garbage", "c.log", {"type": "syslog"}), T0)
    second = {(s.name, s.labels): s.value for s in parse(counters.render())}
    assert first[(UNPARSED, (("source", "c.log"),))] == 1 and second[(UNPARSED, (("source", "c.log"),))] == 2
    assert second[(LINES, (("source", "c.log"),))] == 2


def test_parallel_replay_counts_equal_single_process():
    """`replay -j 2` merges its workers' counts: the same samples and per-source stats as one process."""
    paths = [str(SAMPLES / "nginx-demo.log"), str(SAMPLES / "auth-demo.log")]
    opts = EngineOptions(reference_year=2026)
    one = replay(paths, {"type": "nginx"}, opts, reference_ts=T0)
    two = replay(paths, {"type": "nginx"}, opts, reference_ts=T0, workers=2)
    assert sorted(one.metrics) == sorted(two.metrics)
    assert one.stats["sources"] == two.stats["sources"] and one.stats["buckets"] == two.stats["buckets"]
    names = {s.name for s in one.metrics}
    assert {LINES, PARSED, UNPARSED, POURED, OVERFLOWED, UNDERFLOWED} <= names
    by = {(s.name, s.labels): s.value for s in one.metrics}
    assert by[(LINES, (("source", paths[1]),))] == one.stats["sources"][paths[1]]["lines"] == 75


def test_register_engine_sums_several_bucket_managers(engine_and_content):
    """With buckets in several managers counting into one set (a worker's partitions), pours, overflows and
    live buckets add up."""
    engine, _ = engine_and_content
    engine.counts.clear()
    one, two = BucketManager([_leaky()], counts=engine.counts), BucketManager([_leaky()], counts=engine.counts)
    for i in range(3):
        one.process(_ev(0.1 * i, "192.0.2.1"))        # overflows
    two.process(_ev(0.0, "192.0.2.9"))                # stays live
    counters = register_engine(Counters(), engine, managers=lambda: [one, two])
    got = {(s.name, s.labels): s.value for s in parse(counters.render())}
    assert got[(POURED, (("scenario", "test/leaky"),))] == 4
    assert got[(OVERFLOWED, (("scenario", "test/leaky"),))] == 1
    assert got[("synsec_buckets", (("scenario", "test/leaky"),))] == 1
