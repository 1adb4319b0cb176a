"""`synsec replay --workers N`: parse and route in N processes, pour in this one (all cores busy).

Parsing and scenario filters are stateless per line, so worker processes run them on chunks of lines and
send back the parsed events with their bucket routes; this process pours them in input order, so the alerts
are exactly those of a single-process replay (the same split as the Kafka topology's parse/route and bucket
agents). An event crosses processes as the topology's `event` value (`synsec.wire`: the Avro event record,
every field of the event), so pour-time expressions (distinct, cancel_on, conditions...) see what they see
in one process.
"""

from __future__ import annotations

import multiprocessing as mp
from typing import Iterator

from synsec.assembly.build import EngineOptions, build_engine
from synsec.engine.model import Event, Line
from synsec.wire.codecs import Codecs
from synsec.wire.records import event_to_record, record_to_event
from synsec.wire.registry import LocalRegistry

__all__ = ["parallel_events", "merge_counts", "CHUNK"]

CHUNK = 2048
_engine = None
_codecs: Codecs | None = None


def _init(opts: EngineOptions) -> None:
    global _engine, _codecs
    _engine, _ = build_engine(opts)
    _codecs = Codecs(LocalRegistry())


def _work(job: tuple[list[tuple[str, str]], dict, float]) -> tuple[list, dict]:
    lines, labels, fallback = job
    engine, codecs = _engine, _codecs
    out = []
    for src, text in lines:
        evt = engine.parse(Line(text, src, labels), fallback)
        if evt is None:
            continue
        routes = engine.route(evt)
        if routes:
            out.append((codecs.encode("event", event_to_record(evt)), routes))
        else:
            out.append(evt.ts)      # still advances event time (timers fire as in one process)
    return out, engine.counts.take()     # this chunk's counts (parsing, routing errors), then zero again


def merge_counts(engine, counts: dict) -> None:
    """Add a chunk's counts (a worker process's `CounterSet.take()`) to `engine`, the one that pours."""
    engine.counts.add(counts)


def _rebuild(item, codecs: Codecs) -> tuple[Event | float, list]:
    if isinstance(item, float):
        return item, []
    data, routes = item
    return record_to_event(codecs.decode("event", data)), routes


def _chunks(lines: Iterator[tuple[str, str]], labels: dict, fallback: float):
    chunk = []
    for item in lines:
        chunk.append(item)
        if len(chunk) >= CHUNK:
            yield chunk, labels, fallback
            chunk = []
    if chunk:
        yield chunk, labels, fallback


def parallel_events(lines: Iterator[tuple[str, str]], labels: dict, opts: EngineOptions, workers: int,
                    fallback: float) -> Iterator[tuple[list, dict]]:
    """Yield, in input order, ([(event, routes)], chunk counts) computed by `workers` processes; add the
    counts to the pouring engine with `merge_counts`."""
    codecs = Codecs(LocalRegistry())
    ctx = mp.get_context("fork")
    with ctx.Pool(workers, initializer=_init, initargs=(opts,)) as pool:
        for out, counts in pool.imap(_work, _chunks(lines, labels, fallback), chunksize=1):
            yield [_rebuild(item, codecs) for item in out], counts
