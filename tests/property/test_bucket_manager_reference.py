"""BucketManager (its heap of timers and its fast paths: underflow without a tick, counters kept inline) against
a slow reference driving only the pure transitions `pour`/`tick`/`deadline` over every bucket, on random events
of many short-lived per-IP buckets."""

from __future__ import annotations

import math
from collections import Counter

from hypothesis import example, given, settings
from hypothesis import strategies as st

from synsec.engine.buckets import BucketManager, build_spec, deadline, pour, tick
from synsec.engine.model import Event

T0 = 1_600_000_000
IPS = ["192.0.2.1", "192.0.2.1", "192.0.2.2", "192.0.2.2", "2001:db8::1", "not-an-ip"]


def scenarios():
    by_ip = dict(groupby=lambda e: e.Meta["source_ip"])
    return [
        build_spec(name="r/crawl", capacity=3, leakspeed=1.0, distinct=lambda e: e.Meta["path"], blackhole=10.0,
                   **by_ip),
        build_spec(name="r/leaky", capacity=2, leakspeed=2.0, **by_ip),
        build_spec(name="r/probe", capacity=1, leakspeed=3.0, blackhole=15.0,
                   filter=lambda e: e.Meta["path"] in ("/a", "/b"), **by_ip),
        build_spec(name="r/trigger", type="trigger", blackhole=3.0, filter=lambda e: e.Meta["path"] == "/x",
                   **by_ip),
        build_spec(name="r/counter", type="counter", capacity=-1, duration=6.0, cache_size=2, **by_ip),
        build_spec(name="r/cancel", capacity=4, leakspeed=1.5, cancel_on=lambda e: e.Meta["path"] == "/b",
                   **by_ip),
    ]


class Reference:
    """Every bucket's state in a dict; timers found by looking at every state's deadline (no heap, no shortcut)."""

    def __init__(self, specs):
        self.specs = {s.id: s for s in specs}
        self.states: dict = {}
        self.watermark = -math.inf
        self.counts: Counter = Counter()

    def _emit(self, ovfs):
        out = []
        for ovf in ovfs:
            if ovf.dropped:                           # ended without an alert: canceled, blackholed, filtered
                self.counts[ovf.dropped, ovf.scenario] += 1
                continue
            if ovf.error:
                self.counts["bucket_alert_errors", ovf.scenario] += 1
                continue
            self.counts["overflows", ovf.scenario] += 1
            out += ovf.alerts
        return out

    def advance(self, now):
        self.watermark = max(self.watermark, now)
        out = []
        for bkey, state in list(self.states.items()):
            spec = self.specs[bkey[0]]
            due = deadline(spec, state)
            if due is None or not due < now:
                continue
            new, ovfs = tick(spec, state, now, bkey[1])
            self._set(bkey, new)
            out += self._emit(ovfs)
            if not ovfs and state.count and not spec.timed_overflow and (new is None or not new.count):
                self.counts["underflows", bkey[0]] += 1
        return out

    def process(self, evt):
        out = self.advance(evt.ts) if evt.ts > self.watermark else []
        for name, spec in self.specs.items():
            if spec.filter is not None and spec.filter(evt) is not True:
                continue
            bkey = (name, spec.groupby(evt))
            old = self.states.get(bkey)
            new, ovfs = pour(spec, old, evt, evt.ts, bkey[1])
            self.counts["poured", name] += 1
            if old is not None and old.count and not spec.timed_overflow and deadline(spec, old) < evt.ts:
                self.counts["underflows", name] += 1
            self._set(bkey, new)
            out += self._emit(ovfs)
        return out

    def _set(self, bkey, state):
        if state is None:
            self.states.pop(bkey, None)
        else:
            self.states[bkey] = state

    def live(self):
        return dict(Counter(s for (s, _k), st_ in self.states.items() if st_.count))


def canonical(alerts):
    return sorted((a.Scenario, a.Source.Value, a.StartAt, a.StopAt, a.EventsCount, a.Message,
                   tuple(e["timestamp"] for e in a.Events)) for a in alerts)


def manager_counts(m):
    out = Counter()
    for name in ("poured", "overflows", "underflows", "bucket_alert_errors", "canceled", "overflows_blackholed",
                 "overflows_filtered"):
        for (scenario,), n in m.counts.by(name).items():
            out[name, scenario] += n
    return out


steps = st.lists(st.tuples(st.sampled_from([0, 0, 0.5, 1, 1.5, 2.5, 4, 7, 20]), st.sampled_from(IPS),
                           st.sampled_from(["/a", "/a", "/b", "/", "/x", "/p1", "/p2"]), st.booleans()),
                 max_size=150)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(rows=steps)
@example(rows=[(0, "192.0.2.1", "/a", False), (1, "192.0.2.1", "/a", False), (1, "192.0.2.1", "/a", False),
               (7, "192.0.2.1", "/", True), (1, "192.0.2.1", "/a", False)])   # underflow inside a blackhole
def test_manager_equals_the_pure_transitions_over_every_bucket(rows):
    """After every event and every advance, the manager's alerts, bucket states, live counts and pour/overflow/
    underflow counts equal those of the pure transitions applied to every bucket without a heap."""
    m, ref = BucketManager(scenarios()), Reference(scenarios())
    t = 0.0
    for gap, ip, path, advance in rows:
        t += gap
        if advance:                                   # idle input: event time moves on without an event
            assert canonical(m.advance(T0 + t)) == canonical(ref.advance(T0 + t))
        else:
            evt = Event()
            evt.ts = float(T0 + t)
            evt.Meta["source_ip"] = ip
            evt.Meta["path"] = path
            assert canonical(m.process(evt)) == canonical(ref.process(evt))
        assert dict(m.buckets) == ref.states
        assert m.live_by_scenario() == ref.live()
        assert manager_counts(m) == +ref.counts
    assert canonical(m.flush()) == canonical(ref.advance(math.inf))
    assert dict(m.buckets) == ref.states == {}
    assert manager_counts(m) == +ref.counts


def test_timers_fire_by_due_time_then_in_the_order_they_were_scheduled():
    """Counters due at the same time overflow in the order their buckets were scheduled; an earlier one first."""
    m = BucketManager([build_spec(name="r/counter", type="counter", capacity=-1, duration=6.0,
                                  groupby=lambda e: e.Meta["source_ip"])])
    for ts, ip in ((T0, "192.0.2.9"), (T0 + 1, "192.0.2.3"), (T0 + 1, "192.0.2.1"), (T0 + 1, "192.0.2.2")):
        evt = Event()
        evt.ts = float(ts)
        evt.Meta["source_ip"] = ip
        m.process(evt)
    assert [a.Source.Value for a in m.flush()] == ["192.0.2.9", "192.0.2.3", "192.0.2.1", "192.0.2.2"]
