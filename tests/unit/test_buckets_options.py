"""Bucket options (distinct, cache_size, blackhole, overflow_filter, cancel_on, scope) and the conditional and
bayesian types, with specs built from plain lambdas."""

from __future__ import annotations

from synsec.engine.buckets import BayesianCondition, BucketManager, build_spec, pour
from synsec.engine.buckets.kinds.bayesian import update
from synsec.engine.model import OVFLW, Event, RuntimeAlert, Source

T0 = 1_700_000_000.0


def ev(ts: float, ip: str = "192.0.2.1", **meta) -> Event:
    evt = Event()
    evt.ts = T0 + ts
    evt.Meta["source_ip"] = ip
    evt.Meta.update(meta)
    return evt


def spec(**kw):
    opts = dict(name="test/s", type="leaky", capacity=3, leakspeed=10.0, groupby=lambda e: e.Meta["source_ip"])
    opts.update(kw)
    return build_spec(**opts)


def run(manager, events):
    out = []
    for evt in events:
        out.extend(a[0] if isinstance(a, tuple) else a for a in manager.process(evt))
    return out


# --- distinct ---

def test_distinct_duplicates_are_not_poured():
    """distinct: repeated values do not count; the 4th distinct value overflows capacity 3."""
    m = BucketManager([spec(distinct=lambda e: e.Meta["user"])])
    users = ["a", "a", "b", "a", "b", "c", "c"]
    assert run(m, [ev(0.1 * i, user=u) for i, u in enumerate(users)]) == []
    assert m.buckets[("test/s", "192.0.2.1")].count == 3
    (alert,) = run(m, [ev(1, user="d")])
    assert alert.EventsCount == 4


def test_distinct_duplicate_does_not_reset_the_idle_timer():
    """A dropped duplicate does not extend the bucket's life (CrowdSec Uniq runs before the pour)."""
    s = spec(capacity=3, leakspeed=10.0, distinct=lambda e: e.Meta["user"])
    state, _ = pour(s, None, ev(0, user="a"), T0)
    after, _ = pour(s, state, ev(5, user="a"), T0 + 5)
    assert after is state


def test_distinct_failure_pours_the_event():
    """A failing distinct expression lets the event through (CrowdSec logs and pours)."""
    def boom(evt):
        raise KeyError("x")

    s = spec(distinct=boom)
    state, _ = pour(s, None, ev(0), T0)
    state, _ = pour(s, state, ev(0), T0)
    assert state.count == 2


def test_cache_size_keeps_last_events_for_alert():
    """cache_size 1 on capacity 3: the alert keeps 2 events (queue size + 1) but counts 4."""
    m = BucketManager([spec(cache_size=1)])
    (alert,) = run(m, [ev(0.1 * i, n=str(i)) for i in range(4)])
    assert alert.EventsCount == 4
    assert [e["meta"]["n"] for e in alert.Events] == ["2", "3"]


# --- blackhole ---

def test_blackhole_discards_overflows_of_same_key_within_window():
    """blackhole 60s: a second overflow of the key 20s later is discarded, one 70s later is not."""
    m = BucketManager([spec(capacity=1, blackhole=60.0)])
    assert len(run(m, [ev(0), ev(0)])) == 1
    assert run(m, [ev(20), ev(20)]) == []
    assert len(run(m, [ev(70), ev(70)])) == 1


def test_blackholed_overflow_does_not_extend_the_blackhole():
    """The window runs from the last overflow that went through, not from discarded ones."""
    m = BucketManager([spec(capacity=1, blackhole=60.0)])
    run(m, [ev(0), ev(0), ev(50), ev(50)])
    assert len(run(m, [ev(61), ev(61)])) == 1


def test_blackhole_is_per_key():
    """Another key is not blackholed by the first key's overflow."""
    m = BucketManager([spec(capacity=1, blackhole=60.0)])
    run(m, [ev(0), ev(0)])
    assert len(run(m, [ev(1, ip="192.0.2.9"), ev(1, ip="192.0.2.9")])) == 1


def test_dormant_blackhole_record_expires():
    """The dormant blackhole record is removed once the watermark passes its expiry."""
    m = BucketManager([spec(capacity=1, blackhole=60.0)])
    run(m, [ev(0), ev(0)])
    assert m.buckets[("test/s", "192.0.2.1")].bh_until == T0 + 60
    assert m.live_buckets() == []
    m.advance(T0 + 61)
    assert m.buckets == {}


# --- overflow_filter ---

def test_overflow_filter_false_discards_the_overflow():
    """overflow_filter returning false drops the alert; the bucket still dies."""
    m = BucketManager([spec(capacity=1, overflow_filter=lambda queue, signal, leaky: False)])
    assert run(m, [ev(0), ev(0)]) == []
    assert m.live_buckets() == []


def test_overflow_filter_sees_queue_signal_and_leaky():
    """The filter gets queue.Queue events (with Enriched), the RuntimeAlert signal and the leaky view."""
    seen = {}

    def filt(queue, signal, leaky):
        seen.update(n=len(queue.Queue), eu=queue.Queue[0].Enriched["IsInEU"], ip=signal.Alert.Source.IP,
                    count=leaky.Total_count)
        return True

    m = BucketManager([spec(capacity=1, overflow_filter=filt)])
    events = [ev(0), ev(0)]
    for e in events:
        e.Enriched["IsInEU"] = "true"
    assert len(run(m, events)) == 1
    assert seen == {"n": 2, "eu": "true", "ip": "192.0.2.1", "count": 2}


def test_overflow_filter_error_lets_overflow_through():
    """A raising overflow_filter does not discard (CrowdSec logs and keeps the overflow)."""
    def boom(queue, signal, leaky):
        raise RuntimeError

    m = BucketManager([spec(capacity=1, overflow_filter=boom)])
    assert len(run(m, [ev(0), ev(0)])) == 1


# --- cancel_on ---

def test_cancel_on_kills_bucket_without_alert():
    """A poured event matching cancel_on removes the bucket; counting starts again after it."""
    m = BucketManager([spec(capacity=2, cancel_on=lambda e: e.Meta["path"].endswith(".css"))])
    run(m, [ev(0, path="/a"), ev(0, path="/b")])
    run(m, [ev(0, path="/style.css")])
    assert m.buckets == {}
    assert run(m, [ev(1, path="/c"), ev(1, path="/d")]) == []


# --- scope ---

def test_scope_range_uses_source_range():
    """scope Range: the alert's value is the event's SourceRange."""
    m = BucketManager([spec(capacity=1, scope_type="Range")])
    events = [ev(0), ev(0)]
    for e in events:
        e.Meta["SourceRange"] = "192.0.2.0/24"
    (alert,) = run(m, events)
    assert (alert.Source.Scope, alert.Source.Value, alert.Source.IP) == ("Range", "192.0.2.0/24", "192.0.2.1")
    assert alert.Message.startswith("Range 192.0.2.0/24 performed")


def test_scope_range_expression_gives_the_value():
    """scope Range with an expression: the value is the expression's result."""
    m = BucketManager([spec(capacity=1, scope_type="Range", scope_expr=lambda e: "192.0.0.0/16")])
    (alert,) = run(m, [ev(0), ev(0)])
    assert alert.Source.Value == "192.0.0.0/16"


def test_custom_scope_from_expression():
    """A custom scope takes its value from the expression and needs no source_ip."""
    m = BucketManager([spec(capacity=1, scope_type="username", scope_expr=lambda e: e.Meta["user"],
                            groupby=lambda e: e.Meta["user"])])
    events = [ev(0, user="root"), ev(0, user="root")]
    for e in events:
        del e.Meta["source_ip"]
    (alert,) = run(m, events)
    assert (alert.Source.Scope, alert.Source.Value) == ("username", "root")


def test_several_sources_give_one_alert_each():
    """A bucket not grouped by IP alerts once per source, with CrowdSec's 'N sources' message."""
    m = BucketManager([spec(capacity=1, groupby=None)])
    alerts = run(m, [ev(0, ip="192.0.2.1"), ev(0, ip="192.0.2.2")])
    assert [a.Source.IP for a in alerts] == ["192.0.2.1", "192.0.2.2"]
    assert all(a.Message.startswith("Ip 2 sources performed") for a in alerts)


def test_overflow_event_widens_ip_source_to_range():
    """An overflow poured into a Range-scoped bucket contributes its source's range (ban-defcon-drop_range)."""
    def ovfl(ts, ip):
        e = Event(type_=OVFLW)
        e.ts = T0 + ts
        src = Source(Scope="Ip", Value=ip, IP=ip, Range="192.0.2.0/24")
        e.Overflow = RuntimeAlert(Alert=None, Sources={ip: src})
        return e

    m = BucketManager([spec(capacity=1, scope_type="Range", groupby=lambda e: "192.0.2.0/24")])
    (alert,) = run(m, [ovfl(0, "192.0.2.1"), ovfl(0, "192.0.2.2")])
    assert (alert.Source.Scope, alert.Source.Value) == ("Range", "192.0.2.0/24")
    assert alert.Events == []           # overflow events carry no Meta


# --- conditional ---

def test_conditional_overflows_when_condition_true():
    """conditional: overflows as soon as the condition over the queue holds."""
    def cond(evt, queue, leaky):
        paths = {e.Meta["path"] for e in queue.Queue}
        return "/" in paths and "/wp-login.php" in paths

    m = BucketManager([spec(type="conditional", capacity=-1, leakspeed=60.0, condition=cond)])
    assert run(m, [ev(0, path="/"), ev(1, path="/x")]) == []
    (alert,) = run(m, [ev(2, path="/wp-login.php")])
    assert alert.EventsCount == 3 and alert.StopAt == T0 + 2


def test_conditional_underflows_after_leakspeed_idle():
    """conditional: the bucket dies after `leakspeed` without events."""
    m = BucketManager([spec(type="conditional", capacity=-1, leakspeed=60.0,
                            condition=lambda evt, queue, leaky: False)])
    run(m, [ev(0)])
    m.advance(T0 + 60.5)
    assert m.buckets == {}


# --- bayesian ---

def test_bayesian_update_matches_bayes_rule():
    """One update is P(E|evil)p / (P(E|evil)p + P(E|benign)(1-p)), in float32."""
    assert abs(update(0.5, 0.9, 0.1) - 0.9) < 1e-6


def test_bayesian_overflows_when_posterior_passes_threshold():
    """bayesian: two true conditions lift the posterior over the threshold."""
    conds = (BayesianCondition(lambda e, q, l: e.Meta["a"] == "1", 0.9, 0.1),
             BayesianCondition(lambda e, q, l: any(x.Meta["b"] == "1" for x in q.Queue), 0.8, 0.2))
    m = BucketManager([spec(type="bayesian", capacity=-1, leakspeed=60.0, bayesian_prior=0.1,
                            bayesian_threshold=0.5, bayesian_conditions=conds)])
    assert run(m, [ev(0, a="1", b="0")]) == []          # 0.1 → 0.5 → 0.2
    (alert,) = run(m, [ev(1, a="1", b="1")])           # 0.1 → 0.5 → 0.8
    assert alert.EventsCount == 2


def test_bayesian_guillotine_keeps_condition_true():
    """A guillotine condition, once true, counts as true on later pours without being evaluated."""
    calls = []

    def once(e, q, l):
        calls.append(1)
        return e.Meta["a"] == "1"

    conds = (BayesianCondition(once, 0.9, 0.1, guillotine=True),
             BayesianCondition(lambda e, q, l: e.Meta["b"] == "1", 0.8, 0.2))
    m = BucketManager([spec(type="bayesian", capacity=-1, leakspeed=60.0, bayesian_prior=0.1,
                            bayesian_threshold=0.5, bayesian_conditions=conds)])
    run(m, [ev(0, a="1", b="0")])
    (alert,) = run(m, [ev(1, a="0", b="1")])
    assert len(calls) == 1 and alert.EventsCount == 2
