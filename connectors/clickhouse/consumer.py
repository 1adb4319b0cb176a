"""The Kafka side of the ClickHouse sink: poll, decode, buffer, flush, then commit — never commit first.

    consumer = make_consumer("127.0.0.1:9092", group_id="synsec-clickhouse")
    loop = SinkLoop(consumer, sink, decode, dead_letter=dlq.send_record,
                    topics=(topology.topics["alerts"].name, topology.topics["decisions"].name))
    loop.subscribe()
    loop.run(stop=stop_event.is_set)

`decode(topic, value_bytes)` returns an Alert or Decision, or None for a record with nothing to store (a
decisions-topic tombstone); when it raises, the record goes to `dead_letter(record, error)` with its
topic/partition/offset, and only then is its offset allowed to be committed. While the sink cannot take more
rows (ClickHouse down), the loop pauses its partitions and keeps polling (so it stays in the group) until a
flush succeeds; it never polls more records than the sink has room for, and should a record still be refused,
the partition is rewound to it (nothing fetched is skipped). Offsets are committed right after a successful flush, for the records that flush covered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Iterable

from connectors.clickhouse.sink import ClickHouseSink, SinkBackpressure

__all__ = ["SinkLoop", "LoopStats", "make_consumer"]

log = logging.getLogger(__name__)

def make_consumer(bootstrap: str, *, group_id: str = "synsec-clickhouse", **config):
    """A kafka-python KafkaConsumer with auto-commit off (the loop commits after each successful flush)."""
    from kafka import KafkaConsumer

    opts = dict(bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False,
                auto_offset_reset="earliest", max_poll_records=500)
    opts.update(config)
    opts["enable_auto_commit"] = False
    return KafkaConsumer(**opts)


@dataclass
class LoopStats:
    records: int = 0
    stored: int = 0
    empty: int = 0           # decode returned None (tombstones)
    dead_lettered: int = 0
    commits: int = 0
    paused: int = 0          # times the loop paused its partitions for back-pressure


class SinkLoop:
    def __init__(self, consumer, sink: ClickHouseSink, decode: Callable[[str, bytes], object], *,
                 dead_letter: Callable[[object, Exception], None], topics: Iterable[str] = (),
                 poll_timeout_s: float | None = None, max_records: int = 500):
        self.consumer = consumer
        self.sink = sink
        self.decode = decode
        self.dead_letter = dead_letter
        self.topics = tuple(topics)
        self.poll_timeout_s = poll_timeout_s if poll_timeout_s is not None else min(sink.max_age_s, 1.0)
        self.max_records = max_records
        self.stats = LoopStats()
        self._paused = False

    def subscribe(self) -> None:
        from kafka import ConsumerRebalanceListener

        loop = self

        class _Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked):
                loop._on_revoked(revoked)

            def on_partitions_assigned(self, assigned):
                pass

        self.consumer.subscribe(list(self.topics), listener=_Listener())

    def _on_revoked(self, revoked) -> None:
        """Commit what can be committed, then stop reporting the revoked partitions (rows still inserted)."""
        flushed = self.sink.flush()
        if flushed is not None:
            self._commit(flushed.positions)
        self.sink.forget(revoked)

    def run(self, stop: Callable[[], bool] = lambda: False) -> LoopStats:
        try:
            while not stop():
                self.step()
        finally:
            flushed = self.sink.flush()
            if flushed is not None:
                self._commit(flushed.positions)
        return self.stats

    def step(self) -> None:
        """One poll → buffer → maybe flush → commit round."""
        room = self._apply_backpressure()
        batches = self.consumer.poll(timeout_ms=int(self.poll_timeout_s * 1000),
                                     max_records=max(min(self.max_records, room), 1))
        for tp, records in batches.items():
            for i, record in enumerate(records):
                try:
                    self._take(tp, record)
                except SinkBackpressure:
                    # not buffered: rewind so this record and the rest of the batch are fetched again
                    self.consumer.seek(tp, record.offset)
                    self.stats.records -= 1
                    break
        flushed = self.sink.flush_due()
        if flushed is not None:
            self._commit(flushed.positions)

    def _take(self, tp, record) -> None:
        self.stats.records += 1
        try:
            obj = self.decode(record.topic, record.value)
        except Exception as err:  # noqa: BLE001 — any decode failure is a poison message
            self.dead_letter(record, err)       # raises → nothing committed, the record is redelivered
            self.stats.dead_lettered += 1
            self.sink.skip((tp, record.offset))
            return
        if obj is None:
            self.stats.empty += 1
            self.sink.skip((tp, record.offset))
            return
        self.sink.add(obj, (tp, record.offset))
        self.stats.stored += 1

    def _apply_backpressure(self) -> int:
        """Pause every assigned partition while the sink has no room; resume once it has. Returns the room."""
        room = self.sink.room()
        full = room == 0
        if full and not self._paused:
            parts = list(self.consumer.assignment())
            if parts:
                self.consumer.pause(*parts)
                self._paused = True
                self.stats.paused += 1
                log.warning("ClickHouse sink full (%d rows): partitions paused", self.sink.buffered)
        elif not full and self._paused:
            self.consumer.resume(*self.consumer.paused())
            self._paused = False
        return room

    def _commit(self, positions: dict) -> None:
        if not positions:
            return
        from kafka.structs import OffsetAndMetadata

        self.consumer.commit({tp: OffsetAndMetadata(off + 1, "", -1) for tp, off in positions.items()})
        self.stats.commits += 1
