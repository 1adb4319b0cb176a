"""Routing and watermark markers (streams.routing.Router) without a broker: what goes to synsec.buckets-in."""

from __future__ import annotations

import math
import time

from types import SimpleNamespace

import pytest

from streams.batching import Outbox
from streams.bucketstore import partition_for, table_key
from synsec.wire.codecs import Codecs
from synsec.wire.records import bucket_in_origin, event_to_record, record_to_bucket_in
from synsec.wire.registry import LocalRegistry
from streams.routing import IDLE_LINE, MARKER, Router
from synsec.engine.model import Line
from synsec.assembly.build import EngineOptions, build_engine
from topologies import load_topology

LINE = '203.0.113.9 - - [01/Mar/2026:08:00:{s:02d} +0000] "GET /wp-login.php HTTP/1.1" 404 153 "-" "curl/8.0"'


@pytest.fixture(scope="module")
def shell():
    """What a Router needs of the worker's Shell: the engine, the codecs, the topology, a counter."""
    engine, _ = build_engine(EngineOptions(reference_year=2026))
    counts: dict = {}
    return SimpleNamespace(engine=engine, codecs=Codecs(LocalRegistry()), topology=load_topology("default"),
                           count=lambda name, n=1: counts.__setitem__(name, counts.get(name, 0) + n))


def _event(shell, second: int):
    evt = shell.engine.parse(Line(LINE.format(s=second), "t", {"type": "nginx"}))
    assert evt is not None
    return evt, shell.codecs.encode("event", event_to_record(evt))


def _decoded(shell, out: Outbox) -> list[tuple[int, str, str, float]]:
    return [(p, *(lambda s, k, e: (s, k, e.ts))(*record_to_bucket_in(shell.codecs.decode("bucket_in", v))))
            for (_topic, p), records in out.records.items() for _k, v in records]


def test_route_sends_each_bucket_to_its_partition(shell):
    """Every (scenario, key) an event enters goes to the partition of its bucket key, the event unchanged."""
    router, out = Router(shell), Outbox()
    evt, data = _event(shell, 1)
    routes = shell.engine.buckets.route(evt)
    assert routes and router.route(evt, data, out, source=0) == len(routes)
    got = [g for g in _decoded(shell, out) if g[1] != MARKER]
    assert sorted((p, s, k) for p, s, k, _ts in got) == sorted(
        (partition_for(table_key(s, k), 4), s, k) for s, k in routes)
    assert {ts for *_x, ts in got} == {evt.ts}


def _markers(shell, out: Outbox) -> list[tuple[int, str, float]]:
    return [(p, k, ts) for p, s, k, ts in _decoded(shell, out) if s == MARKER]


def test_markers_follow_each_source_by_the_interval(shell):
    """A source's first event comes after a marker at its time; later markers go to every buckets-in partition
    once the source's event time moved `interval` seconds."""
    router = Router(shell, interval=5.0)
    for second, expect in ((0, True), (3, False), (5, True)):
        routed, out = Outbox(), Outbox()
        router.route(*_event(shell, second), routed, source=2)
        router.markers(out)
        markers = _markers(shell, routed if second == 0 else out)
        assert bool(markers) is expect
        if expect:
            assert sorted(p for p, *_x in markers) == [0, 1, 2, 3] and {k for _p, k, _t in markers} == {"2"}
    first = Outbox()
    router = Router(shell)
    router.route(*_event(shell, 7), first, source=1)
    p, records = next((p, r) for (_t, p), r in first.records.items() if len(r) > 1)
    assert shell.codecs.decode("bucket_in", records[0][1])["scenario"] == MARKER     # ahead of the record


def test_idle_markers_only_for_sources_read_to_their_end(shell):
    """A quiet source is marked idle only when nothing is left to read in it: a source paused with messages
    waiting (a backlog) keeps its own event time. It is marked at what this worker knew a second before (its
    own routing, other workers' markers), at least its own newest time, again when that moves. Back from idle,
    its next event comes after a marker at its time, ahead of it."""
    router = Router(shell, idle_s=0.0)
    evt, data = _event(shell, 30)
    router.route(evt, data, Outbox(), source=0)
    router.handled(0, 0)
    router.handled(1, 0)                            # source 1 has handled offset 0 of 5, routed nothing
    t0 = time.monotonic() + 10.0
    router.saw(-math.inf, now=t0)                   # the worker knows evt.ts at wall time t0
    out = Outbox()
    router.idle_markers(out, {0: 1, 1: 5, 2: None}, now=t0 + 0.5)
    assert {(k, ts) for _p, k, ts in _markers(shell, out)} == {("0", evt.ts)} and _all_idle(shell, out)
    router.handled(1, 4)                            # now read to its end
    out = Outbox()
    router.idle_markers(out, {0: 1, 1: 5, 2: None}, now=t0 + 1.0)
    assert {(k, ts) for _p, k, ts in _markers(shell, out)} == {("1", evt.ts)} and _all_idle(shell, out)
    router.saw(evt.ts + 50, now=t0 + 1.2)              # another worker's marker, read here
    out = Outbox()
    router.idle_markers(out, {0: 1, 1: 5}, now=t0 + 1.5)
    assert not out.records                          # once; and not what it has known for less than a second
    router.idle_markers(out, {0: 1, 1: 5}, now=t0 + 2.3)
    assert {(k, ts) for _p, k, ts in _markers(shell, out)} == {("0", evt.ts + 50), ("1", evt.ts + 50)}
    evt, data = _event(shell, 40)
    out = Outbox()
    router.route(evt, data, out, source=0)
    assert {(k, ts) for _p, k, ts in _markers(shell, out)} == {("0", evt.ts)} and not _all_idle(shell, out)


def _all_idle(shell, out: Outbox) -> bool:
    """Whether every marker in `out` says its source is idle."""
    lines = [shell.codecs.decode("bucket_in", v)["event"]["line"]["raw"] for records in out.records.values()
             for _k, v in records]
    return {line for line in lines if line in (IDLE_LINE, "")} == {IDLE_LINE}


def _origins(shell, out: Outbox) -> list:
    """The origins of the routed records in `out` (markers left out)."""
    recs = [shell.codecs.decode("bucket_in", v) for (_topic, _p), records in out.records.items() for _k, v in records]
    return [bucket_in_origin(rec) for rec in recs if rec["scenario"] != MARKER]


def test_routed_records_carry_where_they_were_read(shell):
    """With origins on, each route of the message at (partition, offset) is stamped (partition, offset, i), one
    i per bucket the event enters; without a read position (reprocessed overflows) or with origins off, none."""
    evt, data = _event(shell, 1)
    out = Outbox()
    n = Router(shell, origins=True).route(evt, data, out, source=3, offset=41)
    assert n >= 2 and sorted(_origins(shell, out)) == [(3, 41, i) for i in range(n)]
    for router, kwargs in ((Router(shell, origins=True), {}), (Router(shell), {"source": 3, "offset": 41})):
        out = Outbox()
        router.route(evt, data, out, **kwargs)
        assert set(_origins(shell, out)) == {None}
