"""The worker's agents: thin loops that decode, call the engine, send, count (CrowdSec cmd/crowdsec/parse.go).

    synsec.raw ──parse──► synsec.events ──route──► synsec.buckets-in ──buckets──► synsec.alerts ──profiles──►
    synsec.decisions ──expiry (tombstones when a decision's time is over)

Every agent reads raw bytes and decodes itself; a message it cannot decode goes to synsec.deadletter with its
topic, partition, offset and the error, and the agent goes on. Business rules stay in the engine.
"""

from __future__ import annotations

import time
from typing import Any

import faust

from streams.bucketstore import PartitionStore, Watermarks, partition_for, table_key
from streams.codecs import DecodeError
from streams.raw import raw_to_line
from streams.records import (DeadLetter, alert_to_record, bucket_in_to_record, dead_letter_to_record,
                             decision_key, decision_to_record, event_to_record, record_to_alert,
                             record_to_bucket_in, record_to_decision, record_to_event)
from synsec.engine.buckets import BucketManager
from synsec.engine.model import Event, Line
from synsec.engine.pipeline import Engine, Output

__all__ = ["install", "MARKER"]

MARKER = ""     # the scenario of a watermark marker on synsec.buckets-in (its key: the events partition)


async def dead_letter(shell, agent: str, message: Any, error: Exception) -> None:
    """Send an undecodable message to synsec.deadletter, with where it came from and why."""
    shell.count(f"{agent}.deadletter")
    dl = DeadLetter(topic=message.topic, partition=message.partition, offset=message.offset, key=message.key,
                    value=message.value, error=f"{type(error).__name__}: {error}",
                    timestamp=int((message.timestamp or 0) * 1000), agent=agent)
    await shell.topics["deadletter"].send(key=message.key,
                                          value=shell.codecs.encode("dead_letter", dead_letter_to_record(dl)))


def install(app: faust.App, shell) -> None:
    """Attach the agents named in `shell.settings.agents` to `app`."""
    for name in shell.settings.agents:
        _INSTALLERS[name](app, shell)


# --- parse: synsec.raw -> synsec.events -------------------------------------------------------------------
def _install_parse(app: faust.App, shell) -> None:
    raw = shell.topology.raw
    events = shell.topics["events"]
    engine = shell.engine

    @app.agent(shell.topics["raw"], name="parse", concurrency=shell.topology.agents["parse"].concurrency)
    async def parse(stream):
        async for event in stream.events():
            msg = event.message
            shell.count("parse.lines")
            if msg.value is not None and len(msg.value) > raw.max_line_bytes:
                shell.count("parse.too_long")
                continue
            try:
                line = raw_to_line(msg.value, raw.labels, src=msg.topic)
            except DecodeError as err:
                await dead_letter(shell, "parse", msg, err)
                continue
            evt = engine.parse_line(line, fallback_ts=msg.timestamp or 0.0)
            if evt is None:
                shell.count("parse.unparsed")
                continue
            shell.count("parse.parsed")
            await events.send(key=msg.key, value=shell.codecs.encode("event", event_to_record(evt)))


# --- route: synsec.events -> synsec.buckets-in (+ watermark markers) -------------------------------------
def _install_route(app: faust.App, shell) -> None:
    out = shell.topics["buckets-in"]
    n_out = shell.buckets_partitions
    interval = shell.settings.watermark_interval
    manager = shell.engine.buckets
    last_marker: dict[int, float] = {}
    last_seen: dict[int, float] = {}          # events partition -> wall time of its last event
    state = {"max_ts": 0.0}

    async def markers(source: int, ts: float) -> None:
        value = shell.codecs.encode("bucket_in", bucket_in_to_record(MARKER, str(source), _marker_event(ts)))
        for p in range(n_out):
            await out.send(key=None, value=value, partition=p)
        last_marker[source] = ts

    @app.agent(shell.topics["events"], name="route", concurrency=shell.topology.agents["route"].concurrency)
    async def route(stream):
        async for event in stream.events():
            msg = event.message
            try:
                evt = record_to_event(shell.codecs.decode("event", msg.value))
            except DecodeError as err:
                await dead_letter(shell, "route", msg, err)
                continue
            for scenario, key in manager.route(evt):
                k = table_key(scenario, key)
                shell.count("route.routed")
                await out.send(key=k, value=shell.codecs.encode("bucket_in", bucket_in_to_record(scenario, key, evt)),
                               partition=partition_for(k, n_out))
            last_seen[msg.partition] = time.monotonic()
            if evt.ts > state["max_ts"]:
                state["max_ts"] = evt.ts
            if evt.ts - last_marker.get(msg.partition, float("-inf")) >= interval:
                await markers(msg.partition, evt.ts)

    @app.timer(interval=1.0, on_leader=False)
    async def idle_markers():
        """Partitions of synsec.events with no event for a while follow this worker's event time."""
        if not state["max_ts"]:
            return
        idle = shell.settings.idle_advance_s
        now = time.monotonic()
        for tp in app.consumer.assignment() if app.consumer else ():
            if tp.topic != shell.topics["events"].get_topic_name():
                continue
            if now - last_seen.get(tp.partition, 0.0) >= idle and \
                    last_marker.get(tp.partition, float("-inf")) < state["max_ts"]:
                await markers(tp.partition, state["max_ts"])


def _marker_event(ts: float) -> Event:
    evt = Event(Line(""))
    evt.ts = ts
    return evt


# --- buckets: synsec.buckets-in -> synsec.alerts (+ reprocess overflows back to synsec.events) ----------
class _Partition:
    """One buckets-in partition's engine: its manager over the table view, and its watermark."""

    def __init__(self, shell, partition: int):
        eng = shell.engine
        self.store = PartitionStore(shell.table, partition, shell.buckets_partitions, shell.table.value_serializer)
        manager = BucketManager(shell.content.scenarios, store=self.store)
        self.engine = Engine(eng.parsers, manager, eng.postoverflows, eng.profiles, eng.ctx, split=True)
        self.watermarks = Watermarks(shell.events_partitions)


def _install_buckets(app: faust.App, shell) -> None:
    partitions: dict[int, _Partition] = {}

    @app.on_partitions_revoked.connect
    async def _revoked(app_, revoked, **kwargs) -> None:
        partitions.clear()          # rebuilt from the table (recovered from its changelog) on next use

    async def emit(out: Output) -> None:
        for alert in out.alerts:
            shell.count("buckets.alerts")
            fut = await shell.topics["alerts"].send(key=f"{alert.Source.Scope}:{alert.Source.Value}".encode(),
                                                    value=shell.codecs.encode("alert", alert_to_record(alert)))
            await fut                                   # acked before the bucket state moves on
        for evt in out.reprocess:
            fut = await shell.topics["events"].send(key=None, value=shell.codecs.encode("event", event_to_record(evt)))
            await fut

    @app.agent(shell.topics["buckets-in"], name="buckets", concurrency=1)
    async def buckets(stream):
        async for event in stream.events():
            msg = event.message
            try:
                scenario, key, evt = record_to_bucket_in(shell.codecs.decode("bucket_in", msg.value))
            except DecodeError as err:
                await dead_letter(shell, "buckets", msg, err)
                continue
            part = partitions.get(msg.partition)
            if part is None:
                part = partitions[msg.partition] = _Partition(shell, msg.partition)
            part.store.offset = msg.offset
            if scenario == MARKER:
                mark = part.watermarks.update(int(key or 0), evt.ts)
                out = part.engine.advance(mark) if mark > part.engine.buckets.watermark else Output()
            elif part.store.applied((scenario, key), msg.offset):
                shell.count("buckets.redelivered")       # poured before a crash: not twice
                continue
            elif scenario not in part.engine.buckets.specs:
                await dead_letter(shell, "buckets", msg, KeyError(f"unknown scenario {scenario!r}"))
                continue
            else:
                shell.count("buckets.poured")
                out = part.engine.pour_bucket(scenario, key, evt)
            await emit(out)
            part.store.commit()


# --- profiles: synsec.alerts -> synsec.decisions ----------------------------------------------------------
def _install_profiles(app: faust.App, shell) -> None:
    decisions = shell.topics["decisions"]

    @app.agent(shell.topics["alerts"], name="profiles", concurrency=shell.topology.agents["profiles"].concurrency)
    async def profiles(stream):
        async for event in stream.events():
            msg = event.message
            try:
                alert = record_to_alert(shell.codecs.decode("alert", msg.value))
            except DecodeError as err:
                await dead_letter(shell, "profiles", msg, err)
                continue
            now = time.time()
            for d in shell.engine.decide(alert):
                d.until = now + d.duration     # as CrowdSec's LAPI: a decision runs from when it is taken
                shell.count("profiles.decisions")
                await decisions.send(key=decision_key(d), value=shell.codecs.encode("decision", decision_to_record(d)))


# --- expiry: tombstones on synsec.decisions when a decision's time is over ------------------------------
def _install_expiry(app: faust.App, shell) -> None:
    decisions = shell.topics["decisions"]
    active = app.Table("decisions-until", default=None, key_type=bytes, value_type=float,
                       partitions=shell.topology.topics["decisions"].partitions)
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
                await dead_letter(shell, "expiry", msg, err)
                continue
            active[msg.key] = d.until
            due[msg.key] = d.until

    @app.timer(interval=1.0, on_leader=False)
    async def expire():
        if not due and len(active):
            due.update(active.items())                 # after a restart: the table was recovered
        now = time.time()
        for key, until in list(due.items()):
            if until <= now:
                del due[key]
                shell.count("expiry.tombstones")
                await decisions.send(key=key, value=None)


_INSTALLERS = {"parse": _install_parse, "route": _install_route, "buckets": _install_buckets,
               "profiles": _install_profiles, "expiry": _install_expiry}
