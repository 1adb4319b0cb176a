"""Batches for the agents: read what is buffered, send per partition, ack only after sending.

An agent iterates `work(stream, producer, limit, interval)`: each batch is every event already waiting in the
stream's buffer (up to `limit`), so a busy agent works on hundreds of messages at a time and an idle one on
each as it comes. The agent calls the engine per message and collects its output in the batch's `Outbox`
(records grouped per topic partition, in order); when it asks for the next batch, `work` sends the outbox
(one producer batch per partition) and only then acks the batch's events. Faust commits an offset only once
its message is acked, and flushes the producer before committing: a crash before the send repeats the batch
(at-least-once) and never loses its output.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any, AsyncIterator

from faust.types import EventT

__all__ = ["batches", "work", "Outbox", "ack_all", "as_current"]


async def batches(stream: Any, limit: int, interval: float = 0.0) -> AsyncIterator[list[EventT]]:
    """The events of `stream` in lists: whatever is buffered now, at most `limit`; never waits to fill one.
    After a batch that was not full, the next starts `interval` seconds after it at the earliest, so that
    a trickle of messages makes a few batches a second rather than one per fetch."""
    queue = stream.channel.queue
    batch: list[EventT] = []
    loop = asyncio.get_running_loop()
    async for event in stream.events():
        batch.append(event)
        if len(batch) >= limit or queue.empty():
            started = loop.time()
            full = len(batch) >= limit
            yield batch
            batch = []
            if interval and not full:
                await asyncio.sleep(started + interval - loop.time())


async def work(stream: Any, producer: Any, limit: int,
               interval: float = 0.0) -> AsyncIterator[tuple[Any, list[EventT], "Outbox"]]:
    """`(stream, batch, outbox)` for each batch of an agent's stream (made `noack`); once the agent is done
    with a batch, its outbox is sent and then the batch is acked."""
    stream = stream.noack()
    async for batch in batches(stream, limit, interval):
        out = Outbox()
        yield stream, batch, out
        await out.send(producer)
        await ack_all(stream, batch)


async def ack_all(stream: Any, batch: list[EventT]) -> None:
    """Ack every event of `batch` on `stream` (a `noack()` stream): their offsets may now be committed."""
    for event in batch:
        await stream.ack(event)


def as_current(stream: Any, event: EventT) -> None:
    """Make `event` Faust's current event: a table write goes to the changelog partition of its message."""
    stream._set_current_event(event)


class Outbox:
    """Records to send, per (topic, partition), in the order they were added."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, int], list[tuple[bytes | None, bytes | None]]] = defaultdict(list)

    def add(self, topic: str, partition: int, key: bytes | None, value: bytes | None) -> None:
        self.records[(topic, partition)].append((key, value))

    async def send(self, producer: Any) -> list[asyncio.Future]:
        """Hand every record to `producer` (streams.transport.Producer); the futures resolve on the broker's ack."""
        futures: list[asyncio.Future] = []
        for (topic, partition), records in self.records.items():
            futures += await producer.send_records(topic, partition, records)
        self.records.clear()
        return futures
