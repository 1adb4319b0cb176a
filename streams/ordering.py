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
  it, every second while that moves, at the event time its worker knew a second before (markers of every
  worker included: streams.routing), so a quiet source does not hold the others back; a line it sends
  afterwards, even of that very second, is on time as long as its shipper wrote it in time order with
  the others' (within a second of skew). It is left out while its worker knows nothing at all (a worker
  whose partitions are empty, just started). A source that has lines
  waiting is never marked idle, so when traffic resumes after a pause the sources that have not sent yet
  hold the marked time at the pause. When every source is idle, everything held is released and the timers
  fire up to the newest event time known (as replay's would at the newest line). When traffic starts or
  resumes while no other source is busy (each is idle or has not reported yet), the marked time waits up to
  `grace` wall seconds (`--idle-advance`) for the sources still marked idle to send: with several workers,
  another worker may not have fetched its partitions' new lines yet (a backlog started on idle workers
  released past them, measured). That includes a start: a worker that knows no time yet marks its empty
  sources idle, and when another worker's sources start first they must not pass the first one's lines
  still to come (on a loaded machine they were late: issue 11; only a source back from idle used to wait).
* **Tie-break.** Records with the same time are poured in the order of every runner
  (synsec.engine.ties): by their event's raw line, then by their *content* (the routed record's bytes
  without its origin: scenario, bucket key, then the Avro event). It depends on nothing but the lines, so
  the order is the same whatever the message keys, partition counts, worker counts or restarts, and it is
  replay's, which sorts each second's lines the same way (equal raw lines keep file order there: they
  differ only by source or labels).
* **Lateness.** A record older than what has been released (`threshold`) is *late*: it is poured at once,
  out of order, and counted (`buckets.late`), never dropped. A source that is in order never makes late
  records; they come from a source marked idle that sends older lines afterwards (a shipper that was
  behind by more than a second), from the bound below, and from the reprocessed overflows not covered
  below.
* **Reprocessed overflows** (scenarios with `reprocess: true`) come back to synsec.buckets-in after their
  overflow was poured, so they cannot be ordered by the sources' markers (the marked time has passed them
  by then). They form a second *lane*: each buckets-in partition, after a batch, tells every partition
  how far it has poured (an *overflow marker*: its release threshold, sent after the overflow events that
  pouring made), and a partition pours the overflow events it holds once the minimum of those markers
  (`overflow_threshold`) is past them, by time then tie key, merged with the records it releases; its
  timers wait for that lane too (`watermark`). No marker depends on that lane, so nothing waits on itself.
  Replay pours an overflow event after the log events of its time, in the same order
  (synsec.engine.ties), so a bucket fed only overflow events agrees. Not covered (poured late, counted):
  an overflow event made by pouring an overflow event (a chain of `reprocess` scenarios) or by a timer
  (the lane's markers are sent before the timers it holds back fire); and a bucket fed both log and
  overflow events may get log events of later seconds before an overflow event, where replay pours it
  right after its second.
* **Bound.** At most `hold_max` log records are held per partition (overflow events are few and not
  bounded). Past it, the oldest are released before the marked time passes them (counted `buckets.forced`),
  and the threshold moves to them. True back-pressure (stop reading) cannot work here: the markers that
  release the buffer come through the same partition, behind the records.

Nothing here does I/O: `streams.bucketstore.PartitionStore` keeps the held records and this state in the
changelogged table, and `streams.agents` drives it.
"""

from __future__ import annotations

import heapq
import math
from typing import Any, Iterable, NamedTuple

__all__ = ["Held", "Reorder", "IDLE", "LOGS", "OVERFLOWS"]

IDLE = math.inf             # the mark of an idle source whose router has seen nothing: left out of the minimum
LOGS, OVERFLOWS = 0, 1      # a held record's lane: routed from a source, or a reprocessed overflow


class Held(NamedTuple):
    """A held record; tuples compare by time, lane, tie key, content, then offset (unique on its partition)."""

    ts: float
    lane: int                 # LOGS or OVERFLOWS (after the logs of its time, as replay pours them)
    tie: str                  # synsec.engine.ties.tie_key of its event: the tie-break of every runner
    content: bytes            # the routed record without its origin: the tie-break of equal tie keys
    offset: int               # its synsec.buckets-in offset (the key it is held under)
    item: Any                 # what the caller pours: (scenario, key, event)


class Reorder:
    """The held records, the source markers and the watermark of one buckets-in partition (see the module doc)."""

    def __init__(self, upstream: int, hold_max: int, marks: dict[int, float] | None = None,
                 threshold: float = -math.inf, newest: float = -math.inf, held: Iterable[Held] = (),
                 idle: Iterable[int] = (), grace: float = 0.0, overflow_sources: int = 0,
                 overflow_marks: dict[int, float] | None = None, overflow_threshold: float = -math.inf):
        """`newest`: the newest event time known here (records taken, idle markers). `overflow_sources`: the
        buckets-in partitions that may send reprocessed overflows (0: the content has no such scenario)."""
        self.upstream = upstream
        self.hold_max = hold_max
        self.marks: dict[int, float] = dict(marks or {})   # source partition -> its marker: released below this, for it
        self.idle: set[int] = set(idle)                    # sources marked idle
        self.threshold = threshold       # every record older than this has been released
        self.newest = newest             # newest event time of a record taken or an idle marker
        held = list(held)
        self.heap: list[Held] = [h for h in held if h.lane == LOGS]
        heapq.heapify(self.heap)
        self.overflow_sources = overflow_sources
        self.overflow_marks: dict[int, float] = dict(overflow_marks or {})   # partition -> how far it has poured
        self.overflow_threshold = overflow_threshold   # every overflow event older than this has been released
        self.overflows: list[Held] = [h for h in held if h.lane == OVERFLOWS]
        heapq.heapify(self.overflows)
        self.forced = 0                  # released before the marked time by the last `release`
        # a marker came since the marked time was last computed; not on a rebuild: the state was saved right after
        # a release, so recomputing it at once (`newest` may have moved since, with every source idle) would
        # release earlier than the run before the restart did, and make the records still to come late
        self._moved = False
        self.grace = grace
        self.resumed_at: float | None = None   # wall time a source came back (or first came) when no other was busy

    def __len__(self) -> int:
        return len(self.heap) + len(self.overflows)

    def mark(self, source: int, ts: float, idle: bool = False, now: float = 0.0) -> None:
        """A marker: `source` has sent everything before `ts`; `idle`: it is idle (-inf: its worker knows no
        time yet, left out). `now`: wall time (monotonic)."""
        if idle:
            if ts > self.newest:
                self.newest = ts
            self.idle.add(source)
            self.marks[source] = ts if ts > -math.inf else IDLE
        else:
            current = self.marks.get(source)
            others_quiet = self.idle.issuperset(s for s in self.marks if s != source)   # idle, or not heard from
            if others_quiet and (current is None or source in self.idle):
                self.resumed_at = now                     # traffic starts, or resumes after a pause
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

    def mark_overflows(self, partition: int, ts: float) -> None:
        """An overflow marker: buckets-in `partition` has poured every record before `ts` and sent the
        overflow events that made."""
        if ts > self.overflow_marks.get(partition, -math.inf):
            self.overflow_marks[partition] = ts

    def take(self, held: Held) -> bool:
        """Hold a record; False when it is late (older than what was released: pour it now)."""
        if held.ts > self.newest:
            self.newest = held.ts
        if held.lane == OVERFLOWS:
            if held.ts < self.overflow_threshold:
                return False
            heapq.heappush(self.overflows, held)
            return True
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
        overflows = self._release_overflows()
        return list(heapq.merge(out, overflows)) if overflows else out

    def _release_overflows(self) -> list[Held]:
        """The held overflow events every partition has poured past (all of them when none can come)."""
        if self.overflow_sources and len(self.overflow_marks) >= self.overflow_sources:
            mark = min(self.overflow_marks.values())
            if mark > self.overflow_threshold:
                self.overflow_threshold = mark
        limit = self.overflow_threshold if self.overflow_sources else math.inf
        heap, out = self.overflows, []
        while heap and heap[0].ts < limit:
            out.append(heapq.heappop(heap))
        return out

    def watermark(self) -> float:
        """The partition's event-time watermark, which its timers fire up to (`Engine.advance`): what has been
        released, at most the newest event time known (and, when overflows may come back, what their lane has
        released: a bucket they go to keeps its timers until then)."""
        mark = min(self.threshold, self.newest)
        return min(mark, self.overflow_threshold) if self.overflow_sources else mark

    def state(self) -> dict:
        """What the changelogged ledger keeps of it (the held records are kept one by one). The markers are
        kept under "watermarks", the ledger's persisted key (read back by `PartitionStore`)."""
        return {"watermarks": dict(self.marks), "idle": sorted(self.idle), "threshold": self.threshold,
                "newest": self.newest, "overflow_marks": dict(self.overflow_marks),
                "overflow_threshold": self.overflow_threshold}
