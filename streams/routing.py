"""Routing: each parsed event to the buckets it enters on synsec.buckets-in, plus the event-time watermark markers.

Used by the `route` agent (reading synsec.events) and, when the topology says `parse: {route: true}`, by the
`parse` agent itself (its events are then routed where they are parsed; synsec.events is still written). The
buckets agent uses one without markers for `reprocess` overflows.

Watermark markers: for every partition of the topic it reads (the *source*), a router tells every buckets-in
partition how far that source's event time has got: a `bucket_in` record with scenario `MARKER` and key the
source partition number. A source gets a new marker when its event time has moved `interval` seconds since its
last one and `wall_interval` wall seconds have passed, checked after each batch. In live traffic event time
follows the wall clock and the first condition decides; when a backlog is replayed (event time running much
faster than the clock) the second keeps markers to a few a second instead of one per batch, which had
become a third of the messages on synsec.buckets-in. `idle_markers` moves sources that have been quiet for
`idle_s` wall seconds up to the newest event time seen.
"""

from __future__ import annotations

import math
import time
from typing import Iterable

from streams.batching import Outbox
from streams.bucketstore import partition_for, table_key
from streams.records import bucket_in_to_record
from synsec.engine.model import Event, Line

__all__ = ["MARKER", "Router", "marker_event"]

MARKER = ""     # the scenario of a watermark marker on synsec.buckets-in (its key: the source partition)


def marker_event(ts: float) -> Event:
    evt = Event(Line(""))
    evt.ts = ts
    return evt


class Router:
    """Routes events of one worker's source partitions; keeps each source's event time for the markers."""

    def __init__(self, shell, interval: float = 1.0, idle_s: float = 5.0, wall_interval: float = 0.2):
        self.shell = shell
        self.manager = shell.engine.buckets
        self.codecs = shell.codecs
        spec = shell.topology.topics["buckets-in"]
        self.topic, self.partitions = spec.name, spec.partitions
        self.interval = interval
        self.wall_interval = wall_interval
        self.idle_s = idle_s
        self.max_ts: dict[int, float] = {}        # source partition -> newest event time routed from it
        self.marked: dict[int, float] = {}        # source partition -> event time of its last marker
        self.marked_at: dict[int, float] = {}     # source partition -> wall (monotonic) time of its last marker
        self.seen_at: dict[int, float] = {}       # source partition -> wall (monotonic) time of its last event
        self.newest = -math.inf                   # newest event time over every source

    def route(self, evt: Event, event_data: bytes, out: Outbox, source: int | None = None) -> int:
        """Add `(scenario, key, event)` for each bucket `evt` enters to `out`; `event_data` is evt encoded.
        `source`: the partition it was read from (None: no watermark bookkeeping). Returns the routes."""
        n = 0
        for scenario, key in self.manager.route(evt):
            k = table_key(scenario, key)
            out.add(self.topic, partition_for(k, self.partitions), k,
                    self.codecs.bucket_in(scenario, key, event_data))
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
        now = time.monotonic()
        for source in (self.max_ts if sources is None else sources):
            ts = self.max_ts.get(source)
            if ts is not None and ts - self.marked.get(source, -math.inf) >= self.interval and \
                    now - self.marked_at.get(source, -math.inf) >= self.wall_interval:
                self._mark(out, source, ts)

    def idle_markers(self, out: Outbox, assigned: Iterable[int]) -> None:
        """Sources of `assigned` without an event for `idle_s` follow the newest event time of this router."""
        if self.newest == -math.inf:
            return
        now = time.monotonic()
        for source in assigned:
            if now - self.seen_at.get(source, 0.0) >= self.idle_s and \
                    self.marked.get(source, -math.inf) < self.newest:
                self._mark(out, source, self.newest)

    def _mark(self, out: Outbox, source: int, ts: float) -> None:
        value = self.codecs.encode("bucket_in", bucket_in_to_record(MARKER, str(source), marker_event(ts)))
        for p in range(self.partitions):
            out.add(self.topic, p, None, value)
        self.marked[source] = ts
        self.marked_at[source] = time.monotonic()
        self.shell.count("route.markers", self.partitions)
