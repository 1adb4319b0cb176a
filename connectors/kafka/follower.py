"""The one follower of the decisions topic: read the compacted topic from its start and keep the active set.

Every consumer that needs the whole set uses it — the API's topic view (`connectors/api/topic_view.py`) and
every bouncer (`connectors/bouncers/`):

    follower = DecisionFollower(broker.kafka_python_kwargs(), topology.topics["decisions"].name,
                                on_add=..., on_delete=...)
    thread = follower.start(stop)             # reads in a daemon thread until `stop` is set
    follower.ready.wait(30)                   # every decision there was is known
    follower.is_banned("192.0.2.7")           # any thread

Reading: kafka-python with no consumer group — every partition assigned and read from offset 0 (each reader
needs the whole set). `ready` is set once each partition is read up to the end it had when the follower
started: the larger of ListOffsets' answer and the first fetch's high watermark (tansu 0.6.0 answers
ListOffsets with the last *batch's* base offset + 1, so after batched writes it alone would make a follower
ready early). A topic that does not exist yet is waited for and a broker error retried, both shown in
`error` meanwhile. A key that is not `scope:value` or an undecodable value is counted in `stats["poison"]`,
logged with its partition and offset, and skipped (the topic is a state, not a queue: nothing to retry).

Folding (`connectors.kafka.decision_set.DecisionSet`): latest value per key wins; a tombstone, a simulated
value, a value already over and the passing of `until` end the key's decision (`synsec.engine.decisions`).
A bouncer folds on the follower's thread as it reads (`fold_on_read=True`) and looks up from any thread; the
API folds on its own thread when it calls `fold(now)` (`fold_on_read=False`: the reader only decodes and
queues, so the API's index is touched by its thread alone). Callbacks, in topic order, outside the lock:

    on_add(decision)                     a decision became active (or replaced the one under its key)
    on_delete(scope, value, decision)    a tombstone, a simulated value or expiry ended the active `decision`
    on_batch()                           after each polled batch (a firewall flushes its commands)

A failing callback is logged and counted in `stats["callback_errors"]`; the follower goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from connectors.api.model import target_of
from connectors.kafka.decision_set import STATS, Change, DecisionSet, Read, lapi_id
from synsec.engine.history import DecisionHistory, Past
from synsec.engine.model import Decision
from synsec.wire.records import parse_decision_key, record_to_decision

__all__ = ["DecisionFollower"]

log = logging.getLogger(__name__)

OnAdd = Callable[[Decision], None]
OnDelete = Callable[[str, str, Decision], None]

CONSUMER_DEFAULTS = {"group_id": None, "enable_auto_commit": False, "auto_offset_reset": "earliest",
                     "fetch_max_wait_ms": 100, "max_poll_records": 2000}


class DecisionFollower:
    """`consumer_kwargs`: kafka-python settings (`BrokerSettings.kafka_python_kwargs()`); `topic`: the decisions
    topic (None: the default topology's). `clock`: the wall clock expiries are checked against. `base_seq` and
    `max_changes`: the first change number and the change log kept (the API's stream)."""

    def __init__(self, consumer_kwargs: dict[str, Any], topic: str | None = None, *,
                 on_add: OnAdd | None = None, on_delete: OnDelete | None = None,
                 on_batch: Callable[[], None] | None = None, codecs=None,
                 clock: Callable[[], float] = time.time, poll_timeout_ms: int = 200,
                 fold_on_read: bool = True, base_seq: int = 0, max_changes: int = 4096,
                 history: DecisionHistory | None = None):
        self.consumer_kwargs = dict(consumer_kwargs)
        self.topic = topic or _default_topic()
        self.on_add, self.on_delete, self.on_batch = on_add, on_delete, on_batch
        self.clock = clock
        self.poll_timeout_ms = poll_timeout_ms
        self.fold_on_read = fold_on_read
        self.ready = threading.Event()
        self.stats = dict.fromkeys(STATS, 0)
        self.error = ""                          # last broker error, "" while healthy
        self.partitions = 0
        self._codecs = codecs
        self._set = DecisionSet(self.stats, base_seq=base_seq, max_changes=max_changes, history=history)
        self._lock = threading.RLock()           # the set: folds and lookups
        self._cond = threading.Condition()       # what was read and not folded yet, and read positions
        self._pending: list[Read] = []
        self._positions: dict[int, int] = {}     # partition -> next offset read
        self._fed = 0                            # records applied without an offset (tests, direct feeds)
        self._consumer = None
        self._end_offsets: dict | None = None
        self._verified: set = set()              # partitions whose end was checked against a fetch

    @property
    def index(self):
        """The active set's `DecisionIndex` (the API serves it; fold on the thread that reads it)."""
        return self._set.index

    # -- lookups (any thread) ------------------------------------------------------------------------------

    def is_banned(self, ip: str) -> Decision | None:
        """The active Ip or Range decision covering `ip` (IPv4 or IPv6), or None (also for a malformed ip).
        When several cover it, the one ending last."""
        target = target_of("Ip", ip.strip())
        if target is None:
            return None
        now = self.clock()
        with self._lock:
            recs = self._set.index.containing(target, now)
            return self._set.decision(max(recs, key=lambda r: r.until)) if recs else None

    def active(self) -> list[Decision]:
        """Every active decision (any scope), not yet over."""
        now = self.clock()
        with self._lock:
            return self._set.active(now)

    def decisions_for(self, value: str) -> list[Past]:
        """Every decision read (active, expired, deleted) whose target contains `value`, when the follower keeps
        a `history` (`synsec.engine.history.DecisionSource`); else none."""
        with self._lock:
            return [] if self._set.history is None else self._set.history.decisions_for(value)

    def wait_for(self, positions: dict[int, int], timeout: float = 5.0) -> bool:
        """Block until each (partition: offset) has been read — read-your-writes for a writer."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not all(self._positions.get(p, 0) > off for p, off in positions.items()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    # -- folding ---------------------------------------------------------------------------------------------

    def apply(self, key: bytes | None, value: bytes | None, where: str = "", *, partition: int = 0,
              offset: int | None = None) -> None:
        """Read one topic record (folded at once when `fold_on_read`, else at the next `fold`)."""
        if offset is None:
            self._fed += 1
            offset = self._fed - 1
        self._take([(key, value, where, partition, offset)])
        if self.fold_on_read:
            self._run(self._fold_pending(self.clock()))

    def fold(self, now: float | None = None) -> None:
        """Fold what was read, then end the decisions over at `now` (default: the clock)."""
        now = self.clock() if now is None else now
        changes = self._fold_pending(now)
        with self._lock:
            changes += self._set.expire(now)
        self._run(changes)

    def expire(self, now: float | None = None) -> int:
        """End the decisions whose `until` has passed; each is an on_delete. Returns how many."""
        with self._lock:
            gone = self._set.expire(self.clock() if now is None else now)
        self._run(gone)
        return len(gone)

    def _take(self, records) -> None:
        """Decode (key, value, where, partition, offset) records and queue them for the fold."""
        reads = [self._decode(*r) for r in records]
        with self._cond:
            self._pending.extend(r for r in reads if r is not None)
            for _, _, _, partition, offset in records:
                self._positions[partition] = max(self._positions.get(partition, 0), offset + 1)
            self._cond.notify_all()

    def _fold_pending(self, now: float) -> list[Change]:
        with self._cond:
            reads, self._pending = self._pending, []
        changes: list[Change] = []
        with self._lock:
            for read in reads:
                changes += self._set.fold(read, now)
        return changes

    def _decode(self, key: bytes | None, value: bytes | None, where: str, partition: int,
                offset: int) -> Read | None:
        self.stats["records"] += 1
        parsed = parse_decision_key(key)
        if parsed is None:
            self.stats["poison"] += 1
            log.warning("decisions %s: key %r is not scope:value, skipped", where, key)
            return None
        rid = lapi_id(partition, offset, self.partitions)
        if value is None:
            return Read(*parsed, None, rid, where)
        try:
            return Read(*parsed, record_to_decision(self._codec().decode("decision", value)), rid, where)
        except Exception as err:  # noqa: BLE001 - any undecodable value is poison, never a crash
            self.stats["poison"] += 1
            log.warning("decisions %s key %s:%s: undecodable value skipped (%s: %s)", where, *parsed,
                        type(err).__name__, err)
            return None

    def _codec(self):
        if self._codecs is None:
            from synsec.wire.codecs import Codecs
            from synsec.wire.registry import LocalRegistry

            self._codecs = Codecs(LocalRegistry())
        return self._codecs

    def _run(self, changes: list[Change]) -> None:
        for kind, scope, value, d in changes:
            if kind == "add":
                self._call(self.on_add, d)
            else:
                self._call(self.on_delete, scope, value, d)

    def _call(self, callback, *args) -> None:
        """A bouncer callback; its failure is logged and counted, the follower goes on."""
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:  # noqa: BLE001 - a bouncer error must not stop the follower
            self.stats["callback_errors"] += 1
            log.exception("decisions callback %s failed", getattr(callback, "__name__", callback))

    # -- the Kafka loop --------------------------------------------------------------------------------

    def connect(self):
        """The kafka-python consumer (made once; raises when no broker answers)."""
        if self._consumer is None:
            from kafka import KafkaConsumer

            self._consumer = KafkaConsumer(**{**CONSUMER_DEFAULTS, **self.consumer_kwargs})
        return self._consumer

    def _assign(self, consumer, stop: threading.Event) -> bool:
        from kafka import TopicPartition

        while not stop.is_set():
            parts = consumer.partitions_for_topic(self.topic)
            if parts:
                tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
                self.partitions = len(tps)
                consumer.assign(tps)
                consumer.seek_to_beginning(*tps)
                self._end_offsets = consumer.end_offsets(tps)
                self._verified = set()
                self.error = ""
                log.info("following %s: %d partition(s) from the start", self.topic, len(tps))
                return True
            if not self.error:
                log.info("topic %s not found yet, waiting", self.topic)
            self.error = f"topic {self.topic} not found (create it: synsec topics create)"
            stop.wait(1.0)
        return False

    def _check_ready(self, consumer) -> None:
        """Ready once every partition is read up to the end it had when the follower started: the larger of
        ListOffsets' answer and the first fetch's high watermark (tansu counts batches in ListOffsets)."""
        if self.ready.is_set() or self._end_offsets is None:
            return
        for tp, end in self._end_offsets.items():
            if end > 0 and tp not in self._verified:
                high = consumer.highwater(tp)
                if high is None:
                    return                         # not fetched yet: its real end is unknown
                self._end_offsets[tp] = max(end, high)
                self._verified.add(tp)
        if all(consumer.position(tp) >= end for tp, end in self._end_offsets.items()):
            self.ready.set()
            log.info("caught up with %s: %d record(s) read", self.topic, self.stats["records"])

    def poll_once(self, consumer) -> int:
        """One poll: read what arrived (and fold it, expire, flush when `fold_on_read`). Returns the records."""
        batches = consumer.poll(timeout_ms=self.poll_timeout_ms)
        records = [(r.key, r.value, f"{tp.topic}[{tp.partition}]@{r.offset}", tp.partition, r.offset)
                   for tp, rs in batches.items() for r in rs]
        self._take(records)
        if self.fold_on_read:
            self.fold()
        self._check_ready(consumer)
        self._call(self.on_batch)
        return len(records)

    def run(self, stop: threading.Event) -> None:
        """Read until `stop` is set (in a thread: `start`). A broker error is kept in `error` and retried."""
        consumer = self.connect()
        try:
            if not self._assign(consumer, stop):
                return
            while not stop.is_set():
                try:
                    self.poll_once(consumer)
                    self.error = ""
                except Exception as err:  # noqa: BLE001 - a broker outage: report, keep trying
                    self.error = f"{type(err).__name__}: {err}"
                    log.warning("decisions topic %s: %s", self.topic, self.error)
                    stop.wait(1.0)
        finally:
            consumer.close()

    def start(self, stop: threading.Event) -> threading.Thread:
        """`run(stop)` in a daemon thread, started."""
        thread = threading.Thread(target=self.run, args=(stop,), name="decision-follower", daemon=True)
        thread.start()
        return thread


def _default_topic() -> str:
    from topologies import load_topology

    return load_topology("default").topics["decisions"].name
