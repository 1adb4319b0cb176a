"""Faust's aiokafka transport with four changes a synsec worker needs (measured in docs/kafka.md#speed).

- **Delivery without a task per message.** Faust 0.15's fetch loop hands every message to the streams through
  `Service.wait_first(deliver, suspend_flow)`, which creates four asyncio tasks per message: ~60 µs of a worker's
  ~100 µs per consumed message. `Consumer._drain_messages` below is that loop with one change: while the flow is
  open (no rebalance in progress, Faust's producer buffer not full) it awaits the delivery directly; otherwise it
  falls back to `wait_first` exactly as Faust does. Delivery then cannot block on a full stream buffer as long as
  `stream_buffer_maxsize` exceeds 5 × `broker_max_poll_records` (Faust pauses a partition's fetching at 80 %
  of the buffer), which `streams.app` guarantees.
- **True end offsets** (`verify_end_offsets`). tansu 0.6.0 answers ListOffsets(latest) with the last *batch's*
  base offset + 1, not the record count (canary: tests/streams/test_broker.py). Faust recovers a table by reading
  its changelog up to that figure, so after batched produces it stops early and loses bucket state. The fetch
  response's high watermark is right, so `true_end_offsets` fetches the last batch of each changelog partition
  and reads it. On Kafka this costs one fetch per partition at each rebalance and changes nothing.
- **Shorter fetch waits** (`fetch_max_wait_ms`). Faust asks the broker to hold an empty fetch for 1.5 s. Kafka
  answers it as soon as data arrives; tansu 0.6.0 answers only when the wait is over, so every hop of the
  topology waited 0.75 s on average (measured: a line's decision took 2 s at 5k lines/s, mostly waiting). On
  Kafka a short wait only means a few more empty fetches while idle.
- **Nothing fetched at the end of a recovery is lost.** Faust resumes the stream partitions, seeks them to their
  committed offsets, and only then resumes the flow, which empties the agents' buffers (`FlowControlEvent.resume`
  clears them). Messages fetched in between were dropped from the buffers while the fetch position had moved past
  them; aiokafka does not seek a partition with no committed offset (or offset 0), so they were never read again,
  and an agent that had taken part of them into a batch waited forever for the rest (measured: a worker restarted
  after a SIGKILL before any commit, on a loaded machine, 1 start in 4 processed nothing). `guard_flow_resume`:
  when a resume at the end of a recovery empties buffers that held messages, every stream partition is sought
  again to its committed offset (its first offset when there is none). What an agent had already taken is
  handled twice: the agents are idempotent on redelivery. The fetch loop seeks itself, before it hands over
  its next message (`Consumer.reseek_wanted`): the rest of the batch it is delivering was fetched before the
  seek and is skipped for the partitions sought (read again from where they are sought). Seeking from a task of
  its own let the loop deliver that rest after the seek, which moved the loop's read offset past the messages
  sought back to, and the loop then skipped them as delivered already: lines lost after a restart or a
  rebalance on a loaded machine (a leaky bucket that missed one overflowed later, with more events).
  A message acked twice (read again like this) is no longer left in Faust's unacked set, which made a stop wait.
  The loop also empties the agents' buffers again when it seeks: the message it was handing over when the flow
  resumed (Faust's delivery may wait, e.g. for its producer buffer) went in after the resume had emptied them,
  and an agent that took it before the dropped messages came again skipped those as taken already (the buckets
  agent's ledger keeps the newest offset taken, the routed records' origins the newest line: 8 raw lines once,
  14 and 23 buckets-in messages twice, in 24 hand-over runs on a starved CPU share). A message whose delivery
  finds the flow suspended (a recovery under way) waits for the flow before it is handed over, and is read
  again instead when that resume dropped buffered messages: handed over as Faust does (its put waits for the
  flow) it went into a buffer at the resume, and an agent could take it before the loop sought.
- **Batched sends.** `Producer.send_records` appends records to aiokafka batch builders and hands each batch to
  the accumulator in one call, instead of one `send` (and one Faust `FutureMessage`) per record. Faust's commit
  flushes this same producer before committing offsets, so records sent before a message is acked are durable
  before its offset is committed.
"""

from __future__ import annotations

import asyncio
from typing import Any, Mapping, Sequence

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as driver
from faust.types import TP

__all__ = ["Consumer", "ConsumerThread", "Producer", "transport_class", "true_end_offsets", "guard_flow_resume"]

Record = tuple[bytes | None, bytes | None]          # (key, value)


async def true_end_offsets(client_kwargs: Mapping[str, Any], ends: Mapping[TP, int],
                           timeout: float = 10.0) -> dict[TP, int]:
    """The real end offset of each partition whose ListOffsets answer was `ends[tp]` (> 0).

    Reads the high watermark of a fetch at `ends[tp] - 1`, which is inside the partition's last batch.
    """
    out = dict(ends)
    wanted = {TopicPartition(tp.topic, tp.partition): tp for tp, end in ends.items() if end > 0}
    if not wanted:
        return out
    consumer = AIOKafkaConsumer(**client_kwargs, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign(list(wanted))
        for atp, tp in wanted.items():
            consumer.seek(atp, ends[tp] - 1)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        pending = set(wanted)
        while pending and loop.time() < deadline:
            await consumer.getmany(*pending, timeout_ms=200)
            for atp in list(pending):
                high = consumer.highwater(atp)
                if high is not None:
                    out[wanted[atp]] = max(out[wanted[atp]], high)
                    pending.discard(atp)
    finally:
        await consumer.stop()
    return out


class ConsumerThread(driver.AIOKafkaConsumerThread):
    """Faust's aiokafka consumer thread, with the fetch wait of `fetch_max_wait_ms` instead of Faust's 1.5 s."""

    fetch_max_wait_ms = 1500

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = self.fetch_max_wait_ms      # read when the consumer starts its fetcher
        return consumer


class Consumer(driver.Consumer):
    """Faust's aiokafka consumer: direct delivery while the flow is open; optionally true end offsets."""

    #: aiokafka client kwargs (bootstrap servers, TLS, SASL) when end offsets must be verified; None: trust them
    end_offsets_client: Mapping[str, Any] | None = None
    reseek_wanted = False              # the fetch loop seeks the stream partitions again before its next message
    yield_every = 100                  # messages handed to the streams between two returns to the event loop
    thread_class: type[ConsumerThread] = ConsumerThread

    def _new_consumer_thread(self) -> ConsumerThread:
        return self.thread_class(self, loop=self.loop, beacon=self.beacon)

    async def reseek_streams(self) -> set[TP]:
        """Seek the assigned stream partitions to their committed offsets again (see `guard_flow_resume`); the
        partitions sought."""
        recovery = self.app.tables.recovery
        tps = [tp for tp in self.assignment() if not recovery._is_changelog_tp(tp)]
        committed = {tp: self._committed_offset.get(tp) for tp in tps}
        missing = [tp for tp, offset in committed.items() if not offset]
        first = await self.earliest_offsets(*missing) if missing else {}
        for tp in tps:
            await self.seek(tp, committed[tp] or first.get(tp) or 0)
        return set(tps)

    async def _reseek(self) -> set[TP]:
        """The seek `reseek_wanted` asks for, made by the fetch loop between two messages. The agents' buffers
        are emptied again first: a message the loop was handing over when the flow resumed went in after they
        were emptied, and taken before the messages dropped ahead of it it would hide them (see the module doc).
        With direct delivery no agent runs between that hand-over and this call (Faust's last step of a
        delivery is a put that does not wait); a delivery that finds the flow suspended waits for it before
        handing over, and comes here first when its resume asked for a seek."""
        self.reseek_wanted = False
        self.app.flow_control.clear()
        try:
            return await self.reseek_streams()
        except Exception as exc:  # noqa: BLE001 - the partitions moved meanwhile: the rebalance under way seeks them
            self.log.warning("seeking the stream partitions again failed (%r); left to the rebalance", exc)
            return set()

    def ack(self, message: Any) -> bool:
        acked = super().ack(message)
        if not acked:
            self._unacked_messages.discard(message)    # its offset was acked before (a message read twice)
        return acked

    async def highwaters(self, *partitions: TP) -> Mapping[TP, int]:
        ends = await super().highwaters(*partitions)
        if self.end_offsets_client is None:
            return ends
        return await true_end_offsets(self.end_offsets_client, ends)

    def _may_deliver_directly(self):
        """A function telling whether a delivery now cannot block (see the module docstring)."""
        app = self.app
        flow_suspended = app.flow_control._suspend.is_set     # FlowControlEvent.is_active() without the call
        suspend_flow = self.suspend_flow.is_set
        buffer = app.producer.buffer
        if app.conf.producer_threaded:
            return lambda: False
        pending, most = buffer.pending.qsize, buffer.max_messages   # ProducerBuffer.size, unthreaded

        def may() -> bool:
            return not flow_suspended() and not suspend_flow() and pending() <= most
        return may

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - exercised by every worker test
        # Faust 0.15.3 Consumer._drain_messages; only the delivery line and the seeks `reseek_wanted` asks for
        # differ (see the module docstring).
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag, unset_flag = self.diag.set_flag, self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        direct = self._may_deliver_directly()
        flow_control = self.app.flow_control
        yield_every, since_yield = self.yield_every, 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                if self.reseek_wanted:
                    await self._reseek()
                set_flag(CONSUMER_FETCHING)
                ait = getmany(timeout=1.0)
                await self.sleep(0)
                if self.should_stop:
                    continue
                sought: set = set()
                async for tp, message in ait:
                    if self.reseek_wanted:
                        sought = await self._reseek()       # the rest of this batch was fetched before the seek
                    if tp in sought:
                        continue                            # read again from where it was sought
                    since_yield += 1
                    if since_yield > yield_every:
                        await asyncio.sleep(0)
                        since_yield = 0
                    offset = message.offset
                    r_offset = get_read_offset(tp)
                    if r_offset is not None and offset < r_offset:
                        continue                                # already delivered (Faust drops it too)
                    if r_offset and offset - r_offset > 1 and acks_enabled_for(message.topic):
                        await self._add_gap(tp, r_offset + 1, offset)
                    if commit_every is not None and self._n_acked >= commit_every:
                        self._n_acked = 0
                        await self.commit()
                    if direct():
                        await callback(message)
                    else:
                        if not flow_control.is_active():    # a recovery: hand nothing over before it ends
                            await self.wait_first(flow_control.acquire(), self.suspend_flow.wait())
                            if self.reseek_wanted:          # its resume dropped buffered messages
                                sought = await self._reseek()
                                if tp in sought:
                                    continue
                        await self.wait_first(callback(message), self.suspend_flow.wait())
                    set_read_offset(tp, offset)
                unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)


class Producer(driver.Producer):
    """Faust's aiokafka producer, plus `send_records`: whole batches per partition."""

    async def send_records(self, topic: str, partition: int,
                           records: Sequence[Record]) -> list[asyncio.Future]:
        """Queue `records` for `topic`/`partition` in as few batches as fit; futures resolve on the broker's ack."""
        producer = self._ensure_producer()
        futures = []
        batch = producer.create_batch()
        for key, value in records:
            if batch.append(key=key, value=value, timestamp=None) is None:
                batch.close()
                futures.append(await producer.send_batch(batch, topic, partition=partition))
                batch = producer.create_batch()
                if batch.append(key=key, value=value, timestamp=None) is None:
                    raise ValueError(f"{topic}[{partition}]: a record of {len(value or b'')} bytes is larger than "
                                     f"producer_max_batch_size")
        if batch.record_count():
            batch.close()
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        return futures


def guard_flow_resume(app: Any) -> None:
    """Read again what `app.flow_control.resume()` drops from the agents' buffers at the end of a recovery."""
    flow = app.flow_control
    resume = flow.resume

    def guarded_resume() -> None:
        dropped = sum(queue.qsize() for queue in list(flow._queues))
        resume()                                              # empties the buffers
        if dropped and app.tables.recovery.completed.is_set() and isinstance(app.consumer, Consumer):
            app.consumer.log.info("%d buffered message(s) dropped when the flow resumed: reading them again",
                                  dropped)
            app.consumer.reseek_wanted = True          # the fetch loop seeks before its next message

    flow.resume = guarded_resume


def transport_class(end_offsets_client: Mapping[str, Any] | None,
                    fetch_max_wait_ms: int = 1500) -> type[driver.Transport]:
    """A Faust transport class using our Consumer and Producer (`end_offsets_client`: see Consumer)."""
    thread = type("ConsumerThread", (ConsumerThread,), {"fetch_max_wait_ms": fetch_max_wait_ms})
    consumer = type("Consumer", (Consumer,), {"end_offsets_client": end_offsets_client, "thread_class": thread})
    return type("Transport", (driver.Transport,), {"Consumer": consumer, "Producer": Producer})
