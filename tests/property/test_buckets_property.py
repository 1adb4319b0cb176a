"""Properties of the buckets: the leaky bucket against a naive reference model, determinism, and independence
of groupby keys."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from synsec.engine.buckets import BucketManager, build_spec
from synsec.engine.model import Event

T0 = 1_600_000_000


def ev(ts, ip="192.0.2.1", user="u") -> Event:
    evt = Event()
    evt.ts = float(T0 + ts)
    evt.Meta["source_ip"] = ip
    evt.Meta["user"] = user
    return evt


def alerts_of(manager, events, flush=True):
    out = []
    for evt in events:
        out += manager.process(evt)
    if flush:
        out += manager.flush()
    return [a[0] if isinstance(a, tuple) else a for a in out]


def reference_leaky(times, capacity, leakspeed, blackhole=None):
    """Naive model: a token counter refilled by elapsed/leakspeed (exact fractions), a bucket that expires
    after (capacity+1)*leakspeed idle, and a blackhole list. Returns (count, start, stop) per alert."""
    out, bucket, hidden_until = [], None, None
    for t in times:
        t = Fraction(t)
        if bucket is not None and t > bucket["last"] + (capacity + 1) * leakspeed:
            bucket = None
        if bucket is None:
            bucket = {"tokens": Fraction(capacity), "last": t, "first": t, "count": 0}
        elapsed = t - bucket["last"]
        bucket["tokens"] = min(Fraction(capacity), bucket["tokens"] + elapsed / leakspeed)
        bucket["last"] = t
        bucket["count"] += 1
        if bucket["tokens"] >= 1:
            bucket["tokens"] -= 1
            continue
        alert = (bucket["count"], bucket["first"], t)
        bucket = None
        if blackhole is not None:
            if hidden_until is not None and hidden_until > t:
                continue
            hidden_until = t + blackhole
        out.append(alert)
    return out


steps = st.lists(st.sampled_from([Fraction(0), Fraction(1, 4), Fraction(1, 2), Fraction(1), Fraction(3),
                                  Fraction(10), Fraction(45)]), max_size=80)


@settings(max_examples=300, deadline=None)
@given(gaps=steps, capacity=st.integers(1, 6),
       leakspeed=st.sampled_from([Fraction(1, 2), Fraction(1), Fraction(2), Fraction(5), Fraction(10)]),
       blackhole=st.sampled_from([None, Fraction(0), Fraction(7), Fraction(60)]))
def test_leaky_matches_naive_token_model(gaps, capacity, leakspeed, blackhole):
    """The leaky bucket overflows exactly when a step-by-step token counter runs dry (same counts and times)."""
    times, t = [], Fraction(0)
    for gap in gaps:
        t += gap
        times.append(t)
    spec = build_spec(name="p/leaky", capacity=capacity, leakspeed=float(leakspeed),
                      blackhole=float(blackhole or 0), groupby=lambda e: e.Meta["source_ip"])
    got = [(a.EventsCount, a.StartAt - T0, a.StopAt - T0)
           for a in alerts_of(BucketManager([spec]), [ev(float(x)) for x in times])]
    want = [(c, float(s), float(e)) for c, s, e in reference_leaky(times, capacity, leakspeed, blackhole)]
    assert got == want


def scenarios():
    by_ip = dict(groupby=lambda e: e.Meta["source_ip"])
    return [
        build_spec(name="p/leaky", capacity=3, leakspeed=2.0, blackhole=5.0, **by_ip),
        build_spec(name="p/uniq", capacity=2, leakspeed=5.0, distinct=lambda e: e.Meta["user"], **by_ip),
        build_spec(name="p/trigger", type="trigger", blackhole=3.0, filter=lambda e: e.Meta["user"] == "root",
                   **by_ip),
        build_spec(name="p/counter", type="counter", capacity=-1, duration=20.0, cache_size=2, **by_ip),
    ]


event_lists = st.lists(
    st.tuples(st.sampled_from([0, 0, 0.5, 1, 2, 7, 30]), st.sampled_from(["192.0.2.1", "192.0.2.2", "192.0.2.3"]),
              st.sampled_from(["root", "admin", "u1", "u2"])),
    max_size=120)


def build_events(rows):
    out, t = [], 0.0
    for gap, ip, user in rows:
        t += gap
        out.append(ev(t, ip, user))
    return out


def canonical(alerts):
    return sorted((a.Scenario, a.Source.IP, a.StartAt, a.StopAt, a.EventsCount, a.Message,
                   tuple(e["timestamp"] for e in a.Events)) for a in alerts)


@settings(max_examples=150, deadline=None)
@given(rows=event_lists)
def test_same_input_twice_same_output(rows):
    """Two fresh managers fed the same events emit identical alerts in identical order."""
    a = alerts_of(BucketManager(scenarios()), build_events(rows))
    b = alerts_of(BucketManager(scenarios()), build_events(rows))
    assert [x.to_dict() for x in a] == [x.to_dict() for x in b]


@settings(max_examples=150, deadline=None)
@given(rows=event_lists)
def test_splitting_by_groupby_key_gives_same_alerts(rows):
    """Feeding each source IP's events to its own manager gives the same alerts as one manager for all."""
    events = build_events(rows)
    whole = alerts_of(BucketManager(scenarios()), events)
    parts = []
    for ip in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        parts += alerts_of(BucketManager(scenarios()), [e for e in events if e.Meta["source_ip"] == ip])
    assert canonical(whole) == canonical(parts)


@settings(max_examples=150, deadline=None)
@given(rows=event_lists, advance=st.sampled_from([0.0, 3.0, 10.0, 100.0]))
def test_live_count_agrees_with_a_walk_of_the_store(rows, advance):
    """The live-bucket gauge kept as buckets come and go equals a walk of the store after every step (pours,
    overflows into blackholes, timers, a manager rebuilt over the same store, the end-of-input flush)."""
    def walked(manager):
        out = {}
        for scenario, _key in manager.live_buckets():
            out[scenario] = out.get(scenario, 0) + 1
        return out

    m = BucketManager(scenarios())
    events = build_events(rows)
    for evt in events:
        m.process(evt)
        assert m.live_by_scenario() == walked(m)
    m = BucketManager(scenarios(), store=m.buckets)          # as the worker does after a rebalance
    assert m.live_by_scenario() == walked(m)
    m.advance((events[-1].ts if events else T0) + advance)
    assert m.live_by_scenario() == walked(m)
    m.flush()
    assert m.live_by_scenario() == walked(m) == {}


@settings(max_examples=150, deadline=None)
@given(rows=event_lists)
def test_counts_do_not_depend_on_when_timers_fire(rows):
    """Pours, overflows and underflows are the same whether timers fire as event time moves (replay) or only
    when a pour finds its bucket leaked out and at the end (a worker whose watermark is behind)."""
    events = build_events(rows)
    prompt = BucketManager(scenarios())
    alerts_of(prompt, events)
    late = BucketManager(scenarios())
    for evt in events:
        for name, key in late.route(evt):
            late.pour_one(name, key, evt)
    late.flush()
    assert late.counts.snapshot() == prompt.counts.snapshot()
