"""Central's Kafka side (`synsec central --broker`): accepted signals out to the curation topology, the community
blocklist back in (streams/curation.py says what runs between).

Out, on the topology's `signals` topic: each `Ip` signal as an Avro `Signal` keyed by its address, with labels
`received_at` (central's clock: the curation's time), `cohort` (the reporter's cohort, from central's
registrations) and `burst` ("1" when the report exceeds its reporter's burst limit: central sees all of a
reporter's reports, in order); a time marker to every partition every `tick` seconds and before the first
signal of each minute (so every partition finishes a trust epoch promptly); and to every partition, when a
registration changes cohorts, a `cohort:<reporter>` record whose value is the reporter's new cohort. Records go
out in the order central received what they carry (one lock), so each partition sees signals, cohort changes
and markers in central's order. In: the compacted `blocklist` topic,
read from its start by a consumer of no group, each record applied to central's store (a listing, an expiry
move, or a tombstone), so `GET /v2/decisions/stream` serves what the topology decided.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable

from connectors.central.curation import Listed, Removed, epoch_of
from connectors.central.signals import Signal
from connectors.central.store import CentralStore
from synsec.engine.errors import SynsecError
from synsec.engine.model import Source
from synsec.wire.codecs import Codecs
from synsec.wire.kafka import BrokerSettings
from synsec.wire.records import Signal as SignalRecord
from synsec.wire.records import signal_to_record
from synsec.wire.registry import LocalRegistry
from topologies import Topology

__all__ = ["SignalBus", "BrokerUnavailable", "TICK_PREFIX", "COHORT_PREFIX"]

log = logging.getLogger(__name__)

TICK_PREFIX = b"tick:"          # a time marker's key (streams.curation reads it)
COHORT_PREFIX = b"cohort:"      # a cohort change's key: cohort:<reporter>, value the cohort's name
PUBLISH_TIMEOUT = 5.0           # seconds a watcher's batch waits for the broker's ack before its 503
STARTUP_TIMEOUT = 60.0          # seconds central's start waits for the acks of what was left unsent


class BrokerUnavailable(SynsecError):
    """The broker did not ack produced signals in time: the batch is stored, its watcher gets a 503."""


class SignalBus:
    def __init__(self, broker: BrokerSettings, topology: Topology, store: CentralStore,
                 clock: Callable[[], float], tick: float = 5.0):
        self.broker, self.store, self.clock, self.tick = broker, store, clock, tick
        self.signals, self.blocklist = topology.topics["signals"], topology.topics["blocklist"]
        self.codecs = Codecs(LocalRegistry())
        self.producer = None
        self.tasks: list[asyncio.Task] = []
        self.applied = 0
        self.lock = asyncio.Lock()      # one writer at a time: partitions see central's order
        self.marked = -1                # the epoch of the last time markers
        self.inflight: dict[int, asyncio.Future] = {}      # stored signal id -> its delivery, not acked yet
        self.acked: list[int] = []      # stored signal ids acked, not yet marked published

    async def start(self, _app=None) -> None:
        from aiokafka import AIOKafkaProducer

        self.producer = AIOKafkaProducer(**self.broker.aiokafka_kwargs(), linger_ms=5)
        await self.producer.start()
        sent = await self.flush(STARTUP_TIMEOUT)        # before serving: what a crash or an outage left unsent
        if sent:
            log.info("signals: %d stored signals sent again (unpublished at the last stop)", sent)
        self.tasks = [asyncio.create_task(self._follow()), asyncio.create_task(self._ticks())]

    async def stop(self, _app=None) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.producer is not None:
            await self.producer.stop()      # sends what it holds: acked ones are marked, not sent again
            self._note_acked()

    async def flush(self, timeout: float = PUBLISH_TIMEOUT) -> int:
        """Produce every stored signal the broker has not acked yet, in stored order with its stored labels, and
        wait up to `timeout` seconds for the acks (also of those another call sent); the number sent.
        BrokerUnavailable when not all were acked in time: they stay unpublished and go at a later flush."""
        from aiokafka.errors import KafkaError

        async with self.lock:
            self._note_acked()
            rows = self.store.unpublished()
            waits = [self.inflight[r["id"]] for r in rows if r["id"] in self.inflight]
            new = [r for r in rows if r["id"] not in self.inflight]
            try:
                for r in new:
                    waits += await self._mark(r["received_at"])    # at start (nothing marked yet): as when live
                    fut = await self.producer.send(self.signals.name, self.codecs.encode("signal", _record(r)),
                                                   key=r["value"].encode())
                    self.inflight[r["id"]] = fut
                    fut.add_done_callback(functools.partial(self._sent, r["id"]))
                    waits.append(fut)
            except KafkaError as err:       # e.g. no metadata for the topic, or the send buffer full
                raise BrokerUnavailable(f"the broker did not take the signals ({type(err).__name__}); they are"
                                        " stored and sent later") from None
        if waits:
            done, pending = await asyncio.wait(waits, timeout=timeout)
            failed = [f for f in done if f.cancelled() or f.exception() is not None]
            if pending or failed:
                why = (f"no ack in {timeout:g} s" if pending else "cancelled" if failed[0].cancelled()
                       else type(failed[0].exception()).__name__)
                raise BrokerUnavailable(f"the broker did not take {len(pending) + len(failed)} of "
                                        f"{len(waits)} records ({why}); the signals are stored and sent later")
        self._note_acked()
        return len(new)

    def _sent(self, rid: int, fut: asyncio.Future) -> None:
        """A produced signal's delivery ended: acked (marked published at the next flush) or to send again."""
        self.inflight.pop(rid, None)
        if not fut.cancelled() and fut.exception() is None:
            self.acked.append(rid)

    def _note_acked(self) -> None:
        if self.acked:
            ids, self.acked = self.acked, []
            self.store.mark_published(ids)

    async def cohorts(self, changes: dict[str, str]) -> None:
        """Tell every partition the reporters whose cohort a registration changed."""
        if not changes:
            return
        async with self.lock:
            futures = [await self.producer.send(self.signals.name, label.encode(), key=COHORT_PREFIX + name.encode(),
                                                partition=p)
                       for name, label in sorted(changes.items()) for p in range(self.signals.partitions)]
        await asyncio.gather(*futures)

    async def _mark(self, now: float, force: bool = False) -> list:
        """Time markers to every partition, when `now` is in a new epoch (or `force`); under the lock."""
        if not force and epoch_of(now) <= self.marked:
            return []
        self.marked = max(self.marked, epoch_of(now))
        return [await self.producer.send(self.signals.name, None, key=TICK_PREFIX + repr(now).encode(),
                                         partition=partition) for partition in range(self.signals.partitions)]

    async def _ticks(self) -> None:
        from aiokafka.errors import KafkaError

        while True:
            try:
                async with self.lock:
                    await self._mark(self.clock(), force=True)
                await self.flush()      # what an outage left unsent goes once the broker is back
            except (BrokerUnavailable, KafkaError) as err:
                log.warning("signals: %s", err)
            await asyncio.sleep(self.tick)

    async def _follow(self) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(**self.broker.aiokafka_kwargs(), enable_auto_commit=False,
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            consumer.assign([TopicPartition(self.blocklist.name, p) for p in range(self.blocklist.partitions)])
            await consumer.seek_to_beginning()
            while True:
                batch = await consumer.getmany(timeout_ms=500)
                changes = [change for records in batch.values() for r in records
                           if (change := _change(r.key, r.value)) is not None]
                if changes:
                    self.store.publish(changes, self.clock())
                    self.applied += len(changes)
        finally:
            await consumer.stop()


def _record(row: dict) -> dict:
    """A stored Ip signal as the `Signal` record central produced (or produces again) for it."""
    labels = {"received_at": repr(row["received_at"]), "cohort": row["cohort"] or "", "machine_id": row["machine_id"]}
    if row["burst"]:
        labels["burst"] = "1"
    rec = SignalRecord(installation_id=row["watcher"], scenario=row["scenario"],
                       source=Source("Ip", row["value"], row["value"]), timestamp=row["received_at"],
                       scenario_version=row["scenario_version"], scenario_hash=row["scenario_hash"],
                       events_count=row["events_count"] or 0, labels=labels)
    return signal_to_record(rec)


def _change(key: bytes | None, value: bytes | None) -> Listed | Removed | None:
    """A blocklist record as a store change; None (logged) when it is not one."""
    text = (key or b"").decode("utf-8", "replace")
    if not text.startswith("Ip:"):
        log.warning("blocklist: record with key %.80r skipped", text)
        return None
    if value is None:
        return Removed(text[3:])
    try:
        rec = json.loads(value)
        return Listed(str(rec["value"]), str(rec["scenario"]), float(rec["until"]), False)
    except (ValueError, KeyError, TypeError):
        log.warning("blocklist: %s: value is not {value, scenario, until}", text[:80])
        return None
