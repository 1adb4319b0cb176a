"""All the buckets of all the scenarios, driven by event time.

`BucketManager` holds `{(scenario, key): BucketState}` (any mutable mapping: a dict here, a changelogged table in
the Faust worker) and a heap of timers. `process(event)` advances the watermark to the event's time — firing
every due timer first, in deadline order — then evaluates every scenario's filter and groupby and pours.
`route` and `pour_one` are the two halves of `process` for a topology that routes in one agent and pours in
another. The alerts they return are `Alert`s, except that the first alert of an overflow of a
`reprocess: true` scenario comes as `(alert, True)`: the caller feeds it back as an OVFLW event (CrowdSec's
`reprocess`), once per overflow.

`counts` (the engine's `synsec.engine.counters.CounterSet`) counts pours, overflows, cancels, discarded overflows
(blackhole, overflow_filter) and underflows per scenario (a
bucket that leaked out, found when its timer fires or, when the watermark is behind, when the next pour into it
finds it leaked); runtime errors of filter/groupby are counted there too and the event is skipped for that scenario.
The active buckets per scenario are counted as they come and go (`live_by_scenario`, CrowdSec's `cs_buckets`
gauge), so a metrics scrape never walks the store (in the worker a walk decodes every table value).
"""

from __future__ import annotations

import heapq
import math
from typing import Iterable, MutableMapping

from synsec.engine.buckets.alert import Overflow
from synsec.engine.buckets.core import deadline, pour, tick
from synsec.engine.buckets.index import FilterIndex
from synsec.engine.buckets.spec import BucketSpec
from synsec.engine.buckets.state import BucketState
from synsec.engine.counters import CounterSet

__all__ = ["BucketManager"]


class BucketManager:
    """Pure (no I/O, no clock) but stateful: feed it events in roughly time order."""

    def __init__(self, specs: Iterable[BucketSpec], store: MutableMapping | None = None,
                 counts: CounterSet | None = None):
        self.specs: dict[str, BucketSpec] = {}
        for spec in specs:
            if spec.id in self.specs:
                raise ValueError(f"duplicate scenario id {spec.id!r}")
            self.specs[spec.id] = spec
        self._routes = tuple((s.id, s.filter, s.groupby) for s in self.specs.values())
        self.index = FilterIndex([s.filter for s in self.specs.values()])
        self.buckets: MutableMapping = {} if store is None else store
        self.counts = CounterSet() if counts is None else counts
        self._live: dict[str, int] = {}     # scenario -> active buckets, kept by _store
        self.watermark = -math.inf
        self._heap: list[float] = []        # the distinct times timers are due at (a heap of floats: cheap to order)
        self._due: dict[float, list] = {}   # due time -> bucket keys scheduled for it, in the order they were
        self._scheduled: dict = {}          # bucket key -> its earliest scheduled time (later entries are stale)
        for bkey, state in list(self.buckets.items()):
            if state.count:
                self._live[bkey[0]] = self._live.get(bkey[0], 0) + 1
            if bkey[0] in self.specs:
                self._schedule(bkey, self.specs[bkey[0]], state)

    # --- routing ---
    def route(self, evt) -> list[tuple[str, str]]:
        """The (scenario id, key) buckets this event goes to: filter true, groupby evaluated ("" without one).
        Only the scenarios the filter index names as candidates are tried, in scenario order."""
        out = []
        m = self.index.candidates(evt)
        routes, key_of = self._routes, self._key
        while m:
            low = m & -m
            m ^= low
            name, filt, groupby = routes[low.bit_length() - 1]
            key = key_of(name, filt, groupby, evt)
            if key is not None:
                out.append((name, key))
        return out

    def _key(self, name, filt, groupby, evt):
        if filt is not None:
            try:
                if filt(evt) is not True:
                    return None
            except Exception:
                self.counts.inc("bucket_filter_errors", name)
                return None
        if groupby is None:
            return ""
        try:
            key = groupby(evt)
        except Exception:
            self.counts.inc("bucket_groupby_errors", name)
            return None
        if not isinstance(key, str):
            self.counts.inc("bucket_groupby_errors", name)
            return None
        return key

    # --- driving ---
    def process(self, evt) -> list:
        """Advance the watermark to `evt.ts` (firing due timers), then pour `evt` into every matching bucket."""
        ts = evt.ts
        alerts = []
        if ts > self.watermark:
            self.watermark = ts
            if self._heap and self._heap[0] < ts:
                alerts = self._fire(ts)
        for name, key in self.route(evt):
            alerts.extend(self.pour_one(name, key, evt))
        return alerts

    def pour_one(self, scenario: str, key: str, evt) -> list:
        """Pour `evt` into bucket (scenario, key) at the event's time; the alerts it produces."""
        spec = self.specs[scenario]
        bkey = (scenario, key)
        old = self.buckets.get(bkey)
        ts = evt.ts
        new, ovfs = pour(spec, old, evt, ts, key)
        counts = self.counts.values
        poured, labels = counts["poured"], (scenario,)
        poured[labels] = poured.get(labels, 0) + 1
        if old is not None and old.count and not spec.timed_overflow and old.last_ts + spec.lifetime < ts:
            under = counts["underflows"]  # leaked out before its timer fired (a watermark behind): pour ticked it
            under[labels] = under.get(labels, 0) + 1
        self._store(bkey, spec, old, new)
        return self._emit(ovfs) if ovfs else []

    def advance(self, watermark: float) -> list:
        """Event time has reached `watermark`: fire every timer strictly before it."""
        if watermark > self.watermark:
            self.watermark = watermark
        return self._fire(watermark) if self._heap and self._heap[0] < watermark else []

    def flush(self) -> list:
        """End of input: fire every pending timer (counters overflow, buckets underflow); the store empties."""
        return self._fire(math.inf)

    def live_buckets(self) -> list[tuple[str, str]]:
        """(scenario, key) of the active buckets (dormant blackhole records excluded)."""
        return [bkey for bkey, state in self.buckets.items() if state.count]

    def live_by_scenario(self) -> dict[str, int]:
        """{scenario: active buckets} (CrowdSec's `cs_buckets` gauge), counted as buckets come and go: it
        agrees with `live_buckets()` as long as the store is written only by this manager."""
        return {scenario: n for scenario, n in self._live.items() if n}

    # --- internals ---
    def _store(self, bkey, spec, old, new) -> None:
        was, now = old is not None and old.count > 0, new is not None and new.count > 0
        if was is not now:
            self._live[bkey[0]] = self._live.get(bkey[0], 0) + (1 if now else -1)
        if new is None:
            if old is not None:
                del self.buckets[bkey]
            return
        if new is not old:
            self.buckets[bkey] = new
            self._schedule(bkey, spec, new)

    def _schedule(self, bkey, spec, state: BucketState) -> None:
        due = deadline(spec, state)
        if due is None:
            return
        current = self._scheduled.get(bkey)
        if current is None or due < current:
            self._scheduled[bkey] = due
            keys = self._due.get(due)
            if keys is None:
                self._due[due] = [bkey]
                heapq.heappush(self._heap, due)
            else:
                keys.append(bkey)

    def _fire(self, now: float) -> list:
        """Fire the timers due strictly before `now`, by due time, then in the order they were scheduled."""
        alerts: list = []
        heap, due_keys, scheduled, buckets, specs = self._heap, self._due, self._scheduled, self.buckets, self.specs
        pop = heapq.heappop
        while heap and heap[0] < now:
            when = pop(heap)
            for bkey in due_keys.pop(when):
                if scheduled.get(bkey) != when:
                    continue                               # superseded by an earlier entry
                del scheduled[bkey]
                state = buckets.get(bkey)
                if state is None:
                    continue
                spec = specs[bkey[0]]
                due = deadline(spec, state)
                if due >= now:                             # moved later by a pour: look again then
                    self._schedule(bkey, spec, state)
                    continue
                if state.count and not spec.timed_overflow and state.bh_until <= due:
                    self._underflow(bkey)                  # tick's answer for a leaked-out bucket, no blackhole left
                    continue
                new, ovfs = tick(spec, state, now, bkey[1])
                self._store(bkey, spec, state, new)
                if ovfs:
                    alerts.extend(self._emit(ovfs))
                elif state.count and not spec.timed_overflow and (new is None or not new.count):
                    self.counts.inc("underflows", bkey[0])    # died of old age (leaked out)
        return alerts

    def _underflow(self, bkey) -> None:
        """An active bucket leaked out with no blackhole to keep: gone, counted (what tick + _store do for it)."""
        del self.buckets[bkey]
        self._live[bkey[0]] = self._live.get(bkey[0], 0) - 1
        under, labels = self.counts.values["underflows"], (bkey[0],)
        under[labels] = under.get(labels, 0) + 1

    def _emit(self, ovfs: list[Overflow]) -> list:
        alerts = []
        for ovf in ovfs:
            if ovf.dropped:
                self.counts.inc(ovf.dropped, ovf.scenario)
                continue
            if ovf.error:
                self.counts.inc("bucket_alert_errors", ovf.scenario)
                continue
            self.counts.inc("overflows", ovf.scenario)
            if ovf.reprocess and ovf.alerts:
                alerts.append((ovf.alerts[0], True))
                alerts.extend(ovf.alerts[1:])
            else:
                alerts.extend(ovf.alerts)
        return alerts
