"""The distributed implementation of the API's decisions source: the compacted decisions topic.

    view = TopicDecisionView(broker.kafka_python_kwargs(), codecs, topic=topic, base_seq=keys_max_seq + 1)
    view.start().wait_ready(30)                          # every partition read to its end
    writer = TopicDecisionWriter(make_decisions_producer(broker), codecs, view, topic=topic)

The view is the decisions topic's one follower (`connectors.kafka.follower.DecisionFollower`, shared with the
bouncers) in `fold_on_read=False` mode: its thread reads and decodes, and `refresh` (on the API's thread)
folds what was read into the `DecisionIndex` the API serves and ends the decisions over at `now`, so the
index is touched by one thread only. The follower's rules apply: one decision per `scope:value` key, a
tombstone, a simulated value or an expired one ends it, poison and out-of-range `until`s are counted and
skipped or clamped. Every change gets the next number of one increasing sequence starting at `base_seq`
(above every bouncer's stored sequence, so a bouncer that pulled from an earlier process gets the full set
once, then deltas). A decision's LAPI id is derived from its (partition, offset), so it is the same after
a restart and is known to the writer as soon as the broker acknowledges the write.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from connectors.api.inputs import DecisionInput
from connectors.api.model import DecisionRecord, Delta
from connectors.api.view import IndexedView
from connectors.kafka.decision_set import lapi_id
from connectors.kafka.follower import DecisionFollower
from synsec.engine.decisions import taken
from synsec.engine.model import Decision

__all__ = ["TopicDecisionView", "TopicDecisionWriter", "TopicAlertWriter", "make_decisions_producer"]

log = logging.getLogger(__name__)


def make_decisions_producer(broker, **config):
    from kafka import KafkaProducer

    opts = dict(broker.kafka_python_kwargs(), acks="all", linger_ms=0)
    opts.update(config)
    return KafkaProducer(**opts)


class TopicDecisionView(IndexedView):
    """DecisionView over the decisions topic: the one follower, folded on the API's thread."""

    def __init__(self, consumer_kwargs: dict, codecs, *, topic: str | None = None, base_seq: int = 1,
                 ended_window: float = 3600.0, poll_timeout_s: float = 0.3):
        self.follower = DecisionFollower(consumer_kwargs, topic, codecs=codecs, fold_on_read=False,
                                         base_seq=base_seq, max_changes=100_000,
                                         poll_timeout_ms=int(poll_timeout_s * 1000))
        self.topic = self.follower.topic
        self.index = self.follower.index
        self.ended_window = ended_window
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # counters and state of the follower, for the API's metrics and start-up message
    records = property(lambda self: self.follower.stats["records"])
    poison = property(lambda self: self.follower.stats["poison"])
    out_of_range = property(lambda self: self.follower.stats["out_of_range"])
    error = property(lambda self: self.follower.error)
    partitions = property(lambda self: self.follower.partitions)

    def start(self) -> "TopicDecisionView":
        """Connect (raises when no broker answers), then read in the follower's thread."""
        self.follower.connect()
        self._thread = self.follower.start(self._stop)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_ready(self, timeout: float) -> bool:
        """True once every partition has been read to the end it had at start, False on timeout."""
        return self.follower.ready.wait(timeout)

    def wait_for(self, positions: dict[int, int], timeout: float = 5.0) -> bool:
        """Block until the follower has read past each (partition: offset) — read-your-writes for the API."""
        return self.follower.wait_for(positions, timeout)

    # -- DecisionView -------------------------------------------------------------------------------------

    def refresh(self, now: float, force: bool = False) -> None:
        """Fold what the follower read, then end the decisions over at `now`. Cheap when idle."""
        self.follower.fold(now)

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

    def __init__(self, producer, codecs, view: TopicDecisionView, *, timeout_s: float = 10.0):
        self.producer, self.codecs, self.view, self.topic = producer, codecs, view, view.topic
        self.timeout_s = timeout_s

    def add_decisions(self, decisions: list[DecisionInput], now: float | None = None) -> list[int]:
        return self.publish([inp.to_decision() for inp in decisions], time.time() if now is None else now)

    def publish(self, decisions: list[Decision], now: float) -> list[int]:
        """Publish decisions taken at `now`; their LAPI ids once acknowledged and read back."""
        from synsec.wire.records import decision_key, decision_to_record

        futures = []
        for d in decisions:
            d = taken(d, now)
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


class TopicAlertWriter:
    """AlertWriter of the Kafka mode: a pushed alert goes to the alerts topic (key `scope:value`), where the
    profiles agent decides on it as on the buckets' own alerts (and the ClickHouse sink and the crowd read it);
    an alert that carries its decisions (a manual one) has them published on the decisions topic instead and
    stays off the alerts topic. Every pushed alert is also kept in the embedded store, for GET /v1/alerts."""

    def __init__(self, store, decisions: TopicDecisionWriter, alerts_topic: str, *, timeout_s: float = 10.0):
        self.store, self.decisions, self.topic, self.timeout_s = store, decisions, alerts_topic, timeout_s

    def push_alerts(self, pushed: list, machine_id: str, now: float) -> list[str]:
        from synsec.wire.records import alert_to_record

        producer, codecs = self.decisions.producer, self.decisions.codecs
        futures = [producer.send(self.topic, key=f"{p.alert.Source.Scope}:{p.alert.Source.Value}".encode("utf-8"),
                                 value=codecs.encode("alert", alert_to_record(p.alert)))
                   for p in pushed if p.decisions is None]
        given = [d for p in pushed if p.decisions is not None for d in p.decisions]
        if given:
            self.decisions.publish(given, now)
        producer.flush(self.timeout_s)
        for f in futures:
            f.get(timeout=self.timeout_s)
        self.store.add([p.alert for p in pushed], [], now=now, machine_id=machine_id)
        return [p.alert.UUID for p in pushed]
