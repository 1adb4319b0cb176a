"""The buckets agent crashed while traffic resumes after every source was idle (issue 11): its successor reads
the batch again at another wall-clock pace, so the `--idle-advance` grace (streams.ordering, `resumed_at`, which
is not in the ledger) runs differently. A bucket knows only the offset of the message whose pours it took
(`PartitionStore.applied`): were a record released at a later message than before the crash, it would be poured
twice. It is not: the grace only holds the marked time back, and while sources are still marked idle that is at
most the threshold the all-idle state set, so no release moves.

Same harness as tests/streams/test_crash_cuts.py (its helpers), plus a clock: the first run's wall time moves
1 s per message, its successor's not at all (a backlog read again at once).
"""

from __future__ import annotations

import random
import time

import pytest

import streams.agents
from streams.batching import Outbox
from streams.routing import IDLE_LINE, Router, marker_value
from synsec.wire.records import event_to_record
from tests.streams.test_crash_cuts import SOURCES, _dealt, _kind, _recover, _shell
from tests.streams.test_crash_cuts import _run as _run_cuts

GRACE = 5.0


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def messages() -> list[bytes]:
    """buckets-in records as in test_crash_cuts, with a pause in the middle: every source marked idle, then the
    traffic resumes."""
    shell = _shell({})
    per_source = _dealt(shell)
    total = sum(len(source) for source in per_source)
    router, rng, out, cursor = Router(shell, origins=True), random.Random(3), Outbox(), [0] * SOURCES
    paused = False
    while any(cursor[s] < len(per_source[s]) for s in range(SOURCES)):
        if not paused and sum(cursor) >= total * 2 // 5:
            paused = True
            newest = max(router.max_ts.values())
            for s in range(SOURCES):
                out.add("synsec.buckets-in", 0, None, marker_value(shell.codecs, s, newest, IDLE_LINE))
        s = rng.choice([s for s in range(SOURCES) if cursor[s] < len(per_source[s])])
        for evt in per_source[s][cursor[s]:cursor[s] + rng.randrange(1, 4)]:
            router.route(evt, shell.codecs.encode("event", event_to_record(evt)), out, s, cursor[s])
            cursor[s] += 1
        router.markers(out, [s])
    for s in range(SOURCES):
        out.add("synsec.buckets-in", 0, None, marker_value(shell.codecs, s, max(router.max_ts.values()), IDLE_LINE))
    values = [value for _key, value in out.records[("synsec.buckets-in", 0)]]
    idle = [i for i, v in enumerate(values) if shell.codecs.decode("bucket_in", v)["event"]["line"]["raw"] == IDLE_LINE]
    assert idle and idle[0] < len(values) // 2          # the pause is in the middle, where batches are crashed
    return values


def _run(data: dict, messages: list[bytes], start: int, batch: int, clock: _Clock, tick: float, monkeypatch):
    """test_crash_cuts._run over every message from `start`, the agent's wall clock moving `tick` seconds per
    message."""
    monkeypatch.setattr(streams.agents, "time", clock)

    def advance() -> None:
        clock.now += tick

    try:
        return _run_cuts(data, messages, start, len(messages), batch, GRACE, advance)
    finally:
        monkeypatch.setattr(streams.agents, "time", time)


def _buckets(state) -> dict:
    """The buckets' states at the end (without the offsets that last changed them)."""
    store = state.partitions[0].store
    out = {}
    for raw in list(store.table.data):
        if raw[:1] != b"\x00":
            stored = store._from_table(raw)
            if stored.state is not None:
                out[raw] = store.codec.dumps(stored)[8:]
    return out


def test_a_crash_while_traffic_resumes_after_a_pause_pours_nothing_twice(messages, monkeypatch):
    """Crashed with its batch's changelog written up to (not including) the ledger, at each batch while the
    grace holds releases back: the successor's alerts plus those sent before are replay's, and every bucket ends
    as without the crash."""
    batch = 40
    reference, ref_state = _run({}, messages, 0, batch, _Clock(), 1.0, monkeypatch)
    expected = {a for alerts, _c in reference for a in alerts}
    assert ref_state.shell.counts.get("buckets.poured", 0) > 0
    ref_poured = ref_state.shell.counts["buckets.poured"]
    bad, tried = [], 0
    for crashed in range(len(reference)):
        changelog = reference[crashed][1]
        ledger = [i for i, (k, v) in enumerate(changelog) if _kind(k, v) == "ledger"]
        if not ledger:
            continue
        before = [rec for _a, c in reference[:crashed] for rec in c]
        data = _recover(before + changelog[:ledger[0]])
        tried += 1
        after, state = _run(data, messages, crashed * batch, batch, _Clock(), 0.0, monkeypatch)
        got = {a for alerts, _c in reference[:crashed + 1] for a in alerts} | {a for al, _c in after for a in al}
        if got != expected or _buckets(state) != _buckets(ref_state):
            bad.append((crashed, sorted(got ^ expected)[:4], state.shell.counts.get("buckets.repeated", 0)))
    assert tried >= 5 and not bad, (tried, len(bad), bad[:3], ref_poured)
