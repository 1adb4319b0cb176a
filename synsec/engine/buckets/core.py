"""The pure transitions of one bucket: `pour`, `tick`, `deadline`. They never mutate a state; they return the
new one (None when the bucket and its blackhole are gone) and the overflows to emit.

Order of the hooks follows CrowdSec's processors: type (trigger) → distinct → cancel_on → pour (limiter) →
after-pour (conditional, bayesian); on overflow: overflow_filter → blackhole. A bucket that ends without an
alert (cancel_on, an overflow discarded) emits an `Overflow` with `dropped` set and no alert, for the counters. Timers fire when the event-time
watermark is strictly past them, so an event stamped exactly at a bucket's deadline still joins that bucket
(CrowdSec's time machine: `d.After(lastTs.Add(Duration))`).
"""

from __future__ import annotations

from synsec.engine.buckets import blackhole, cancel, overflow_filter, uniq
from synsec.engine.buckets.alert import Overflow, build_overflow
from synsec.engine.buckets.source import event_sources
from synsec.engine.buckets.state import EMPTY, BucketState

__all__ = ["pour", "tick", "deadline"]

def deadline(spec, state) -> float | None:
    """When this state's next timer is due: underflow or timed overflow if active, blackhole expiry if dormant."""
    if state.count:
        if spec.timed_overflow:
            return state.first_ts + spec.duration
        return state.last_ts + spec.lifetime
    return state.bh_until or None


def tick(spec, state, now: float, key: str = "") -> tuple[BucketState | None, list[Overflow]]:
    """Fire every timer of this state that is due at watermark `now` (deadline < now)."""
    emits: list[Overflow] = []
    while state is not None:
        due = deadline(spec, state)
        if due is None or not due < now:
            break
        if state.count and spec.timed_overflow:
            state = _overflow(spec, state, key, due, emits)
        elif state.count:
            state = _dormant(state, due)       # underflow: silent
        else:
            state = None                       # blackhole over
    return state, emits


def pour(spec, state, evt, now: float, key: str = "") -> tuple[BucketState | None, list[Overflow]]:
    """Pour `evt` (at event time `now`) into this bucket; `state` None means no bucket yet."""
    emits: list[Overflow] = []
    if state is not None:
        due = deadline(spec, state)
        if due is not None and due < now:
            state, emits = tick(spec, state, now, key)
    if state is None:
        state = EMPTY
    kind = spec.kind
    if kind.instant:
        fresh = state._replace(first_ts=now, last_ts=now, count=1,
                               queue=(_entry(spec, evt, now),), distinct=frozenset())
        return _overflow(spec, fresh, key, now, emits), emits
    distinct = state.distinct
    if spec.distinct is not None:
        value = uniq.element(spec, evt)
        if value is not None:
            if value in distinct:
                return _kept(state), emits
            distinct = distinct | {value}
    if spec.cancel_on is not None and cancel.cancels(spec, evt):
        emits.append(_dropped(spec, key, "canceled"))
        return _dormant(state, now), emits
    tat, allowed = kind.allow(spec, state, now)
    new = _poured(spec, state, evt, now, tat, distinct)
    if not allowed:                  # at the newest event time poured: `now` itself unless `evt` came late
        return _overflow(spec, new, key, new.last_ts, emits), emits
    if kind.after_pour is not None:
        over, flags = kind.after_pour(spec, new, evt, key)
        if flags != new.flags:
            new = new._replace(flags=flags)
        if over:
            return _overflow(spec, new, key, new.last_ts, emits), emits
    return new, emits


def _poured(spec, state, evt, now: float, tat: float, distinct: frozenset) -> BucketState:
    """The state with `evt` added: count, first/last time, limiter and the bounded queue of kept events."""
    if state.count:                  # an event may come late (distributed: pours arrive from several sources)
        first = now if now < state.first_ts else state.first_ts
        last = now if now > state.last_ts else state.last_ts
        queue = state.queue + (_entry(spec, evt, now),)
        limit = spec.queue_limit
        if limit is not None and len(queue) > limit:
            queue = queue[len(queue) - limit:]
    else:
        first = last = now
        queue = (_entry(spec, evt, now),)
    return BucketState(first, last, tat, state.count + 1, queue, distinct, state.bh_until, state.flags)


def _entry(spec, evt, ts: float) -> tuple:
    meta = evt.Meta
    if not meta and evt.Overflow is not None:
        meta = None
    extra = (dict(evt.Parsed), dict(evt.Enriched)) if spec.keep_full else None
    return (ts, meta, event_sources(spec, evt), extra)


def _kept(state):
    """State after a dropped event: unchanged, or None for a bucket that never existed."""
    return None if state is EMPTY else state


def _dormant(state, now: float):
    """What is left of a dead bucket: its blackhole if still running, else nothing."""
    if state.bh_until > now:
        return BucketState(bh_until=state.bh_until)
    return None


def _dropped(spec, key: str, why: str) -> Overflow:
    """The bucket ended without an alert; `why` is the counter that counts it."""
    return Overflow(spec.id, key, (), {}, False, dropped=why)


def _overflow(spec, state, key: str, ovflw_ts: float, emits: list) -> BucketState | None:
    """The bucket overflows and dies; append its overflow unless filtered or blackholed."""
    if spec.blackhole and blackhole.blackholed(state, ovflw_ts):
        emits.append(_dropped(spec, key, "overflows_blackholed"))
        return _dormant(state, ovflw_ts)
    ovf = build_overflow(spec, state, key, ovflw_ts)
    if spec.overflow_filter is not None and not overflow_filter.passes(spec, state, ovf, key, ovflw_ts):
        emits.append(_dropped(spec, key, "overflows_filtered"))
        return _dormant(state, ovflw_ts)
    emits.append(ovf)
    if spec.blackhole:
        return BucketState(bh_until=blackhole.until(spec, ovflw_ts))
    return None
