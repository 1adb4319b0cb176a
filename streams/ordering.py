"""Event-time order at the buckets: each synsec.buckets-in partition pours its records sorted by event time.

The lines of one source (an IP) may be spread over every raw partition: a shipper sending without a key
(Filebeat's `round_robin`, Vector and rsyslog by default) does that, and so does one keyed by host. Each raw
partition is routed on its own, so the records of one bucket reach its buckets-in partition interleaved
by source partition, out of event-time order; a leaky bucket poured out of order overflows where replay's
does not (the finding of issue 11: slow probers and a well-paced crawler banned).

`Reorder` holds the routed records of one buckets-in partition and gives them back in `(ts, content)`
order once the partition's *marked time* has passed them; what it has released is the partition's event-time
watermark (`watermark()`), up to which the engine's timers fire:

* **Markers.** Every router sends, per source partition it reads, markers with that source's newest
  event time (streams.routing). The marked time is the minimum over the sources' markers; a record is released
  once the marked time is *strictly* past its time (the source that set the minimum may still send lines of that
  same second). A source read to its end and quiet for `--idle-advance` seconds is *idle*: its router marks
  it, every second while it stays so, at the newest event time the router has seen, *inclusive* (nothing of
  that second is left to come from it), so a quiet source does not hold the others back; and it is left out
  if its router has seen nothing at all (a worker whose partitions are empty). A source that has lines
  waiting is never marked idle, so when traffic resumes after a pause the sources that have not sent yet
  hold the marked time at the pause. When every source is idle, everything held is released and the timers
  fire up to the newest event time known (as replay's would at the newest line). When traffic resumes
  after every source was idle, the marked time waits up to `grace` wall seconds (`--idle-advance`) for the
  sources still marked idle to send: with several workers, another worker may not have fetched its
  partitions' new lines yet (a backlog started on idle workers released past them, measured).
* **Tie-break.** Records with the same time are poured in the order of every runner
  (synsec.engine.ties): by their event's raw line, then by their *content* (the routed record's bytes
  without its origin: scenario, bucket key, then the Avro event). It depends on nothing but the lines, so
  the order is the same whatever the message keys, partition counts, worker counts or restarts, and it is
  replay's, which sorts each second's lines the same way (equal raw lines keep file order there: they
  differ only by source or labels).
* **Lateness.** A record older than what has been released (`threshold`) is *late*: it is poured at once,
  out of order, and counted (`buckets.late`), never dropped. A source that is in order never makes late
  records; they come from a source marked idle that sends older lines afterwards (a shipper that was
  behind), and from the bound below.
* **Bound.** At most `hold_max` records are held per partition. Past it, the oldest are released before the
  marked time passes them (counted `buckets.forced`), and the threshold moves to them. True back-pressure (stop reading)
  cannot work here: the markers that release the buffer come through the same partition, behind the records.

Nothing here does I/O: `streams.bucketstore.PartitionStore` keeps the held records and this state in the
changelogged table, and `streams.agents` drives it.
"""

from __future__ import annotations

import heapq
import math
from typing import Any, Iterable, NamedTuple

__all__ = ["Held", "Reorder", "IDLE"]

IDLE = math.inf             # the mark of an idle source whose router has seen nothing: left out of the minimum


class Held(NamedTuple):
    """A held record; tuples compare by time, tie key, content, then offset (unique on its partition)."""

    ts: float
    tie: str                  # synsec.engine.ties.tie_key of its event: the tie-break of every runner
    content: bytes            # the routed record without its origin: the tie-break of equal tie keys
    offset: int               # its synsec.buckets-in offset (the key it is held under)
    item: Any                 # what the caller pours: (scenario, key, event)


class Reorder:
    """The held records, the source markers and the watermark of one buckets-in partition (see the module doc)."""

    def __init__(self, upstream: int, hold_max: int, marks: dict[int, float] | None = None,
                 threshold: float = -math.inf, newest: float = -math.inf, held: Iterable[Held] = (),
                 idle: Iterable[int] = (), grace: float = 0.0):
        """`newest`: the newest event time known here (records taken, idle markers)."""
        self.upstream = upstream
        self.hold_max = hold_max
        self.marks: dict[int, float] = dict(marks or {})   # source partition -> its marker: released below this, for it
        self.idle: set[int] = set(idle)                    # sources marked idle
        self.threshold = threshold       # every record older than this has been released
        self.newest = newest             # newest event time of a record taken or an idle marker
        self.heap: list[Held] = list(held)
        heapq.heapify(self.heap)
        self.forced = 0                  # released before the marked time by the last `release`
        self._moved = True               # a marker came since the marked time was last computed
        self.grace = grace
        self.resumed_at: float | None = None   # wall time a source came back when every source was idle

    def __len__(self) -> int:
        return len(self.heap)

    def mark(self, source: int, ts: float, idle: bool = False, now: float = 0.0) -> None:
        """A marker: `source` has sent everything before `ts`; `idle`: it is idle and has sent everything up to
        `ts` (the newest event time its router has seen). `now`: wall time (monotonic)."""
        if idle:
            if ts > self.newest:
                self.newest = ts
            self.idle.add(source)
            self.marks[source] = math.nextafter(ts, math.inf) if ts > -math.inf else IDLE
        else:
            current = self.marks.get(source)
            if source in self.idle and len(self.idle) >= max(len(self.marks), self.upstream):
                self.resumed_at = now                     # traffic resumes after a pause
            if current is None or ts > current or source in self.idle:
                self.marks[source] = ts
            self.idle.discard(source)
        self._moved = True

    def marked(self, now: float = 0.0) -> float:
        """The marked time: minimum over the sources' markers; -inf until every source has reported, or while
        traffic resumes (`grace`); just past the newest event time known when every source is idle."""
        if len(self.marks) < self.upstream:
            return -math.inf
        if len(self.idle) >= len(self.marks):
            return math.nextafter(self.newest, math.inf) if self.newest > -math.inf else -math.inf
        if self.resumed_at is not None:
            if self.idle and now - self.resumed_at < self.grace:
                return -math.inf
            self.resumed_at = None
        return min(self.marks.values())

    def take(self, held: Held) -> bool:
        """Hold a record; False when it is late (older than what was released: pour it now)."""
        if held.ts > self.newest:
            self.newest = held.ts
        if held.ts < self.threshold:
            return False
        heapq.heappush(self.heap, held)
        return True

    def release(self, now: float = 0.0) -> list[Held]:
        """The held records the marked time has passed, then the oldest beyond `hold_max`, in order."""
        if self._moved or self.resumed_at is not None:
            self._moved = False
            mark = self.marked(now)
            if mark > self.threshold:
                self.threshold = mark
        heap, out = self.heap, []
        while heap and heap[0].ts < self.threshold:
            out.append(heapq.heappop(heap))
        self.forced = 0
        while len(heap) > self.hold_max:
            oldest = heapq.heappop(heap)
            out.append(oldest)
            self.forced += 1
            self.threshold = math.nextafter(oldest.ts, math.inf)
            while heap and heap[0].ts < self.threshold:       # the rest of its second goes with it
                out.append(heapq.heappop(heap))
                self.forced += 1
        return out

    def watermark(self) -> float:
        """The partition's event-time watermark, which its timers fire up to (`Engine.advance`): what has been
        released, at most the newest event time known."""
        return min(self.threshold, self.newest)

    def state(self) -> dict:
        """What the changelogged ledger keeps of it (the held records are kept one by one). The markers are
        kept under "watermarks", the ledger's persisted key (read back by `PartitionStore`)."""
        return {"watermarks": dict(self.marks), "idle": sorted(self.idle), "threshold": self.threshold,
                "newest": self.newest}
