"""The crowd in Kafka mode (`synsec api --broker`): signals come from the alerts topic, CAPI decisions go to the
decisions topic.

`AlertFeed` reads the alerts topic (no consumer group: every partition assigned, positions kept in `crowd.db`
and saved in the same transaction as the signals they yield, so each alert is queued once across restarts).
At the very first start it begins at the topic's end — an installation shares what it detects from the
moment it joins — and saves those positions at once, so alerts written while it is down are read after.

`TopicCTI` answers `CrowdsecCTI(ip)` in the workers from the decisions topic's CAPI decisions.

`TopicTarget` is where pulled blocklist entries go: a decision value under its `scope:value` key on the
compacted decisions topic, which `synsec api` and every bouncer follow. The topic holds one decision per key,
so a CAPI entry never replaces an active decision of another origin (a local ban stays as it is), and a
deletion tombstones only keys whose decision is still the CAPI one. Its own follower of the topic
(`connectors.kafka.follower.DecisionFollower`) tells it what is active; each write is read back before the
next step.
"""

from __future__ import annotations

import logging
import threading

from connectors.background import Background
from connectors.crowd.blocklist import ORIGIN, BlocklistCTI
from connectors.kafka.follower import DecisionFollower
from synsec.engine.errors import SynsecError
from synsec.wire.records import decision_key, decision_to_record, record_to_alert

__all__ = ["AlertFeed", "TopicTarget", "TopicCTI", "decision_row"]

log = logging.getLogger(__name__)


def decision_row(d) -> dict:
    """A decision of the topic as the blocklist code reads store rows."""
    return {"id": d.id, "origin": d.origin, "scope": d.scope, "value": d.value, "scenario": d.scenario,
            "until": d.until, "created_at": d.until - d.duration}


class TopicCTI:
    """`CrowdsecCTI(ip)` for the workers of the Kafka mode: the CAPI decisions of the decisions topic. The topic's
    follower starts at the first lookup (content that never asks costs nothing); until it has read the topic,
    every address reads as unknown."""

    def __init__(self, consumer_kwargs: dict, topic: str, codecs, scenario_labels: dict):
        self.consumer_kwargs, self.topic, self.codecs = consumer_kwargs, topic, codecs
        self.index = BlocklistCTI(scenario_labels)
        self.follower: DecisionFollower | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def __call__(self, ip: str):
        if self.follower is None:
            self._start()
        return self.index(ip)

    def _start(self) -> None:
        with self._lock:
            if self.follower is None:
                self.follower = DecisionFollower(self.consumer_kwargs, self.topic, codecs=self.codecs,
                                                 on_add=self._add, on_delete=self._delete)
                self.follower.start(self._stop)

    def _add(self, d) -> None:
        if d.origin == ORIGIN:
            self.index.put(decision_row(d))
        else:                                    # another origin took the key over
            self.index.drop(d.scope, d.value)

    def _delete(self, scope: str, value: str, d) -> None:
        self.index.drop(scope, value)

    def close(self) -> None:
        self._stop.set()


class TopicTarget:
    def __init__(self, consumer_kwargs: dict, producer, codecs, topic: str, *, ready_timeout: float = 30.0):
        self.producer, self.codecs, self.topic = producer, codecs, topic
        self._stop = threading.Event()
        self.follower = DecisionFollower(consumer_kwargs, topic, codecs=codecs)
        self.follower.start(self._stop)
        if not self.follower.ready.wait(ready_timeout):
            log.warning("crowd: %s not read within %.0fs (%s)", topic, ready_timeout, self.follower.error)

    def active(self, now: float) -> list[dict]:
        return [decision_row(d) for d in self.follower.active() if d.origin == ORIGIN]

    def add(self, decisions: list, now: float) -> set[str]:
        """Publish the decisions but those on a key another origin holds; the ids of those not written."""
        others = {(d.scope, d.value) for d in self.follower.active() if d.origin != ORIGIN}
        self._send([(decision_key(d), self.codecs.encode("decision", decision_to_record(d)))
                    for d in decisions if (d.scope, d.value) not in others])
        return {d.id for d in decisions if (d.scope, d.value) in others}

    def delete(self, ids: list[str], now: float) -> None:
        wanted = set(ids)
        self._send([(f"{d.scope}:{d.value}".encode("utf-8"), None) for d in self.follower.active()
                    if d.origin == ORIGIN and d.id in wanted])

    def _send(self, records: list[tuple[bytes, bytes | None]]) -> None:
        if not records:
            return
        futures = [self.producer.send(self.topic, key=key, value=value) for key, value in records]
        self.producer.flush(10)
        last: dict[int, int] = {}
        for fut in futures:
            md = fut.get(timeout=10)
            last[md.partition] = max(last.get(md.partition, -1), md.offset)
        self.follower.wait_for(last, 10)

    def close(self) -> None:
        self._stop.set()
        self.producer.close(timeout=5)


class AlertFeed(Background):
    """Reads the alerts topic into `crowd.enqueue(alerts, positions)` in a daemon thread until `stop`."""

    thread_name = "synsec-crowd-alerts"

    def __init__(self, consumer_kwargs: dict, topic: str, codecs, crowd, *, poll_ms: int = 500):
        self.consumer_kwargs, self.topic, self.codecs, self.crowd = dict(consumer_kwargs), topic, codecs, crowd
        self.poll_ms = poll_ms
        self.stats = {"alerts": 0, "poison": 0}
        self.ready = threading.Event()
        super().__init__()

    def _assign(self, consumer):
        from kafka import TopicPartition

        while not self._stop.is_set():
            parts = consumer.partitions_for_topic(self.topic)
            if parts:
                tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
                consumer.assign(tps)
                return tps
            self._stop.wait(0.5)
        return []

    def _run(self) -> None:
        from kafka import KafkaConsumer

        consumer = KafkaConsumer(**{**self.consumer_kwargs, "group_id": None, "enable_auto_commit": False,
                                    "auto_offset_reset": "earliest"})
        try:
            tps = self._assign(consumer)
            saved = self.crowd.queue.positions()
            fresh = [tp for tp in tps if str(tp.partition) not in saved]
            for tp in tps:
                if str(tp.partition) in saved:
                    consumer.seek(tp, saved[str(tp.partition)])
            if fresh:
                consumer.seek_to_end(*fresh)
                self.crowd.enqueue([], {tp.partition: consumer.position(tp) for tp in fresh})
            self.ready.set()
            while not self._stop.is_set():
                self._poll(consumer)
        except Exception as err:  # noqa: BLE001 — a broker error ends the feed with one log line, not the API
            log.error("crowd: alerts feed stopped: %s", err)
        finally:
            consumer.close()

    def _poll(self, consumer) -> None:
        batches = consumer.poll(timeout_ms=self.poll_ms)
        alerts, positions = [], {}
        for tp, records in batches.items():
            for rec in records:
                positions[tp.partition] = rec.offset + 1
                try:
                    alerts.append(record_to_alert(self.codecs.decode("alert", rec.value)))
                except (SynsecError, KeyError, TypeError, ValueError) as err:
                    self.stats["poison"] += 1
                    log.warning("crowd: %s[%d]@%d: not an alert (%s)", self.topic, tp.partition, rec.offset, err)
        if positions:
            self.stats["alerts"] += len(alerts)
            self.crowd.enqueue(alerts, positions)
