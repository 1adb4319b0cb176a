"""Event-time order at the buckets (streams.ordering.Reorder) without a broker."""

from __future__ import annotations

import math
import random

from streams.ordering import IDLE, LOGS, OVERFLOWS, Held, Reorder


def _held(ts: float, content: bytes, offset: int, lane: int = LOGS) -> Held:
    return Held(ts, lane, content.decode(), content, offset, None)


def _ts(records: list[Held]) -> list[tuple[float, bytes]]:
    return [(h.ts, h.content) for h in records]


def test_records_come_out_in_time_then_content_order_once_every_source_passed_them():
    """Nothing is released before every source has reported; then each record the marked time (minimum marker) is strictly
    past, in (time, content) order whatever the arrival order; a record at the marked time itself waits."""
    order = Reorder(upstream=2, hold_max=100)
    arrivals = [_held(5.0, b"b", 1), _held(3.0, b"z", 2), _held(5.0, b"a", 3), _held(4.0, b"m", 4)]
    for h in arrivals:
        assert order.take(h)
    order.mark(0, 9.0)
    assert order.release() == []                       # source 1 has not reported
    order.mark(1, 5.0)
    assert _ts(order.release()) == [(3.0, b"z"), (4.0, b"m")]
    assert len(order) == 2 and order.watermark() == 5.0
    order.mark(1, 6.0)
    assert _ts(order.release()) == [(5.0, b"a"), (5.0, b"b")]


def test_a_record_behind_what_was_released_is_late():
    """A record older than the release threshold is not held (the caller pours it at once, counted late)."""
    order = Reorder(upstream=1, hold_max=100)
    order.mark(0, 10.0)
    order.release()
    assert not order.take(_held(9.5, b"x", 1))
    assert order.take(_held(10.0, b"x", 2))


def test_idle_sources_do_not_hold_the_marked_time_and_all_idle_releases_everything():
    """An idle source counts at the time it was marked at, a line of that second may still come (and not at all
    when its worker knows no time); with every source idle, every held record is released and the timers may
    fire up to the newest event time known (an idle marker brings its worker's), never further."""
    order = Reorder(upstream=3, hold_max=100)
    order.take(_held(3.0, b"a", 1))
    order.take(_held(4.0, b"c", 3))
    order.take(_held(8.0, b"b", 2))
    order.mark(0, 5.0)
    order.mark(1, 4.0, idle=True)
    order.mark(2, -math.inf, idle=True)
    assert _ts(order.release()) == [(3.0, b"a")] and order.marks[2] == IDLE
    assert order.take(_held(4.0, b"d", 4))              # source 1, back with a line of its idle second: on time
    order.mark(1, 4.5, idle=True)
    assert _ts(order.release()) == [(4.0, b"c"), (4.0, b"d")]
    order.mark(0, 9.0, idle=True)
    assert _ts(order.release()) == [(8.0, b"b")]
    assert order.watermark() == 9.0 and not order.take(_held(8.5, b"c", 3))
    order.mark(0, 12.0)                                  # back from idle: its own time again
    assert order.marks[0] == 12.0 and order.marked() == order.marks[1] < 12.0     # source 1: idle at 4


def test_the_bound_releases_the_oldest_early_and_moves_the_threshold():
    """Past `hold_max` held records the oldest second is released before the marked time (counted as forced), and
    a record older than it is then late."""
    order = Reorder(upstream=1, hold_max=2)
    for i, ts in enumerate((7.0, 5.0, 5.0, 6.0)):
        order.take(_held(ts, b"%d" % i, i))
    out = order.release()
    assert _ts(out) == [(5.0, b"1"), (5.0, b"2")] and order.forced == 2 and len(order) == 2
    assert not order.take(_held(5.0, b"0", 9))
    assert order.take(_held(5.5, b"0", 10))


def test_order_does_not_depend_on_how_records_and_markers_interleave():
    """The same records and markers, shuffled per source as partitions would deliver them, give the same
    sequence of poured records."""
    rng = random.Random(7)
    records = [_held(float(rng.randrange(0, 30)), b"%03d" % rng.randrange(0, 50), i) for i in range(200)]
    expected = sorted((h.ts, h.content) for h in records)
    for _trial in range(20):
        order, got = Reorder(upstream=3, hold_max=10_000), []
        streams = {s: sorted((h for h in records if h.offset % 3 == s), key=lambda h: h.ts) for s in range(3)}
        cursors = dict.fromkeys(streams, 0)
        while any(cursors[s] < len(streams[s]) for s in streams):
            s = rng.choice([s for s in streams if cursors[s] < len(streams[s])])
            for h in streams[s][cursors[s]:cursors[s] + rng.randrange(1, 5)]:
                assert order.take(h)
                cursors[s] += 1
            if cursors[s] < len(streams[s]):
                order.mark(s, streams[s][cursors[s] - 1].ts)
            else:
                order.mark(s, streams[s][-1].ts, idle=True)
            got += order.release()
        assert _ts(got) == expected and not len(order)


def test_state_round_trips_what_a_restart_needs():
    """`state()` is what the ledger keeps; a Reorder rebuilt from it and the held records carries on the same."""
    order = Reorder(upstream=2, hold_max=100)
    order.take(_held(4.0, b"a", 1))
    order.mark(0, 3.0)
    order.mark(1, 6.0)
    order.release()
    order.take(_held(3.5, b"b", 2))
    state = order.state()
    again = Reorder(2, 100, state["watermarks"], state["threshold"], state["newest"], list(order.heap))
    for r in (order, again):
        r.mark(0, 5.0)
    assert _ts(order.release()) == _ts(again.release()) == [(3.5, b"b"), (4.0, b"a")]
    assert again.threshold == 5.0 and math.isinf(Reorder(1, 1).threshold)


def test_a_restart_with_every_source_idle_releases_at_the_same_message_as_without_it():
    """With every source idle, a record newer than the newest time known waits for the next marker; a Reorder
    rebuilt from the ledger there (after a crash, or a rebalance) releases it at that same marker, not at the
    first message it takes: earlier, the records of the sources still to come would be late (poured out of
    order) after a restart only (issue 11)."""
    order = Reorder(upstream=2, hold_max=100)
    order.mark(0, 5.0, idle=True)
    order.mark(1, 5.0, idle=True)
    assert order.release() == []
    assert order.take(_held(7.0, b"a", 1))              # source 0, back: newer than what is known
    assert order.release() == []                        # as before it, until a marker comes
    state = order.state()
    again = Reorder(2, 100, state["watermarks"], state["threshold"], state["newest"], list(order.heap),
                    state["idle"])
    for r in (order, again):
        assert r.take(_held(6.0, b"b", 2))              # source 1, back with an older line: on time
        assert r.release() == []
        r.mark(0, 8.0)
        r.mark(1, 8.0)
        assert _ts(r.release()) == [(6.0, b"b"), (7.0, b"a")]


def test_traffic_resuming_after_a_pause_waits_for_the_sources_still_idle():
    """When a source comes back while every source was idle, the marked time does not move for `grace` wall
    seconds unless the others come back too (another worker may not have fetched their new lines yet)."""
    order = Reorder(upstream=2, hold_max=100, grace=5.0)
    order.mark(0, 1.0, idle=True, now=0.0)
    order.mark(1, 1.0, idle=True, now=0.0)
    order.mark(0, 10.0, now=100.0)                   # back, source 1 still idle (at 1)
    order.take(_held(10.5, b"a", 1))
    order.mark(0, 20.0, now=101.0)
    assert order.release(101.0) == [] and order.marked(102.0) == -math.inf
    assert _ts(order.release(106.0)) == []           # grace over: source 1 counts at its idle time, 1
    order.mark(1, 11.0, now=106.5)                   # and once it is back, by its own time
    assert _ts(order.release(106.5)) == [(10.5, b"a")]
    order.mark(0, 30.0, idle=True, now=107.0)
    order.mark(1, 30.0, idle=True, now=107.0)
    order.mark(0, 40.0, now=200.0)
    order.mark(1, 40.0, now=200.5)                   # every source back: no wait
    order.take(_held(35.0, b"b", 2))
    assert _ts(order.release(200.5)) == [(35.0, b"b")]


def test_a_worker_that_fetched_later_is_waited_for_after_marking_its_empty_sources_idle():
    """Regression (issue 11, records late at the start on a loaded machine): worker B marks its sources 1 and 3
    idle before it knows any time (its partitions empty yet); worker A's sources 0 and 2 then start, never
    marked before. The marked time waits `grace` for B's sources as when traffic resumes after a pause: B's
    first lines, which reach the partition after A's of later seconds, are on time and poured in order."""
    order = Reorder(upstream=4, hold_max=100, grace=10.0)
    order.mark(1, -math.inf, idle=True, now=0.0)
    order.mark(3, -math.inf, idle=True, now=0.0)
    order.mark(0, 100.0, now=2.0)                   # A's sources: their first markers, their records
    order.mark(2, 101.0, now=2.0)
    for i, ts in enumerate((100.0, 130.0, 142.0)):
        assert order.take(_held(ts, b"a%d" % i, i))
    order.mark(0, 157.0, now=2.1)
    order.mark(2, 142.0, now=2.1)
    assert order.release(2.1) == [] and order.marked(2.1) == -math.inf
    order.mark(1, 100.0, now=4.0)                   # B's sources, 2 s later, from the start of the log
    assert order.take(_held(100.0, b"b1", 10)) and order.take(_held(104.0, b"b2", 11))
    order.mark(3, 107.0, now=4.0)
    assert order.take(_held(107.0, b"b3", 12))
    order.mark(1, 105.0, now=4.0)
    assert _ts(order.release(4.0)) == [(100.0, b"a0"), (100.0, b"b1"), (104.0, b"b2")]
    order.mark(1, 150.0, now=4.5)
    order.mark(3, 150.0, now=4.5)
    assert _ts(order.release(4.5)) == [(107.0, b"b3"), (130.0, b"a1")]


def test_sources_that_never_report_are_waited_for_only_grace_seconds():
    """A source marked idle before its worker knew any time and silent since is left out once `grace` is over
    (a worker whose partitions stay empty holds nothing back for good)."""
    order = Reorder(upstream=2, hold_max=100, grace=10.0)
    order.mark(1, -math.inf, idle=True, now=0.0)
    order.mark(0, 5.0, now=1.0)
    order.take(_held(4.0, b"a", 1))
    order.mark(0, 6.0, now=2.0)
    assert order.release(10.9) == []
    assert _ts(order.release(11.0)) == [(4.0, b"a")]


def test_reprocessed_overflows_wait_for_every_partition_to_have_poured_past_them():
    """An overflow event is held until every buckets-in partition's overflow marker (how far it has poured) is
    past it, then poured merged with the log records, after those of its time; the timers wait for that lane;
    a late one is refused; with no reprocess scenario (no overflow sources) it is poured at once."""
    order = Reorder(upstream=1, hold_max=100, overflow_sources=2)
    order.take(_held(5.0, b"x", 1))
    order.take(_held(7.0, b"y", 2))
    assert order.take(_held(5.0, b"alert-1", 3, OVERFLOWS))
    order.mark(0, 8.0)
    assert _ts(order.release()) == [(5.0, b"x"), (7.0, b"y")] and order.watermark() == -math.inf
    order.mark_overflows(0, 8.0)
    assert order.release() == [] and len(order) == 1          # partition 1 has not said how far it poured
    order.take(_held(6.0, b"z", 4))                           # late log record: refused (poured at once)
    order.mark_overflows(1, 6.0)
    out = order.release()
    assert [(h.ts, h.lane) for h in out] == [(5.0, OVERFLOWS)] and order.watermark() == 6.0
    assert not order.take(_held(5.5, b"alert-2", 5, OVERFLOWS))
    state = order.state()
    assert state["overflow_marks"] == {0: 8.0, 1: 6.0} and state["overflow_threshold"] == 6.0
    free = Reorder(upstream=1, hold_max=100)
    free.take(_held(5.0, b"alert-3", 1, OVERFLOWS))
    assert [h.lane for h in free.release()] == [OVERFLOWS]


def test_an_overflow_event_goes_after_the_log_records_of_its_time():
    """Released together, a log record and an overflow event of the same time come log first; an earlier
    overflow event before a later log record."""
    order = Reorder(upstream=1, hold_max=100, overflow_sources=1)
    for h in (_held(4.0, b"b", 1), _held(4.0, b"a", 2, OVERFLOWS), _held(3.0, b"c", 3, OVERFLOWS),
              _held(4.0, b"d", 4)):
        order.take(h)
    order.mark(0, 5.0)
    order.mark_overflows(0, 5.0)
    assert [(h.ts, h.lane, h.tie) for h in order.release()] == [(3.0, OVERFLOWS, "c"), (4.0, LOGS, "b"),
                                                                 (4.0, LOGS, "d"), (4.0, OVERFLOWS, "a")]
