"""The distributed implementation of the API's decisions source: the compacted topic `synsec.decisions`.

    view = TopicDecisionView(make_decisions_consumer(broker), codecs, base_seq=keys_max_seq + 1).start()
    view.wait_idle(30)                                   # caught up (polls until idle; no end offsets)
    writer = TopicDecisionWriter(make_decisions_producer(broker), codecs, view)

A consumer thread (kafka-python, no consumer group: every partition assigned manually and read from the
beginning) decodes each message — key UTF-8 `scope:value`, value a Confluent-framed Avro Decision or null
(tombstone) — and queues it. `refresh` (on the API's thread) folds the queue into a `DecisionIndex` keyed
by `scope:value`, one decision per key as on a compacted topic: a new value replaces the key's decision, a
tombstone ends it, a simulated or already-expired value ends it too. Expiry is derived from `until`
(`pop_expired`). Every change gets the next number of one increasing sequence starting at `base_seq`
(above every bouncer's stored sequence, so a bouncer that pulled from an earlier process gets the full set
once, then deltas). A decision whose `until` is not a number is counted and skipped, one more than 10 years
away (infinite: written before durations were bounded) clamped (`out_of_range`). Undecodable messages are
counted and skipped (the topic is a state, not a queue: there
is nothing to retry). A decision's LAPI id is derived from its (partition, offset), so it is the same after
a restart and is known to the writer as soon as the broker acknowledges the write.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from connectors.api.index import DecisionIndex
from connectors.api.inputs import DecisionInput
from connectors.api.model import DecisionRecord, Delta, target_of
from connectors.api.view import IndexedView
from synsec.engine.durations import bounded_until

__all__ = ["TopicDecisionView", "TopicDecisionWriter", "make_decisions_consumer", "make_decisions_producer",
           "lapi_id", "DECISIONS_TOPIC"]

log = logging.getLogger(__name__)

DECISIONS_TOPIC = "synsec.decisions"


def lapi_id(partition: int, offset: int, partitions: int) -> int:
    """A stable positive integer id for the message at (partition, offset)."""
    return offset * max(partitions, 1) + partition + 1


def make_decisions_consumer(broker, **config):
    """A group-less kafka-python consumer (no commits: the view re-reads the topic from the start)."""
    from kafka import KafkaConsumer

    opts = dict(broker.kafka_python_kwargs(), group_id=None, enable_auto_commit=False,
                auto_offset_reset="earliest", max_poll_records=2000)
    opts.update(config)
    return KafkaConsumer(**opts)


def make_decisions_producer(broker, **config):
    from kafka import KafkaProducer

    opts = dict(broker.kafka_python_kwargs(), acks="all", linger_ms=0)
    opts.update(config)
    return KafkaProducer(**opts)


class TopicDecisionView(IndexedView):
    """DecisionView over the decisions topic. Thread-safe by construction: only the consumer thread touches
    the consumer, only `refresh` (the API's thread) touches the index; they share a locked queue."""

    def __init__(self, consumer, codecs, *, topic: str = DECISIONS_TOPIC, base_seq: int = 1,
                 ended_window: float = 3600.0, poll_timeout_s: float = 0.3, idle_polls: int = 2,
                 partitions_timeout_s: float = 30.0):
        self.consumer, self.codecs, self.topic = consumer, codecs, topic
        self.ended_window = ended_window
        self.poll_timeout_s, self.idle_polls = poll_timeout_s, idle_polls
        self.partitions_timeout_s = partitions_timeout_s
        self.index = DecisionIndex()
        self.index.floor = self.index.head = base_seq
        self._seq = base_seq
        self._by_key: dict[str, DecisionRecord] = {}
        self.partitions = 0
        self.records = 0          # messages read
        self.poison = 0           # undecodable messages skipped
        self.out_of_range = 0     # decisions whose `until` was not a number (skipped) or too far (clamped)
        self.error: str = ""      # last consumer error, "" while healthy
        self._pending: list[tuple[str, DecisionRecord | None]] = []
        self._positions: dict[int, int] = {}   # partition -> next offset read
        self._cond = threading.Condition()
        self._idle = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the consumer thread ------------------------------------------------------------------------------

    def start(self) -> "TopicDecisionView":
        self._thread = threading.Thread(target=self._run, name="decisions-topic", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_idle(self, timeout: float) -> bool:
        """True once the consumer has read everything there was (idle polls), False on timeout."""
        return self._idle.wait(timeout)

    def wait_for(self, positions: dict[int, int], timeout: float = 5.0) -> bool:
        """Block until the consumer has read past each (partition: offset) — read-your-writes for the API."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not all(self._positions.get(p, 0) > off for p, off in positions.items()):
                left = deadline - time.monotonic()
                if left <= 0 or self._stop.is_set():
                    return False
                self._cond.wait(left)
        return True

    def _assign(self) -> None:
        from kafka import TopicPartition

        deadline = time.monotonic() + self.partitions_timeout_s
        parts = self.consumer.partitions_for_topic(self.topic)
        while not parts:
            if self._stop.is_set() or time.monotonic() > deadline:
                raise RuntimeError(f"topic {self.topic} not found (create it: synsec topics create)")
            time.sleep(0.2)
            parts = self.consumer.partitions_for_topic(self.topic)
        tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
        self.partitions = len(tps)
        self.consumer.assign(tps)
        self.consumer.seek_to_beginning(*tps)

    def _run(self) -> None:
        try:
            self._assign()
            empty = 0
            while not self._stop.is_set():
                try:
                    batches = self.consumer.poll(timeout_ms=int(self.poll_timeout_s * 1000))
                    self.error = ""
                except Exception as err:  # noqa: BLE001 — a broker outage: report, keep trying
                    self.error = str(err)
                    log.warning("decisions topic: %s", err)
                    time.sleep(1.0)
                    continue
                if not batches:
                    empty += 1
                    if empty >= self.idle_polls:
                        self._idle.set()
                    continue
                empty = 0
                self._take(batches)
        except Exception as err:  # noqa: BLE001 — logged and visible in /health-less metrics; nothing to serve
            self.error = str(err)
            log.error("decisions topic consumer stopped: %s", err)
        finally:
            self.consumer.close()

    def _take(self, batches) -> None:
        items: list[tuple[str, DecisionRecord | None]] = []
        last: dict[int, int] = {}
        for tp, records in batches.items():
            for msg in records:
                self.records += 1
                last[tp.partition] = msg.offset
                item = self.decode(tp.partition, msg.offset, msg.key, msg.value)
                if item is not None:
                    items.append(item)
        with self._cond:
            self._pending.extend(items)
            for p, off in last.items():
                self._positions[p] = off + 1
            self._cond.notify_all()

    def decode(self, partition: int, offset: int, key: bytes | None,
               value: bytes | None) -> tuple[str, DecisionRecord | None] | None:
        """(key, record or None for a tombstone); None (and counted) for a message that cannot be read."""
        from synsec.wire.records import record_to_decision

        try:
            text = key.decode("utf-8") if key is not None else ""
            if not text:
                raise ValueError("no key")
            if value is None:
                return text, None
            d = record_to_decision(self.codecs.decode("decision", value))
        except Exception as err:  # noqa: BLE001 — any undecodable message is poison: count and skip
            self.poison += 1
            log.warning("decisions topic: skipped partition %d offset %d: %s", partition, offset, err)
            return None
        until = bounded_until(d.until, time.time())
        if until != d.until:      # written before durations were bounded: NaN skipped, ±inf clamped
            self.out_of_range += 1
            log.warning("decisions topic: partition %d offset %d: until %r out of range, %s", partition,
                        offset, d.until, "skipped" if until is None else "clamped")
            if until is None:
                return None
        return text, DecisionRecord(id=lapi_id(partition, offset, self.partitions), origin=d.origin,
                                    type=d.type, scope=d.scope, value=d.value, scenario=d.scenario,
                                    until=until, simulated=d.simulated, uuid=d.id,
                                    target=target_of(d.scope, d.value))

    # -- DecisionView -------------------------------------------------------------------------------------

    def refresh(self, now: float, force: bool = False) -> None:
        """Fold what the consumer read, then end the decisions past `until`. Cheap when idle."""
        if self._pending:
            with self._cond:
                pending, self._pending = self._pending, []
            for key, rec in pending:
                self._fold(key, rec, now)
        for rec in self.index.pop_expired(now):
            self._end(f"{rec.scope}:{rec.value}", "expired")

    def _fold(self, key: str, rec: DecisionRecord | None, now: float) -> None:
        if rec is None or rec.simulated or rec.until <= now:
            self._end(key, "expired" if rec is not None and rec.until <= now else "deleted")
            return
        if key in self._by_key:
            self._end(key, "deleted")     # replaced: not sent as deleted while the new one applies
        self._seq += 1
        self.index.add(rec, self._seq)
        self._by_key[key] = rec

    def _end(self, key: str, kind: str) -> None:
        old = self._by_key.pop(key, None)
        if old is not None:
            self._seq += 1
            self.index.remove(old.id, self._seq, kind)

    def changes_since(self, seq: int, now: float) -> Delta:
        return self.index.changes_since(seq, now)



_MATCH: dict[str, Callable[[DecisionRecord, object], bool]] = {
    "value": lambda r, v: r.value == v,
    "scope": lambda r, v: r.scope.lower() == str(v).lower(),
    "type": lambda r, v: r.type == v,
    "scenario": lambda r, v: r.scenario == v,
    "origin": lambda r, v: r.origin == v,
    "num": lambda r, v: r.id == int(v),
    "decision_id": lambda r, v: r.uuid == v,
}


class TopicDecisionWriter:
    """DecisionWriter that publishes to the decisions topic: an add is a Decision value under its
    `scope:value` key (replacing any decision on that key), a delete a tombstone for each matching key.
    It waits for the broker's acknowledgement, then for the view to have read the write back, so the next
    request sees it."""

    def __init__(self, producer, codecs, view: TopicDecisionView, *, topic: str = DECISIONS_TOPIC,
                 timeout_s: float = 10.0):
        self.producer, self.codecs, self.view, self.topic = producer, codecs, view, topic
        self.timeout_s = timeout_s

    def add_decisions(self, decisions: list[DecisionInput], now: float | None = None) -> list[int]:
        from synsec.wire.records import decision_key, decision_to_record

        now = time.time() if now is None else now
        futures = []
        for inp in decisions:
            d = inp.to_decision()
            d.until = now + d.duration
            futures.append(self.producer.send(self.topic, key=decision_key(d),
                                              value=self.codecs.encode("decision", decision_to_record(d))))
        return self._acknowledged(futures)

    def delete_decisions(self, filters: dict, now: float | None = None) -> int:
        now = time.time() if now is None else now
        everything = bool(filters.pop("everything", False))
        if not everything and not any(v not in (None, "") for v in filters.values()):
            raise ValueError("delete_decisions needs a filter (or everything=True)")
        self.view.refresh(now, force=True)
        tests = [(_MATCH[k], v) for k, v in filters.items() if v not in (None, "")]
        hits = [r for r in self.view.active(now) if all(t(r, v) for t, v in tests)]
        futures = [self.producer.send(self.topic, key=f"{r.scope}:{r.value}".encode("utf-8"), value=None)
                   for r in hits]
        self._acknowledged(futures)
        return len(hits)

    def _acknowledged(self, futures) -> list[int]:
        self.producer.flush(self.timeout_s)
        metas = [f.get(timeout=self.timeout_s) for f in futures]
        last: dict[int, int] = {}
        for md in metas:
            last[md.partition] = max(last.get(md.partition, -1), md.offset)
        if last and not self.view.wait_for(last, self.timeout_s):
            log.warning("decisions topic: own write not read back within %.0fs", self.timeout_s)
        return [lapi_id(md.partition, md.offset, self.view.partitions) for md in metas]

    def close(self) -> None:
        self.producer.close(timeout=5)
