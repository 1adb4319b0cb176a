"""Central's Kafka side (`synsec central --broker`): accepted signals out to the curation topology, the community
blocklist back in (streams/curation.py says what runs between).

Out, on the topology's `signals` topic: each `Ip` signal as an Avro `Signal` keyed by its address, with labels
`received_at` (central's clock: the curation's time), `cohort` (the reporter's cohort, from central's
registrations) and `burst` ("1" when the report exceeds its reporter's burst limit: central sees all of a
reporter's reports, in order); a time marker to every partition every `tick` seconds and before the first
signal of each minute (so every partition finishes a trust epoch promptly); and to every partition, when a
registration changes cohorts, a `cohort:<reporter>` record whose value is the reporter's new cohort. Signals and
cohort changes are stored first (connectors/central/store.py) and marked published when the broker acks them;
records go out in the order central received what they carry (one lock, and a change follows the signals
stored before it), so each partition sees signals, cohort changes and markers in central's order. Once it reaches the
broker, central creates the crowd's topics that are missing, as `synsec topics create` makes them
(`ensure_crowd_topics`: signals, blocklist, the curation's changelog and trust topics; a broker that creates topics
on first use would make them with its defaults: not compacted, its partition count). Broker down:
central starts and serves anyway; what is stored goes out when the broker is reached (tried every `retry`
seconds) and at every tick after that; each flush is bounded (a watcher's batch gets its 503 in 5 s).

In: the compacted `blocklist` topic, read from its start by a consumer of no group (again from where it stopped
after losing the broker), each record applied to central's store (a listing, an expiry move, or a tombstone), so
`GET /v2/decisions/stream` serves what the topology decided; once read from its start to its end, what the store
lists and the topic does not (a broker that lost it) is removed.
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

__all__ = ["SignalBus", "BrokerUnavailable", "TICK_PREFIX", "COHORT_PREFIX", "ensure_crowd_topics"]

log = logging.getLogger(__name__)

TICK_PREFIX = b"tick:"          # a time marker's key (streams.curation reads it)
COHORT_PREFIX = b"cohort:"      # a cohort change's key: cohort:<reporter>, value the cohort's name
PUBLISH_TIMEOUT = 5.0           # seconds a watcher's batch waits for the broker's ack before its 503
STARTUP_TIMEOUT = 60.0          # seconds central's start waits for the acks of what was left unsent
RETRY = 5.0                     # seconds between two attempts to reach the broker, and between two resends
UNSENT_BATCH = 10_000           # stored signals read at a time to be produced


class BrokerUnavailable(SynsecError):
    """The broker did not ack produced signals in time: the batch is stored, its watcher gets a 503."""


def ensure_crowd_topics(broker: BrokerSettings, topology: Topology, timeout_s: float = 30.0) -> list[str]:
    """Create the crowd's topics the broker lacks (`Topology.crowd_roles`: what `synsec central --broker` and
    `synsec curation` use), with the partitions and configs `synsec topics create` gives them; existing ones are
    left alone. What to tell the operator: one line per topic created, differing from the topology (a broker that
    creates topics on first use made it with its defaults) or not created, and the report's warnings.
    KafkaAdminError when the broker cannot be reached."""
    from connectors.kafka.admin import ensure_topics

    report = ensure_topics(broker, topology, timeout_s=timeout_s, roles=topology.crowd_roles)
    lines = []
    for t in report.topics:
        if t.status != "exists" or t.messages:
            lines.append(f"topic {t.name} ({t.role}): {t.status}" + "".join(f"; {m}" for m in t.messages))
    return lines + list(report.warnings)


class SignalBus:
    def __init__(self, broker: BrokerSettings, topology: Topology, store: CentralStore,
                 clock: Callable[[], float], tick: float = RETRY, retry: float = RETRY):
        self.broker, self.store, self.clock, self.tick, self.retry = broker, store, clock, tick, retry
        self.topology = topology
        self.topics_checked = False     # the crowd's topics were created (or found) on the broker
        self.publish_timeout = PUBLISH_TIMEOUT
        self.signals, self.blocklist = topology.topics["signals"], topology.topics["blocklist"]
        self.codecs = Codecs(LocalRegistry())
        self.producer = None            # None until the broker was reached (central serves meanwhile)
        self.tasks: list[asyncio.Task] = []
        self.applied = 0
        self.lock = asyncio.Lock()      # one writer at a time: partitions see central's order
        self.marked = -1                # the epoch of the last time markers
        self.inflight: dict[tuple, list] = {}      # ("signal"|"cohort", stored id) -> its deliveries, not acked yet
        self.acked: list[tuple] = []    # those acked, not yet marked published
        self.up = False                 # the last flush was acked
        self.positions: dict[int, int] = {}     # blocklist partition -> the next offset to apply

    def reached(self) -> bool:
        """Whether the broker answered the last flush (False before it was first reached)."""
        return self.producer is not None and self.up

    @property
    def where(self) -> str:
        return ",".join(self.broker.bootstrap_servers)

    def new_producer(self):
        from aiokafka import AIOKafkaProducer

        return AIOKafkaProducer(**self.broker.aiokafka_kwargs(), linger_ms=5)

    async def start(self, _app=None) -> None:
        """Reach the broker and send what a crash or an outage left unsent, before serving; when the broker
        cannot be reached, serve anyway (signals are stored and answered 503) and keep trying every `retry` s."""
        if await self._connect(first=True):
            await self._resume()
        else:
            self.tasks = [asyncio.create_task(self._reconnect())]

    async def _connect(self, first: bool = False) -> bool:
        """One attempt to start a producer; False (logged) when the broker does not answer."""
        from aiokafka.errors import KafkaError

        producer = self.new_producer()
        try:
            await asyncio.wait_for(producer.start(), self.retry + self.publish_timeout)
        except (KafkaError, OSError, asyncio.TimeoutError) as err:
            await _quietly(producer.stop())
            if first:
                log.warning("signals: waiting for the broker at %s (%s); serving meanwhile: signals are stored "
                            "and answered 503 until it is reached (another try every %g s)", self.where,
                            type(err).__name__, self.retry)
            return False
        if not self.topics_checked:
            try:
                await self._ensure_topics()
            except asyncio.CancelledError:                  # stopped meanwhile: the producer is not kept
                await _quietly(producer.stop())
                raise
        if not first:
            log.info("signals: reached the broker at %s", self.where)
        self.producer, self.up = producer, True     # after the topics and the log line: /health says up then
        return True

    async def _ensure_topics(self) -> None:
        """The crowd's missing topics created before anything is produced or followed (once; a failure is
        logged: what exists is used as it is)."""
        from connectors.kafka.admin import KafkaAdminError

        try:
            lines = await asyncio.to_thread(ensure_crowd_topics, self.broker, self.topology,
                                            self.retry + self.publish_timeout)
        except KafkaAdminError as err:
            log.warning("topics: not checked (%s); the crowd's topics are used as the broker has them", err)
            lines = []
        for line in lines:
            (log.info if line.endswith(": created") else log.warning)("topics: %s", line)
        self.topics_checked = True

    async def _reconnect(self) -> None:
        while not await self._connect():
            log.info("signals: still waiting for the broker at %s", self.where)
            await asyncio.sleep(self.retry)
        await self._resume()

    async def _resume(self) -> None:
        """Connected: send what is stored unsent, then follow the blocklist and resend every `tick` s."""
        try:
            sent = await self.flush(STARTUP_TIMEOUT)
        except BrokerUnavailable as err:
            log.warning("signals: %s", err)
        else:
            if sent:
                log.info("signals: %d stored signals sent again (unpublished at the last stop)", sent)
        self.tasks = [asyncio.create_task(self._follow()), asyncio.create_task(self._ticks())]

    async def stop(self, _app=None) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.producer is not None:
            await _quietly(asyncio.wait_for(self.producer.stop(), self.publish_timeout))   # sends what it holds
            self._note_acked()

    async def flush(self, timeout: float | None = None, mark: bool = False) -> int:
        """Produce every stored signal and cohort change the broker has not acked yet, in the order central
        received them, with their stored labels (`mark`: then time markers, at the time the flush began, or at the
        last signal sent when more wait: every signal received before a marker goes before it), and wait up to `timeout` seconds
        in all for the acks (also of those another call sent); the number of signals sent. BrokerUnavailable
        when not all were acked in time: they stay unpublished and go at a later flush (`_ticks`)."""
        from aiokafka.errors import KafkaError

        timeout = self.publish_timeout if timeout is None else timeout
        if self.producer is None:
            raise BrokerUnavailable(f"the broker at {self.where} has not been reached yet; the signals are stored "
                                    "and sent once it is")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            async with asyncio.timeout_at(deadline), self.lock:     # bounded: also the wait for another flush
                self._note_acked()
                at = self.clock()       # what is stored after this read was received at or after it
                items = self._unsent()
                waits = [f for key, _ in items if key in self.inflight for f in self.inflight[key]]
                new = [(key, row) for key, row in items if key not in self.inflight]
                waits += await self._produce(new)
                if mark:
                    signals = [row for (kind, _), row in items if kind == "signal"]
                    if len(signals) >= UNSENT_BATCH:    # more are stored: mark no later than what was sent
                        at = min(at, signals[-1]["received_at"])
                    waits += await self._mark(at, force=True)
        except KafkaError as err:       # e.g. no metadata for the topic, or the send buffer full
            self.up = False
            raise BrokerUnavailable(f"the broker did not take the signals ({type(err).__name__}); they are"
                                    " stored and sent later") from None
        except TimeoutError:
            self.up = False
            raise BrokerUnavailable(f"the broker at {self.where} took no record in {timeout:g} s; the signals"
                                    " are stored and sent later") from None
        if waits:
            left = max(0.0, deadline - loop.time())
            done, pending = await asyncio.wait(waits, timeout=left)
            failed = [f for f in done if f.cancelled() or f.exception() is not None]
            if pending or failed:
                self.up = False
                why = (f"no ack in {timeout:g} s" if pending else "cancelled" if failed[0].cancelled()
                       else type(failed[0].exception()).__name__)
                raise BrokerUnavailable(f"the broker did not take {len(pending) + len(failed)} of "
                                        f"{len(waits)} records ({why}); the signals are stored and sent later")
        self._note_acked()
        self.up = True
        return sum(1 for (kind, _), _ in new if kind == "signal")

    def _unsent(self) -> list[tuple[tuple, dict]]:
        """Stored signals and cohort changes not acked yet, merged in the order central received them (a change
        follows the signals stored before it)."""
        rows = self.store.unpublished(UNSENT_BATCH)
        changes = self.store.unpublished_cohorts()
        if len(rows) == UNSENT_BATCH:   # more signals wait: no change stored after the last one read
            changes = [c for c in changes if c["after_signal"] <= rows[-1]["id"]]
        order = [((r["id"], 0, 0), ("signal", r["id"]), r) for r in rows]
        order += [((c["after_signal"], 1, c["id"]), ("cohort", c["id"]), c) for c in changes]
        return [(key, row) for _, key, row in sorted(order, key=lambda x: x[0])]

    async def _produce(self, items: list[tuple[tuple, dict]]) -> list:
        """Send the items (under the lock); their deliveries, and those of the time markers sent with them."""
        waits = []
        for key, row in items:
            if key[0] == "signal":
                waits += await self._mark(row["received_at"])     # at start (nothing marked yet): as when live
                futs = [await self.producer.send(self.signals.name, self.codecs.encode("signal", _record(row)),
                                                 key=row["value"].encode())]
            else:
                futs = [await self.producer.send(self.signals.name, row["cohort"].encode(), partition=p,
                                                 key=COHORT_PREFIX + row["reporter"].encode())
                        for p in range(self.signals.partitions)]
            self.inflight[key] = futs
            for fut in futs:
                fut.add_done_callback(functools.partial(self._sent, key))
            waits += futs
        return waits

    def _sent(self, key: tuple, fut: asyncio.Future) -> None:
        """A delivery ended: when it was the item's last and all were acked, the item is marked published at
        the next flush; when one failed, the item is sent again."""
        futs = self.inflight.get(key)
        if futs is None or fut not in futs or not all(f.done() for f in futs):
            return
        del self.inflight[key]
        if not any(f.cancelled() or f.exception() is not None for f in futs):
            self.acked.append(key)

    def _note_acked(self) -> None:
        if self.acked:
            keys, self.acked = self.acked, []
            self.store.mark_published([i for kind, i in keys if kind == "signal"])
            self.store.mark_cohorts_published([i for kind, i in keys if kind == "cohort"])

    async def _mark(self, now: float, force: bool = False) -> list:
        """Time markers to every partition, when `now` is in a new epoch (or `force`); under the lock."""
        if not force and epoch_of(now) <= self.marked:
            return []
        self.marked = max(self.marked, epoch_of(now))
        return [await self.producer.send(self.signals.name, None, key=TICK_PREFIX + repr(now).encode(),
                                         partition=partition) for partition in range(self.signals.partitions)]

    async def _ticks(self) -> None:
        """Every `tick` seconds: time markers, and what an outage left unsent (once the broker is back)."""
        while True:
            try:
                sent = await self.flush(mark=True)
            except BrokerUnavailable as err:
                log.warning("signals: %s", err)
            else:
                if sent:
                    log.info("signals: %d stored signals sent (after an outage)", sent)
            await asyncio.sleep(self.tick)

    async def _follow(self) -> None:
        """Apply the blocklist topic to the store, from its start; when the broker goes away, start again from
        where it stopped (the start, when the broker came back empty) every `retry` seconds until it answers."""
        while True:
            try:
                await self._follow_once()
            except Exception as err:  # noqa: BLE001 — whatever stopped it, the follower must go on
                log.warning("blocklist: lost the broker at %s (%s); following again in %g s", self.where,
                            type(err).__name__, self.retry)
            await asyncio.sleep(self.retry)

    async def _follow_once(self) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(**self.broker.aiokafka_kwargs(), enable_auto_commit=False,
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            parts = [TopicPartition(self.blocklist.name, p) for p in range(self.blocklist.partitions)]
            consumer.assign(parts)
            await consumer.seek_to_beginning()
            for tp in parts:
                if tp.partition in self.positions:      # past its end (an emptied broker): reset to its start
                    consumer.seek(tp, self.positions[tp.partition])
            # read from the start of every partition: the topic's content is the whole blocklist
            truth = set() if not self.positions else None
            ends = await consumer.end_offsets(parts) if truth is not None else {}
            checked = asyncio.get_running_loop().time()
            while True:
                batch = await consumer.getmany(timeout_ms=500)
                for tp, records in batch.items():
                    if records:
                        self.positions[tp.partition] = records[-1].offset + 1
                if asyncio.get_running_loop().time() - checked >= self.retry:
                    checked = asyncio.get_running_loop().time()
                    await self._emptied(consumer, parts)
                changes = [change for records in batch.values() for r in records
                           if (change := _change(r.key, r.value)) is not None]
                if changes:
                    self.store.publish(changes, self.clock())
                    self.applied += len(changes)
                if truth is not None:
                    truth = self._settle(truth, changes, ends)
        finally:
            await consumer.stop()

    def _settle(self, truth: set, changes: list, ends: dict) -> set | None:
        """Keep what the topic lists as read from its start; once every partition was read to the end it had
        when the follower started, make the store's blocklist exactly that (what the store listed before and the
        topic no longer holds — the broker lost it: memory storage restarted while central was stopped — is
        removed, with its removal in the stream) and return None: the rest is applied as it comes."""
        for change in changes:
            if isinstance(change, Removed):
                truth.discard(change.value)
            else:
                truth.add(change.value)
        if any(self.positions.get(tp.partition, 0) < end for tp, end in ends.items()):
            return truth
        stale = {value for _, _, value, _, _ in self.store.blocklist()} - truth
        if stale:
            log.warning("blocklist: %d listing(s) of the store are not on the topic (the broker lost them): "
                        "removed", len(stale))
            self.store.publish([Removed(v) for v in sorted(stale)], self.clock())
        return None

    async def _emptied(self, consumer, parts: list) -> None:
        """A partition that now ends before what was applied from it lost its records (a broker with memory
        storage restarted; tansu then answers a fetch past the end with nothing, not an error): read it again
        from its start, or the records produced to it again up to that offset would be skipped."""
        ends = await consumer.end_offsets(parts)
        for tp in parts:
            if ends[tp] < self.positions.get(tp.partition, 0):
                log.warning("blocklist: partition %d ends at offset %d, before the %d applied: the broker lost it;"
                            " reading it again from its start", tp.partition, ends[tp], self.positions[tp.partition])
                self.positions[tp.partition] = 0
                await consumer.seek_to_beginning(tp)


async def _quietly(awaitable) -> None:
    """Await a client's stop, whatever it raises (a client that never connected, a broker gone)."""
    try:
        await awaitable
    except Exception as err:  # noqa: BLE001 — stopping: nothing to do about it but say so
        log.info("stopping a Kafka client: %s", type(err).__name__)


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
