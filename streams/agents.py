"""The worker's agents: thin loops that decode, call the engine, send, count (CrowdSec cmd/crowdsec/parse.go).

    synsec.raw ──parse──► synsec.events ──route──► synsec.buckets-in ──buckets──► synsec.alerts ──profiles──►
    synsec.decisions ──expiry (tombstones when a decision's time is over)

With `route: {inline: true}` in the topology (the shipped ones), parse also routes its events to
synsec.buckets-in and no route agent runs: one hop and one Avro decode less per line.

Every agent works on batches (`streams.batching.work`): it reads what is buffered, calls the engine per
message, sends the batch's output one producer batch per partition, and acks the batch after. Every agent reads raw
bytes and decodes itself; a message it cannot decode goes to synsec.deadletter with its topic, partition,
offset and the error, and the agent goes on. Business rules stay in the engine.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import faust
from faust.types import TP

from streams.batching import Outbox, as_current, work
from streams.bucketstore import PartitionStore, partition_for
from streams.ordering import LOGS, OVERFLOWS, Held, Reorder
from streams.raw import raw_to_line, shapes_with
from synsec.wire.codecs import DecodeError, bucket_in_content
from synsec.wire.records import (DeadLetter, alert_to_record, bucket_in_origin, dead_letter_to_record, decision_key,
                             decision_to_record, event_to_record, record_to_alert, record_to_bucket_in,
                             record_to_decision, record_to_event)
from streams.routing import IDLE_LINE, MARKER, OVERFLOWS_LINE, Router, marker_value
from synsec.engine.buckets import BucketManager
from synsec.engine.model import OVFLW
from synsec.assembly.build import split_engine
from synsec.engine.decisions import is_over, taken
from synsec.engine.pipeline import Output
from synsec.engine.ties import tie_key
from topologies import EXPIRY_TABLE, TABLES

__all__ = ["install", "MARKER"]


def dead_letter(shell, out: Outbox, agent: str, message: Any, error: Exception) -> None:
    """Add an undecodable message to synsec.deadletter, with where it came from and why."""
    shell.count(f"{agent}.deadletter")
    dl = DeadLetter(topic=message.topic, partition=message.partition, offset=message.offset, key=message.key,
                    value=message.value, error=f"{type(error).__name__}: {error}",
                    timestamp=int((message.timestamp or 0) * 1000), agent=agent)
    spec = shell.topology.topics["deadletter"]
    out.add(spec.name, _partition(message.key, message.partition, spec.partitions), message.key,
            shell.codecs.encode("dead_letter", dead_letter_to_record(dl)))


def _partition(key: bytes | None, source: int, partitions: int) -> int:
    """Kafka's partition for a key; an unkeyed record stays on its source partition's number."""
    return partition_for(key, partitions) if key is not None else source % partitions


def _work(app: faust.App, shell, stream):
    return work(stream, app.producer, shell.settings.batch_max, shell.settings.batch_interval)


def install(app: faust.App, shell) -> None:
    """Attach the agents named in `shell.settings.agents` that the topology runs (expiry: always) to `app`."""
    for name in shell.settings.agents:
        if name == "expiry" or shell.topology.runs(name):
            _INSTALLERS[name](app, shell)


def _source_timer(app: faust.App, shell, router: Router, topic: str) -> None:
    @app.timer(interval=1.0, on_leader=False)
    async def idle_markers():
        """Partitions of the routed topic read to their end and quiet for a while follow this worker's event time."""
        out = Outbox()
        buckets = getattr(shell, "buckets_state", None)
        router.saw(buckets.seen if buckets is not None else -math.inf)
        consumer = app.consumer
        ends = {tp.partition: _end(consumer, tp) for tp in (consumer.assignment() if consumer else ())
                if tp.topic == topic}
        router.idle_markers(out, ends)
        await out.send(app.producer)


def _end(consumer, tp) -> int | None:
    """The partition's end offset as of the last fetch (None when not fetched yet)."""
    try:
        return consumer.highwater(tp)
    except Exception:  # noqa: BLE001 - not assigned (any more): not idle
        return None


# --- parse: synsec.raw -> synsec.events (+ routing to synsec.buckets-in when the topology says so) --------
def _install_parse(app: faust.App, shell) -> None:
    raw, engine, codecs, count = shell.topology.raw, shell.engine, shell.codecs, shell.count
    events = shell.topology.topics["events"]
    router = None
    if shell.parse_routes:
        router = Router(shell, shell.settings.marker_interval, shell.settings.idle_advance_s,
                        origins=shell.concurrency("parse") == 1)
        _source_timer(app, shell, router, shell.topology.topics["raw"].name)

    @app.agent(shell.topics["raw"], name="parse", concurrency=shell.concurrency("parse"))
    async def parse(stream):
        async for _stream, batch, out in _work(app, shell, stream):
            for event in batch:
                msg = event.message
                if router is not None:
                    router.handled(msg.partition, msg.offset)
                engine.counts.inc("bytes", msg.topic, n=len(msg.value or b""))
                if msg.value is not None and len(msg.value) > raw.max_line_bytes:
                    engine.counts.inc("too_long")
                    continue
                try:
                    line = raw_to_line(msg.value, raw.labels, shapes_with(raw.line_field, raw.labels_field),
                                       src=msg.topic)
                except DecodeError as err:
                    dead_letter(shell, out, "parse", msg, err)
                    continue
                evt = engine.parse(line, fallback_ts=msg.timestamp or 0.0)
                if evt is None:
                    count("parse.unparsed")
                    continue
                count("parse.parsed")
                data = codecs.encode("event", event_to_record(evt))
                out.add(events.name, _partition(msg.key, msg.partition, events.partitions), msg.key, data)
                if router is not None:
                    count("route.routed", router.route(evt, data, out, msg.partition, msg.offset))
            count("parse.lines", len(batch))
            count("parse.batches")
            if router is not None:
                router.markers(out)


# --- route: synsec.events -> synsec.buckets-in (+ event-time markers) -------------------------------------
def _install_route(app: faust.App, shell) -> None:
    router = Router(shell, shell.settings.marker_interval, shell.settings.idle_advance_s,
                    origins=shell.concurrency("route") == 1)
    codecs = shell.codecs
    _source_timer(app, shell, router, shell.topology.topics["events"].name)

    @app.agent(shell.topics["events"], name="route", concurrency=shell.concurrency("route"))
    async def route(stream):
        async for _stream, batch, out in _work(app, shell, stream):
            for event in batch:
                msg = event.message
                router.handled(msg.partition, msg.offset)
                try:
                    evt = record_to_event(codecs.decode("event", msg.value))
                except DecodeError as err:
                    dead_letter(shell, out, "route", msg, err)
                    continue
                if evt.Type == OVFLW:
                    shell.count("route.overflows")     # routed by the buckets agent that made it (streams.ordering)
                    continue
                shell.count("route.routed", router.route(evt, msg.value, out, msg.partition, msg.offset))
            shell.count("route.batches")
            router.markers(out)


# --- buckets: synsec.buckets-in -> synsec.alerts (+ reprocess overflows routed again) -------------------
class _Partition:
    """One buckets-in partition's engine: its manager over the table view, and its event-time order
    (streams.ordering), both rebuilt from the table."""

    def __init__(self, shell, partition: int, overflow_sources: int, end: float = math.inf):
        """`end`: the partition's end offset now (PartitionStore.end_at_load; inf when unknown)."""
        eng = shell.engine
        self.partition = partition
        self.overflows_marked = -math.inf     # the last overflow marker this partition sent
        self.store = PartitionStore(shell.table, partition, shell.buckets_partitions, shell.table.value_serializer,
                                    end)
        manager = BucketManager(shell.content.scenarios, store=self.store)
        self.engine = split_engine(eng, manager)
        state = self.store.ledger.order
        held = []
        for offset, value in self.store.held():
            rec = shell.codecs.decode("bucket_in", value)
            held.append(_held(record_to_bucket_in(rec), value, bucket_in_origin(rec), offset))
        self.order = Reorder(shell.marker_sources, shell.settings.hold_max, state.get("watermarks"),
                             state.get("threshold", -math.inf), state.get("newest", -math.inf), held,
                             state.get("idle", ()), shell.settings.idle_advance_s, overflow_sources,
                             state.get("overflow_marks"), state.get("overflow_threshold", -math.inf))


def _fetched_end(shell, msg) -> float:
    """The end offset of `msg`'s partition as of the fetch that brought it (inf when there is no consumer)."""
    consumer = getattr(getattr(shell, "app", None), "consumer", None)
    end = _end(consumer, TP(msg.topic, msg.partition)) if consumer is not None else None
    return math.inf if end is None else max(end, msg.offset + 1)


def _held(item: tuple[str, str, Any], value: bytes, origin: tuple[int, int, int] | None, offset: int) -> Held:
    """A routed record `(scenario, key, event)` as `Reorder` holds it: by time, tie key, content."""
    evt = item[2]
    return Held(evt.ts, OVERFLOWS if evt.Type == OVFLW else LOGS, tie_key(evt), bucket_in_content(value, origin),
                offset, item)


class _Buckets:
    """The buckets agent's state: an engine per buckets-in partition, and where its output goes."""

    def __init__(self, shell):
        self.shell = shell
        self.partitions: dict[int, _Partition] = {}
        self.alerts = shell.topology.topics["alerts"]
        self.events = shell.topology.topics["events"]
        self.router = Router(shell)          # reprocess overflows are routed here (streams.ordering)
        # the partitions that may send reprocessed overflows: every one, if a scenario reprocesses
        self.overflow_sources = shell.buckets_partitions if any(
            spec.reprocess for spec in shell.content.scenarios) else 0
        self.seen = -math.inf          # newest event time of a record or a source's marker taken (streams.routing)

    def drop_partitions(self) -> None:
        """Forget the partitions' engines (rebuilt from the table on next use; their counts are the shell's)."""
        self.partitions.clear()

    def held(self) -> int:
        """Records held for event-time order on this worker's partitions (a gauge)."""
        return sum(len(part.order) for part in list(self.partitions.values()))

    def take(self, event, out: Outbox) -> _Partition | None:
        """Decode one buckets-in message; hold it for event-time order (or pour it, if late), or take its
        marker; pour what that releases. None if it was not used."""
        shell, msg = self.shell, event.message
        try:
            rec = shell.codecs.decode("bucket_in", msg.value)
            scenario, key, evt = record_to_bucket_in(rec)
        except DecodeError as err:
            dead_letter(shell, out, "buckets", msg, err)
            return None
        part = self.partitions.get(msg.partition)
        if part is None:
            part = self.partitions[msg.partition] = _Partition(shell, msg.partition, self.overflow_sources,
                                                               _fetched_end(shell, msg))
        store, order = part.store, part.order
        if msg.offset <= store.ledger.offset:
            shell.count("buckets.redelivered")       # taken before a crash: not twice
            return part
        store.offset = msg.offset
        origin = bucket_in_origin(rec)
        if self.seen < evt.ts < math.inf and not (scenario == MARKER and evt.Line.Raw == OVERFLOWS_LINE):
            self.seen = evt.ts
        if scenario == MARKER:
            if evt.Line.Raw == OVERFLOWS_LINE:
                order.mark_overflows(int(key or 0), evt.ts)
            else:
                order.mark(int(key or 0), evt.ts, evt.Line.Raw == IDLE_LINE, time.monotonic())
            store.took(msg.offset)
        elif origin is not None and store.seen(origin):
            shell.count("buckets.rerouted")          # its source was read again after a crash: not twice
            store.took(msg.offset)
        elif scenario not in part.engine.buckets.specs:
            dead_letter(shell, out, "buckets", msg, KeyError(f"unknown scenario {scenario!r}"))
            store.took(msg.offset)
        else:
            store.took(msg.offset, origin)
            held = _held((scenario, key, evt), msg.value, origin, msg.offset)
            if order.take(held):
                store.hold(msg.offset, msg.value)
            else:
                shell.count("buckets.late")          # behind what was released: poured now, out of order
                store.unhold(msg.offset)             # an earlier owner may have held it (PartitionStore.end_at_load)
                self.pour(part, held, out)
        self.release(part, out)
        return part

    def release(self, part: _Partition, out: Outbox) -> None:
        """Pour what the partition's order releases, then fire its timers up to where it has got."""
        released = part.order.release(time.monotonic())
        if part.order.forced:
            self.shell.count("buckets.forced", part.order.forced)
        for held in released:
            part.store.unhold(held.offset)
            self.pour(part, held, out)
        self.emit(part.engine.advance(part.order.watermark()), out)

    def mark_overflows(self, part: _Partition, out: Outbox) -> None:
        """After a batch, when a scenario reprocesses: tell every partition how far this one has poured, behind
        the overflow events that made (streams.ordering)."""
        ts = part.order.threshold
        if self.overflow_sources and ts > part.overflows_marked:
            value = marker_value(self.shell.codecs, part.partition, ts, OVERFLOWS_LINE)
            spec = self.shell.topology.topics["buckets-in"]
            for p in range(spec.partitions):
                out.add(spec.name, p, None, value)
            part.overflows_marked = ts

    def pour(self, part: _Partition, held: Held, out: Outbox) -> None:
        scenario, key, evt = held.item
        if part.store.applied((scenario, key), part.store.offset):
            self.shell.count("buckets.repeated")     # poured before a crash, by the same message: not twice
            return
        self.shell.count("buckets.poured")
        self.emit(part.engine.pour(evt, [(scenario, key)], moves_time=False), out)

    def emit(self, result: Output, out: Outbox) -> None:
        codecs = self.shell.codecs
        for alert in result.alerts:
            self.shell.count("buckets.alerts")
            key = f"{alert.Source.Scope}:{alert.Source.Value}".encode()
            out.add(self.alerts.name, partition_for(key, self.alerts.partitions), key,
                    codecs.encode("alert", alert_to_record(alert)))
        for evt in result.reprocess:
            data = codecs.encode("event", event_to_record(evt))
            out.add(self.events.name, 0, None, data)
            self.router.route(evt, data, out)


def _install_buckets(app: faust.App, shell) -> None:
    state = shell.buckets_state = _Buckets(shell)   # its partitions' engines: read by the worker's /metrics

    @app.on_partitions_revoked.connect
    async def _revoked(app_, revoked, **kwargs) -> None:
        state.drop_partitions()           # rebuilt from the table (recovered from its changelog) on next use

    @app.agent(shell.topics["buckets-in"], name="buckets", concurrency=1)
    async def buckets(stream):
        async for stream_, batch, out in _work(app, shell, stream):
            shell.count("buckets.batches")
            touched: dict[int, tuple[_Partition, Any]] = {}
            for event in batch:
                part = state.take(event, out)
                if part is not None:
                    touched[event.message.partition] = (part, event)
            for part, _event in touched.values():
                state.mark_overflows(part, out)
            if out.records:
                await asyncio.gather(*await out.send(app.producer))  # acked before the bucket state moves on
            for part, event in touched.values():
                as_current(stream_, event)                         # its partition's store
                part.store.commit(out, part.order.state())         # the changelog goes out with the batch


# --- profiles: synsec.alerts -> synsec.decisions ----------------------------------------------------------
def _install_profiles(app: faust.App, shell) -> None:
    decisions = shell.topology.topics["decisions"]

    @app.agent(shell.topics["alerts"], name="profiles", concurrency=shell.concurrency("profiles"))
    async def profiles(stream):
        async for _stream, batch, out in _work(app, shell, stream):
            for event in batch:
                msg = event.message
                try:
                    alert = record_to_alert(shell.codecs.decode("alert", msg.value))
                except DecodeError as err:
                    dead_letter(shell, out, "profiles", msg, err)
                    continue
                now = time.time()
                made = shell.engine.decide(alert)
                for d in made:
                    d = taken(d, now)              # as CrowdSec's LAPI: a decision runs from when it is taken
                    shell.count("profiles.decisions")
                    key = decision_key(d)
                    out.add(decisions.name, partition_for(key, decisions.partitions), key,
                            shell.codecs.encode("decision", decision_to_record(d)))


# --- expiry: tombstones on synsec.decisions when a decision's time is over ------------------------------
def _install_expiry(app: faust.App, shell) -> None:
    decisions = shell.topics["decisions"]
    active = app.Table(EXPIRY_TABLE, default=None, key_type=bytes, value_type=float,
                       partitions=shell.topology.topics[TABLES[EXPIRY_TABLE]].partitions)
    due: dict[bytes, float] = {}

    @app.agent(decisions, name="expiry", concurrency=1)
    async def expiry(stream):
        async for event in stream.events():
            msg = event.message
            if msg.key is None:
                continue
            if msg.value is None:                      # tombstone: deleted or expired
                active.pop(msg.key, None)
                due.pop(msg.key, None)
                continue
            try:
                d = record_to_decision(shell.codecs.decode("decision", msg.value))
            except DecodeError as err:
                out = Outbox()
                dead_letter(shell, out, "expiry", msg, err)
                await out.send(app.producer)
                continue
            active[msg.key] = d.until
            due[msg.key] = d.until

    @app.timer(interval=1.0, on_leader=False)
    async def expire():
        if not due and len(active):
            due.update(active.items())                 # after a restart: the table was recovered
        now = time.time()
        for key, until in list(due.items()):
            if is_over(until, now):
                del due[key]
                shell.count("expiry.tombstones")
                await decisions.send(key=key, value=None)


_INSTALLERS = {"parse": _install_parse, "route": _install_route, "buckets": _install_buckets,
               "profiles": _install_profiles, "expiry": _install_expiry}

