"""Follow the decisions topic from its start and keep the active set: the client library every bouncer uses.

The topic is compacted and keyed `scope:value`; the latest value per key wins and a null value (tombstone)
deletes. A follower reads every partition from offset 0 with no consumer group (every bouncer needs the whole
set), folds it into a `DecisionIndex` (exact IPs plus one lookup per range prefix length, IPv4 and IPv6), and
tells its bouncer through two callbacks, called in topic order from the follower's thread:

    on_add(decision)                     a decision became active (or replaced the one under its key)
    on_delete(scope, value, decision)    a tombstone, or an expiry (`until` passed on the wall clock);
                                         `decision` is the one that was active, or None when none was

Simulated decisions are never active. An undecodable value is counted in `stats["poison"]`, logged with its
partition and offset, and skipped; a decision whose `until` is not a number is skipped, one more than 10
years away (infinite: written before durations were bounded) clamped, both counted in
`stats["out_of_range"]`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from connectors.api.index import DecisionIndex
from connectors.api.model import DecisionRecord, target_of
from synsec.engine.durations import bounded_until
from synsec.engine.model import Decision

__all__ = ["DecisionFollower", "FollowerState", "DECISIONS_TOPIC", "parse_key"]

log = logging.getLogger(__name__)

DECISIONS_TOPIC = "synsec.decisions"

OnAdd = Callable[[Decision], None]
OnDelete = Callable[[str, str, "Decision | None"], None]


def parse_key(key: bytes | None) -> tuple[str, str] | None:
    """`b"Ip:192.0.2.7"` → ("Ip", "192.0.2.7"); IPv6 values keep their colons. None when not `scope:value`."""
    if not key:
        return None
    try:
        text = key.decode("utf-8")
    except UnicodeDecodeError:
        return None
    scope, sep, value = text.partition(":")
    if not sep or not scope or not value:
        return None
    return scope, value


@dataclass
class FollowerState:
    """The folded topic: what is active under each key, and its integer id in the index. Not thread-safe by
    itself: `DecisionFollower` holds its lock around every use."""

    index: DecisionIndex = field(default_factory=lambda: DecisionIndex(max_changes=4096))
    active: dict[str, tuple[int, Decision]] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    seq: int = 0

    def _id(self, key: str) -> int:
        if key not in self.ids:
            self.ids[key] = len(self.ids) + 1
        return self.ids[key]

    def put(self, key: str, d: Decision) -> None:
        self.seq += 1
        did = self._id(key)
        rec = DecisionRecord(id=did, origin=d.origin, type=d.type, scope=d.scope, value=d.value,
                             scenario=d.scenario, until=d.until, simulated=d.simulated, uuid=d.id,
                             target=target_of(d.scope, d.value))
        self.index.add(rec, self.seq)
        self.active[key] = (did, d)

    def drop(self, key: str) -> Decision | None:
        entry = self.active.pop(key, None)
        if entry is None:
            return None
        self.seq += 1
        self.index.remove(entry[0], self.seq)
        return entry[1]

    def expired(self, now: float) -> list[tuple[str, Decision]]:
        out = []
        for rec in self.index.pop_expired(now):
            key = f"{rec.scope}:{rec.value}"
            entry = self.active.get(key)
            if entry is not None and entry[0] == rec.id and entry[1].until <= now:
                out.append((key, entry[1]))
        return out


class DecisionFollower:
    """A kafka-python consumer of the decisions topic (manual assignment of all partitions, from the start).

    `consumer_kwargs` are kafka-python settings (`BrokerSettings.kafka_python_kwargs()`). `clock` is the wall
    clock that expiries are checked against. `run(stop)` polls until `stop` is set; `ready` is set once every
    partition was read up to its end offset at assignment time (the bouncer then knows every active decision).
    """

    def __init__(self, consumer_kwargs: dict[str, Any], topic: str = DECISIONS_TOPIC, *,
                 on_add: OnAdd | None = None, on_delete: OnDelete | None = None,
                 on_batch: Callable[[], None] | None = None, codecs=None,
                 clock: Callable[[], float] = time.time, poll_timeout_ms: int = 200):
        self.consumer_kwargs = dict(consumer_kwargs)
        self.topic = topic
        self.on_add = on_add
        self.on_delete = on_delete
        self.on_batch = on_batch     # after each polled batch's callbacks (a firewall flushes its commands)
        self.clock = clock
        self.poll_timeout_ms = poll_timeout_ms
        self.ready = threading.Event()
        self.stats = {"records": 0, "added": 0, "deleted": 0, "expired": 0, "simulated": 0, "poison": 0,
                      "out_of_range": 0, "callback_errors": 0}
        self._codecs = codecs
        self._state = FollowerState()
        self._lock = threading.RLock()
        self._consumer = None
        self._end_offsets: dict | None = None
        self._verified: set = set()              # partitions whose end was checked against a fetch

    # -- lookups (any thread) ------------------------------------------------------------------------------

    def is_banned(self, ip: str) -> Decision | None:
        """The active Ip or Range decision covering `ip` (IPv4 or IPv6), or None (also for a malformed ip).
        When several cover it, the one ending last."""
        target = target_of("Ip", ip.strip())
        if target is None:
            return None
        now = self.clock()
        with self._lock:
            recs = self._state.index.containing(target, now)
            if not recs:
                return None
            best = max(recs, key=lambda r: r.until)
            entry = self._state.active.get(f"{best.scope}:{best.value}")
        return entry[1] if entry else None

    def active(self) -> list[Decision]:
        """Every active decision (any scope), not yet past its `until`."""
        now = self.clock()
        with self._lock:
            return [d for _, d in self._state.active.values() if d.until > now]

    # -- folding (the follower's thread, or a test feeding records directly) ----------------------------

    def _decode(self, value: bytes) -> Decision:
        from synsec.wire.records import record_to_decision

        if self._codecs is None:
            from synsec.wire.codecs import Codecs
            from synsec.wire.registry import LocalRegistry

            self._codecs = Codecs(LocalRegistry())
        return record_to_decision(self._codecs.decode("decision", value))

    def apply(self, key: bytes | None, value: bytes | None, where: str = "") -> None:
        """Fold one topic record into the active set and run the callbacks it causes."""
        self.stats["records"] += 1
        parsed = parse_key(key)
        if parsed is None:
            self.stats["poison"] += 1
            log.warning("decisions %s: key %r is not scope:value, skipped", where, key)
            return
        scope, value_ = parsed
        keytext = f"{scope}:{value_}"
        if value is None:
            self._delete(keytext, scope, value_)
            return
        try:
            d = self._decode(value)
        except Exception as err:  # noqa: BLE001 - any undecodable value is poison, never a crash
            self.stats["poison"] += 1
            log.warning("decisions %s key %s: undecodable value skipped (%s: %s)", where, keytext,
                        type(err).__name__, err)
            return
        until = bounded_until(d.until, self.clock())
        if until != d.until:   # written before durations were bounded: NaN skipped, ±inf clamped
            self.stats["out_of_range"] += 1
            log.warning("decisions %s key %s: until %r out of range, %s", where, keytext, d.until,
                        "skipped" if until is None else "clamped")
            if until is None:
                return
            d.until = until
        if d.simulated:
            self.stats["simulated"] += 1
            self._delete(keytext, scope, value_)       # a simulated decision replaces an active one
            return
        if d.until <= self.clock():
            self._delete(keytext, scope, value_)       # already over: latest value wins, and it is inactive
            return
        with self._lock:
            self._state.put(keytext, d)
        self.stats["added"] += 1
        self._call(self.on_add, d)

    def _delete(self, keytext: str, scope: str, value: str) -> None:
        with self._lock:
            old = self._state.drop(keytext)
        if old is None:
            return
        self.stats["deleted"] += 1
        self._call(self.on_delete, scope, value, old)

    def _call(self, callback, *args) -> None:
        """A bouncer callback; its failure is logged and counted, the follower goes on."""
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:  # noqa: BLE001 - a bouncer error must not stop the follower
            self.stats["callback_errors"] += 1
            log.exception("bouncer callback %s failed", getattr(callback, "__name__", callback))

    def expire(self) -> int:
        """Drop the decisions whose `until` has passed; each is an on_delete. Returns how many."""
        now = self.clock()
        with self._lock:
            gone = self._state.expired(now)
            for key, _ in gone:
                self._state.drop(key)
        for _, d in gone:
            self.stats["expired"] += 1
            self._call(self.on_delete, d.scope, d.value, d)
        return len(gone)

    # -- the Kafka loop --------------------------------------------------------------------------------

    def _assign(self, consumer, stop: threading.Event) -> bool:
        from kafka import TopicPartition

        while not stop.is_set():
            parts = consumer.partitions_for_topic(self.topic)
            if parts:
                tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
                consumer.assign(tps)
                consumer.seek_to_beginning(*tps)
                self._end_offsets = consumer.end_offsets(tps)
                self._verified = set()
                log.info("following %s: %d partition(s) from the start", self.topic, len(tps))
                return True
            log.info("topic %s not found yet, waiting", self.topic)
            stop.wait(1.0)
        return False

    def _check_ready(self, consumer) -> None:
        """Ready once every partition is read up to the end it had when the follower started. That end is
        the larger of ListOffsets' answer and the first fetch's high watermark: tansu 0.6.0 answers ListOffsets
        with the last *batch's* base offset + 1, so after batched writes it alone would make us ready early."""
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
            log.info("caught up with %s: %d active decision(s)", self.topic, len(self._state.active))

    def poll_once(self, consumer) -> int:
        """One poll: fold what arrived, expire, flush. Returns the number of records read."""
        batches = consumer.poll(timeout_ms=self.poll_timeout_ms)
        n = 0
        for tp, records in batches.items():
            for r in records:
                self.apply(r.key, r.value, f"{tp.topic}[{tp.partition}]@{r.offset}")
                n += 1
        self.expire()
        self._check_ready(consumer)
        self._call(self.on_batch)
        return n

    def run(self, stop: threading.Event) -> None:
        """Poll until `stop` is set (run it in a thread: `threading.Thread(target=f.run, args=(stop,))`)."""
        from kafka import KafkaConsumer

        kwargs = {"enable_auto_commit": False, "group_id": None, "auto_offset_reset": "earliest",
                  "fetch_max_wait_ms": 100, **self.consumer_kwargs}
        consumer = KafkaConsumer(**kwargs)
        self._consumer = consumer
        try:
            if not self._assign(consumer, stop):
                return
            while not stop.is_set():
                self.poll_once(consumer)
        finally:
            consumer.close()

    def start(self, stop: threading.Event) -> threading.Thread:
        """`run(stop)` in a daemon thread, started."""
        thread = threading.Thread(target=self.run, args=(stop,), name="decision-follower", daemon=True)
        thread.start()
        return thread
