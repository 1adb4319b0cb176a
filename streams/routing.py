"""Routing: each parsed event to the buckets it enters on synsec.buckets-in, plus the event-time markers.

Used by the `route` agent (reading synsec.events) and, when the topology says `route: {inline: true}`, by the
`parse` agent itself (its events are then routed where they are parsed; synsec.events is still written). The
buckets agent uses one without markers for `reprocess` overflows.

Event-time markers: for every partition of the topic it reads (the *source*), a router tells every buckets-in
partition how far that source's event time has got: a `bucket_in` record with scenario `MARKER` and key the
source partition number. A source gets a new marker when its event time has moved `interval` seconds since its
last one, checked after each batch (so at most one marker per source and buckets-in partition per batch), and
`idle_markers` marks *idle* (a marker whose line is `IDLE_LINE`: streams.ordering) the sources that have been
quiet for `idle_s` wall seconds *and have nothing left to read*. The second condition matters when a
backlog is processed: Faust pauses a partition whose messages fill its buffer, and a source that is only paused
must not be let go ahead of the events still waiting in it (measured: one of the 754 alerts of the 1M-line
benchmark differed). An idle source is marked at the event time this worker *knew* `SETTLE_S` wall seconds
before (`saw`: the newest event time it routed or read in a marker from any worker, sampled each second), and
never below the source's own newest time: it says "nothing before that time is left to come from this source",
which holds when the shippers write their lines in time order, up to a second of skew between partitions
(a shipper's batching). Marking it at the newest time known *now* was wrong: a line of the source written
just before lines of later seconds on other partitions, but reaching the broker after them, came behind what
those markers had released (a source coming back from idle while others were busy made late records). The
knowledge includes other workers' markers, so a worker whose partitions are all quiet does not hold the busy
ones back. A source idle or not marked yet by this router gets a marker at its event's time *before*
the first record it routes, so that the buckets agent (streams.ordering) holds that record for order.

In a replayed backlog (event time running far ahead of the clock) markers come with nearly every batch:
about one buckets-in message in four at 5k lines/s; thinning them out by wall time was tried and left out
(a marker further behind the newest event time seen is allowed, but it was not worth the doubt).
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Iterable, Mapping

from streams.batching import Outbox
from streams.bucketstore import partition_for, table_key
from synsec.wire.records import bucket_in_to_record
from synsec.engine.model import Event, Line

__all__ = ["MARKER", "IDLE_LINE", "OVERFLOWS_LINE", "SETTLE_S", "Router", "marker_event", "marker_value"]

SETTLE_S = 1.0   # wall seconds: how far behind this worker's knowledge an idle source is marked (module doc)

MARKER = ""     # the scenario of an event-time marker on synsec.buckets-in (its key: the source partition)
IDLE_LINE = "idle"   # the line of a marker saying its source is idle
OVERFLOWS_LINE = "overflows"   # ... of an overflow marker (key: the buckets-in partition; streams.ordering)


def marker_event(ts: float, line: str = "") -> Event:
    evt = Event(Line(line))
    evt.ts = ts
    return evt


def marker_value(codecs, source: int, ts: float, line: str = "") -> bytes:
    """A marker as a synsec.buckets-in value: `source` has sent everything before `ts` (`line`: which kind)."""
    return codecs.encode("bucket_in", bucket_in_to_record(MARKER, str(source), marker_event(ts, line)))


class Router:
    """Routes events of one worker's source partitions; keeps each source's event time for the markers."""

    def __init__(self, shell, interval: float = 1.0, idle_s: float = 5.0, origins: bool = False):
        self.shell = shell
        self.origins = origins        # stamp routed records with their origin (only if the source is read in order)
        self.engine = shell.engine
        self.codecs = shell.codecs
        spec = shell.topology.topics["buckets-in"]
        self.topic, self.partitions = spec.name, spec.partitions
        self.interval = interval
        self.idle_s = idle_s
        self.max_ts: dict[int, float] = {}        # source partition -> newest event time routed from it
        self.marked: dict[int, float] = {}        # source partition -> event time of its last marker
        self.seen_at: dict[int, float] = {}       # source partition -> wall (monotonic) time of its last event
        self.read: dict[int, int] = {}            # source partition -> offset after the last message handled
        self.newest = -math.inf                   # newest event time over every source
        self.idle: set[int] = set()               # sources marked idle (`marked`: at which time)
        self.known: deque[tuple[float, float]] = deque()   # (wall time, newest event time this worker knew)

    def route(self, evt: Event, event_data: bytes, out: Outbox, source: int | None = None,
              offset: int | None = None) -> int:
        """Add `(scenario, key, event)` for each bucket `evt` enters to `out`; `event_data` is evt encoded.
        `source`, `offset`: where it was read (None: no marker bookkeeping, no origin). Returns the routes."""
        n = 0
        stamp = self.origins and offset is not None
        if source is not None and (source in self.idle or source not in self.marked):
            self._mark(out, source, evt.ts)       # back from idle (or new here): its time ahead of its records
        for scenario, key in self.engine.route(evt):
            k = table_key(scenario, key)
            out.add(self.topic, partition_for(k, self.partitions), k,
                    self.codecs.bucket_in(scenario, key, event_data, (source, offset, n) if stamp else None))
            n += 1
        if source is not None:
            self.seen_at[source] = time.monotonic()
            if evt.ts > self.max_ts.get(source, -math.inf):
                self.max_ts[source] = evt.ts
                if evt.ts > self.newest:
                    self.newest = evt.ts
        return n

    def markers(self, out: Outbox, sources: Iterable[int] | None = None) -> None:
        """Markers for every source (or those in `sources`) whose event time moved `interval` since its last."""
        for source in (self.max_ts if sources is None else sources):
            ts = self.max_ts.get(source)
            if ts is not None and ts - self.marked.get(source, -math.inf) >= self.interval:
                self._mark(out, source, ts)

    def handled(self, source: int, offset: int) -> None:
        """The message at `offset` of `source` has been handled (routed or not)."""
        self.read[source] = offset + 1

    def saw(self, ts: float, now: float | None = None) -> None:
        """Sample what this worker knows now: `ts`, the newest event time it read in a marker or record on
        synsec.buckets-in (any worker's), or what this router routed, whichever is newer."""
        now = time.monotonic() if now is None else now
        known = max(ts, self.newest)
        if not self.known or known > self.known[-1][1]:
            self.known.append((now, known))

    def _settled(self, now: float) -> float:
        """The newest event time this worker knew `SETTLE_S` wall seconds ago (-inf: nothing yet)."""
        known = self.known
        while len(known) > 1 and known[1][0] <= now - SETTLE_S:
            known.popleft()
        return known[0][1] if known and known[0][0] <= now - SETTLE_S else -math.inf

    def idle_markers(self, out: Outbox, ends: Mapping[int, int | None], now: float | None = None) -> None:
        """Sources (partition -> end offset, None when unknown) read to their end and without an event for
        `idle_s` are marked idle at the time this worker knew `SETTLE_S` ago, or their own newest if later
        (again when that has moved)."""
        now = time.monotonic() if now is None else now
        self.saw(-math.inf, now)
        settled = self._settled(now)
        for source, end in ends.items():
            if end is not None and self.read.get(source, 0) >= end and \
                    now - self.seen_at.get(source, 0.0) >= self.idle_s:
                ts = max(settled, self.max_ts.get(source, -math.inf))
                if source not in self.idle or self.marked[source] < ts:
                    self._mark(out, source, ts, idle=True)

    def _mark(self, out: Outbox, source: int, ts: float, idle: bool = False) -> None:
        value = marker_value(self.codecs, source, ts, IDLE_LINE if idle else "")
        for p in range(self.partitions):
            out.add(self.topic, p, None, value)
        self.marked[source] = ts
        if idle:
            self.idle.add(source)
        else:
            self.idle.discard(source)
        self.shell.count("route.markers", self.partitions)
