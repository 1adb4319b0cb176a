"""Leaky, trigger and counter buckets, the pure transitions and the manager (specs built with plain lambdas)."""

from __future__ import annotations

import pickle

import pytest

from synsec.engine.buckets import EMPTY, BucketManager, BucketState, build_spec, deadline, go_duration, pour, tick
from synsec.engine.buckets.alert import go_time
from synsec.engine.model import Event

T0 = 1_700_000_000.0


def ev(ts: float, ip: str = "192.0.2.1", **meta) -> Event:
    evt = Event()
    evt.ts = T0 + ts
    evt.Meta["log_type"] = meta.pop("log_type", "ssh_failed-auth")
    evt.Meta["source_ip"] = ip
    evt.Meta.update(meta)
    return evt


def leaky(**kw) -> object:
    opts = dict(name="test/leaky", type="leaky", capacity=5, leakspeed=10.0,
                filter=lambda e: e.Meta["log_type"] == "ssh_failed-auth", groupby=lambda e: e.Meta["source_ip"])
    opts.update(kw)
    return build_spec(**opts)


def run(manager: BucketManager, events) -> list:
    out = []
    for evt in events:
        out.extend(a[0] if isinstance(a, tuple) else a for a in manager.process(evt))
    return out


# --- leaky ---

def test_leaky_overflows_on_capacity_plus_one_rapid_events():
    """capacity 5: five rapid pours fit, the sixth is refused and overflows with events_count 6."""
    m = BucketManager([leaky()])
    assert run(m, [ev(0.1 * i) for i in range(5)]) == []
    alerts = run(m, [ev(0.5)])
    assert len(alerts) == 1
    assert alerts[0].EventsCount == 6
    assert alerts[0].StartAt == T0 and alerts[0].StopAt == T0 + 0.5


def test_leaky_bucket_is_removed_after_overflow():
    """After an overflow the bucket is gone: the next event starts a fresh bucket."""
    m = BucketManager([leaky()])
    run(m, [ev(0.1 * i) for i in range(6)])
    assert m.live_buckets() == []
    run(m, [ev(1.0)])
    state = m.buckets[("test/leaky", "192.0.2.1")]
    assert state.count == 1 and state.first_ts == T0 + 1.0


def test_leaky_leak_lets_slow_events_through():
    """One event per leakspeed never overflows: a token leaks back before each pour."""
    m = BucketManager([leaky(capacity=2, leakspeed=10.0)])
    assert run(m, [ev(10.0 * i) for i in range(50)]) == []


def test_leaky_partial_leak_counts_fractional_time():
    """capacity 2, leakspeed 10s: pours at 0, 0, 10 fit (one token back at 10); a fourth at 10 overflows."""
    m = BucketManager([leaky(capacity=2, leakspeed=10.0)])
    assert run(m, [ev(0), ev(0), ev(10)]) == []
    assert len(run(m, [ev(10)])) == 1


def test_leaky_just_before_a_leak_overflows():
    """capacity 2, leakspeed 10s: the third pour at 9.9s finds no token yet and overflows."""
    m = BucketManager([leaky(capacity=2, leakspeed=10.0)])
    assert len(run(m, [ev(0), ev(0), ev(9.9)])) == 1


def test_leaky_underflows_after_capacity_plus_one_leakspeeds_idle():
    """The bucket dies silently once (capacity+1)*leakspeed passes with no event."""
    m = BucketManager([leaky(capacity=5, leakspeed=10.0)])
    run(m, [ev(0), ev(1)])
    assert m.advance(T0 + 61.0) == []                     # deadline 1 + 60 = 61: not strictly passed
    assert len(m.live_buckets()) == 1
    assert m.advance(T0 + 61.001) == []
    assert m.live_buckets() == []


def test_event_exactly_at_deadline_joins_the_old_bucket():
    """An event stamped exactly at last_ts + lifetime still pours into the existing bucket."""
    spec = leaky(capacity=1, leakspeed=10.0)
    state, _ = pour(spec, None, ev(0), T0)
    assert deadline(spec, state) == T0 + 20.0
    state, _ = pour(spec, state, ev(20), T0 + 20.0)
    assert state.count == 2


def test_out_of_order_event_leaks_nothing():
    """An event older than the last pour is taken at the last pour's time."""
    spec = leaky(capacity=2, leakspeed=10.0)
    s, _ = pour(spec, None, ev(100), T0 + 100)
    s, _ = pour(spec, s, ev(50), T0 + 50)
    assert s.last_ts == T0 + 100 and s.count == 2
    _, emits = pour(spec, s, ev(50), T0 + 50)
    assert len(emits) == 1


def test_a_late_event_never_puts_stop_before_start():
    """Pours arriving out of event-time order (a bucket fed from several raw partitions): the bucket starts at
    its earliest event and overflows at its newest, so an alert never stops before it starts."""
    spec = leaky(capacity=2, leakspeed=10.0)
    s, _ = pour(spec, None, ev(100), T0 + 100)
    s, _ = pour(spec, s, ev(40), T0 + 40)
    assert (s.first_ts, s.last_ts) == (T0 + 40, T0 + 100)
    _, emits = pour(spec, s, ev(50), T0 + 50)
    (overflow,) = emits
    (alert,) = overflow.alerts
    assert (alert.StartAt, alert.StopAt) == (T0 + 40, T0 + 100)
    assert alert.EventsCount == 3


def test_groupby_keys_have_separate_buckets():
    """Events of two source IPs fill two buckets; neither overflows at 5 events each."""
    m = BucketManager([leaky()])
    events = [ev(0.1 * i, ip=ip) for i in range(5) for ip in ("192.0.2.1", "192.0.2.2")]
    assert run(m, events) == []
    assert sorted(k for _, k in m.live_buckets()) == ["192.0.2.1", "192.0.2.2"]


def test_filter_false_pours_nothing():
    """An event failing the filter creates no bucket."""
    m = BucketManager([leaky()])
    run(m, [ev(0, log_type="other")])
    assert m.buckets == {}


# --- trigger ---

def test_trigger_overflows_on_first_pour():
    """trigger: every poured event is an alert of one event, start = stop = its time."""
    m = BucketManager([leaky(name="test/trigger", type="trigger", capacity=0, leakspeed=0.0)])
    alerts = run(m, [ev(3.0)])
    assert len(alerts) == 1
    a = alerts[0]
    assert (a.EventsCount, a.StartAt, a.StopAt) == (1, T0 + 3.0, T0 + 3.0)
    assert "(1 events over 0s)" in a.Message
    assert m.buckets == {}


def test_trigger_with_blackhole_alerts_once_per_window():
    """trigger + blackhole 1m: repeats before overflow+1m are discarded; one exactly at it goes through."""
    m = BucketManager([leaky(name="test/trigger", type="trigger", capacity=0, leakspeed=0.0, blackhole=60.0)])
    assert len(run(m, [ev(0)])) == 1
    assert run(m, [ev(10), ev(59.9)]) == []
    assert len(run(m, [ev(60)])) == 1           # CrowdSec: blackholed while expiration.After(ovflw_ts)
    assert run(m, [ev(61)]) == []


# --- counter ---

def counter(**kw):
    return leaky(name="test/counter", type="counter", capacity=-1, leakspeed=0.0, duration=60.0, **kw)


def test_counter_overflows_at_end_of_duration_with_count():
    """counter: overflows once `duration` after its first event, with every event counted."""
    m = BucketManager([counter()])
    assert run(m, [ev(i) for i in range(30)]) == []
    alerts = m.advance(T0 + 60.5)
    assert len(alerts) == 1
    assert alerts[0].EventsCount == 30
    assert (alerts[0].StartAt, alerts[0].StopAt) == (T0, T0 + 60.0)


def test_counter_fires_when_a_later_event_passes_its_deadline():
    """The timer fires from process() when a later event moves the watermark past it, before that pour."""
    m = BucketManager([counter()])
    run(m, [ev(0), ev(1)])
    alerts = run(m, [ev(100)])
    assert len(alerts) == 1 and alerts[0].EventsCount == 2
    assert m.buckets[("test/counter", "192.0.2.1")].count == 1


def test_flush_fires_pending_counters():
    """flush() at end of input overflows pending counters and empties the manager."""
    m = BucketManager([counter()])
    run(m, [ev(0), ev(5)])
    alerts = m.flush()
    assert len(alerts) == 1 and alerts[0].EventsCount == 2
    assert m.buckets == {}


def test_counter_cache_size_limits_kept_events_not_count():
    """cache_size 2 keeps the last 3 events (CrowdSec's queue keeps one more) but counts all 10."""
    m = BucketManager([counter(cache_size=2)])
    run(m, [ev(i) for i in range(10)])
    (alert,) = m.flush()
    assert alert.EventsCount == 10
    assert [e["timestamp"] for e in alert.Events] == [T0 + 7, T0 + 8, T0 + 9]


# --- timers and the manager ---

def test_timers_fire_in_deadline_order():
    """Counters of several keys overflow in the order of their deadlines."""
    m = BucketManager([counter()])
    run(m, [ev(5, ip="192.0.2.5"), ev(1, ip="192.0.2.1"), ev(3, ip="192.0.2.3")])
    alerts = m.advance(T0 + 1000)
    assert [a.Source.IP for a in alerts] == ["192.0.2.1", "192.0.2.3", "192.0.2.5"]


def test_filter_and_groupby_errors_are_counted_and_skipped():
    """A raising filter or a non-string groupby is counted per scenario; other scenarios still pour."""
    def boom(evt):
        raise RuntimeError("bad")

    m = BucketManager([leaky(name="a", filter=boom), leaky(name="b", groupby=lambda e: 42), leaky(name="c")])
    run(m, [ev(0)])
    assert m.counts.by("bucket_filter_errors") == {("a",): 1}
    assert m.counts.by("bucket_groupby_errors") == {("b",): 1}
    assert list(m.buckets) == [("c", "192.0.2.1")]


def test_route_and_pour_one_equal_process():
    """route() + pour_one() give the same alerts as process() (the topology's split)."""
    events = [ev(0.1 * i, ip=f"192.0.2.{i % 3}") for i in range(40)]
    a = run(BucketManager([leaky(), counter()]), events) + BucketManager([]).flush()
    m = BucketManager([leaky(), counter()])
    b = []
    for evt in events:
        b += m.advance(evt.ts)
        for scenario, key in m.route(evt):
            b += [x[0] if isinstance(x, tuple) else x for x in m.pour_one(scenario, key, evt)]
    assert [x.to_dict() for x in a] == [x.to_dict() for x in b]


def test_reprocess_overflow_is_flagged_once():
    """A `reprocess: true` overflow comes as (alert, True) so the caller feeds it back."""
    m = BucketManager([leaky(reprocess=True)])
    out = []
    for evt in [ev(0.1 * i) for i in range(6)]:
        out += m.process(evt)
    assert len(out) == 1 and isinstance(out[0], tuple) and out[0][1] is True


def test_manager_restores_timers_from_a_store():
    """A manager built on an existing store (a changelogged table) fires the stored buckets' timers."""
    m1 = BucketManager([counter()])
    run(m1, [ev(0), ev(1)])
    store = {k: BucketState.from_dict(v.to_dict()) for k, v in m1.buckets.items()}
    m2 = BucketManager([counter()], store=store)
    alerts = m2.advance(T0 + 100)
    assert len(alerts) == 1 and alerts[0].EventsCount == 2


def test_tick_and_pour_never_mutate_the_given_state():
    """Transitions return new states; the input state is unchanged (Faust records only reassignment)."""
    spec = leaky(capacity=1)
    s1, _ = pour(spec, None, ev(0), T0)
    snapshot = s1.to_dict()
    pour(spec, s1, ev(0), T0)
    tick(spec, s1, T0 + 1000)
    assert s1.to_dict() == snapshot


def test_state_round_trips_through_a_plain_dict():
    """BucketState → dict → BucketState is identity (what a Faust table stores)."""
    spec = leaky(distinct=lambda e: e.Meta["user"])
    s = None
    for i, user in enumerate(["a", "b", "c"]):
        s, _ = pour(spec, s, ev(i, user=user), T0 + i)
    assert BucketState.from_dict(s.to_dict()) == s
    assert pickle.loads(pickle.dumps(s)) == s
    assert EMPTY.to_dict()["count"] == 0


# --- alert text ---

def test_alert_carries_crowdsec_fields():
    """Alert: Ip scope, enrichment, labels, remediation, capacity, Go leakspeed text and CrowdSec's message."""
    m = BucketManager([leaky(labels={"remediation": True, "type": "bruteforce"}, scenario_version="0.1",
                             scenario_hash="abc")])
    events = [ev(i * 0.5) for i in range(6)]
    for e in events:
        e.Enriched.update({"ASNNumber": "64500", "ASNOrg": "Example", "IsoCode": "FR",
                           "Latitude": "48.85", "Longitude": "2.35"})
        e.Meta["SourceRange"] = "192.0.2.0/24"
    (a,) = run(m, events)
    src = a.Source
    assert (src.Scope, src.Value, src.IP, src.Range) == ("Ip", "192.0.2.1", "192.0.2.1", "192.0.2.0/24")
    assert (src.AsNumber, src.AsName, src.Cn, src.Latitude) == ("64500", "Example", "FR", 48.85)
    assert a.Remediation is True and a.Labels["type"] == "bruteforce" and a.Simulated is False
    assert (a.Capacity, a.Leakspeed, a.ScenarioVersion, a.ScenarioHash) == (5, "10s", "0.1", "abc")
    assert a.Message == ("Ip 192.0.2.1 performed 'test/leaky' (6 events over 2.5s) at "
                         f"{go_time(T0 + 2.5)}")
    assert a.Events[0] == {"timestamp": T0, "meta": {"SourceRange": "192.0.2.0/24", "log_type": "ssh_failed-auth",
                                                     "source_ip": "192.0.2.1"}}


def test_remediation_needs_boolean_true():
    """labels.remediation must be the boolean true (CrowdSec `v == true`), not the string."""
    m = BucketManager([leaky(capacity=1, labels={"remediation": "true"})])
    (a,) = run(m, [ev(0), ev(0)])
    assert a.Remediation is False


def test_invalid_source_ip_gives_no_alert_and_is_counted():
    """A kept event without a valid source_ip makes the alert fail (CrowdSec NewAlert), counted in stats."""
    m = BucketManager([leaky(capacity=1)])
    assert run(m, [ev(0, ip="not-an-ip"), ev(0, ip="not-an-ip")]) == []
    assert m.counts.by("bucket_alert_errors") == {("test/leaky",): 1}


@pytest.mark.parametrize("seconds,text", [(10, "10s"), (0.5, "500ms"), (60, "1m0s"), (5400, "1h30m0s"),
                                          (1.5, "1.5s"), (0, "0s"), (0.000002, "2µs"), (3661.25, "1h1m1.25s")])
def test_go_duration_text(seconds, text):
    """Durations print like Go's time.Duration.String()."""
    assert go_duration(seconds) == text


def test_go_time_text():
    """Times print like Go's time.Time.String() in UTC, fraction trimmed."""
    assert go_time(0) == "1970-01-01 00:00:00 +0000 UTC"
    assert go_time(1.25) == "1970-01-01 00:00:01.25 +0000 UTC"
