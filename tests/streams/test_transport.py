"""The worker's fetch loop (streams.transport.Consumer._drain_messages) without a broker: what it hands to the
streams when `guard_flow_resume` asks for the stream partitions to be read again at the end of a recovery."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace

from faust.types import TP

from mode.utils.queues import FlowControlEvent, FlowControlQueue

from streams.transport import Consumer, guard_flow_resume

TOPIC = TP("synsec.raw", 0)


class _Loop(Consumer):
    """A Consumer over one partition of 30 messages, fetched 10 at a time from a position that seeks move, as
    aiokafka's; Faust's seek and the worker's fetch loop and reseek are the real ones."""

    should_stop = False
    consumer_stopped_errors = ()
    yield_every = 100
    log = SimpleNamespace(info=lambda *a, **k: None, dev=lambda *a, **k: None, warning=lambda *a, **k: None)

    def __init__(self, app, on_message):
        self.app = app
        self.callback = on_message
        self.position = 0
        self.end = 30
        self._stopped = asyncio.Event()
        self.fetcher = SimpleNamespace(_stopped=asyncio.Event())
        self._read_offset = defaultdict(lambda: None)
        self._committed_offset = {}
        self._commit_every = None
        self._n_acked = 0
        self.diag = SimpleNamespace(set_flag=lambda flag: None, unset_flag=lambda flag: None)

    def _may_deliver_directly(self):
        return lambda: True

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def assignment(self):
        return {TOPIC}

    async def earliest_offsets(self, *tps):
        return {tp: 0 for tp in tps}

    async def _seek(self, tp, offset: int) -> None:
        self.position = offset

    async def getmany(self, timeout: float):
        if self.position >= self.end:
            self.fetcher._stopped.set()                    # everything read: the loop ends
            return
        batch = list(range(self.position, min(self.position + 10, self.end)))
        self.position = batch[-1] + 1                      # fetched: the position moves past them
        for offset in batch:
            yield TOPIC, SimpleNamespace(topic=TOPIC.topic, partition=0, offset=offset)


def _app(flow) -> SimpleNamespace:
    """A worker's app as the fetch loop sees it (a recovery completed), its flow's resume guarded."""
    app = SimpleNamespace(flow_control=flow, topics=SimpleNamespace(acks_enabled_for=lambda topic: True),
                          tables=SimpleNamespace(recovery=SimpleNamespace(
                              completed=SimpleNamespace(is_set=lambda: True), _is_changelog_tp=lambda tp: False)))
    guard_flow_resume(app)
    return app


async def _drain(loop: _Loop, agent, queue: asyncio.Queue) -> None:
    """The fetch loop run to its end beside the `agent` task, then until the agent emptied its `queue`."""
    worker = asyncio.ensure_future(agent())
    await asyncio.wait_for(loop._drain_messages(loop.fetcher), timeout=10)
    while queue.qsize():
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    worker.cancel()


def test_messages_dropped_when_the_flow_resumes_are_read_again_even_mid_batch():
    """Regression (issue 11, lines lost after a restart or a rebalance on a loaded machine): the flow resumes
    at the end of a recovery, dropping buffered messages, while the fetch loop is half way through a batch;
    every message from the committed offset on is handed to the streams again after that resume (the rest of
    the batch, fetched before the seek, used to move the read offset past them, and they were skipped)."""
    queue = asyncio.Queue()
    queue.put_nowait("buffered")                           # a message the resume drops from an agent's buffer
    flow = SimpleNamespace(_queues=[queue], resume=lambda: queue.get_nowait(), clear=lambda: queue._queue.clear())
    app = _app(flow)
    delivered: list[int] = []
    resumed_at: list[int] = []

    async def on_message(message) -> None:
        delivered.append(message.offset)
        if message.offset == 4 and not resumed_at:
            resumed_at.append(len(delivered))
            app.flow_control.resume()                      # the end of a recovery, as Faust resumes the flow
        await asyncio.sleep(0)

    async def run() -> None:
        app.consumer = loop = _Loop(app, on_message)
        await asyncio.wait_for(loop._drain_messages(loop.fetcher), timeout=10)

    asyncio.run(run())
    assert resumed_at
    assert sorted(set(delivered[resumed_at[0]:])) == list(range(30)), delivered


def test_a_message_in_flight_when_the_flow_resumes_does_not_reach_an_agent_before_those_dropped():
    """Regression (issue 11: records lost after a rebalance on a loaded machine, seen as an offset jump in the
    buckets agent right after the resume): the fetch loop is handing over a message (Faust's delivery waits,
    e.g. for the producer buffer to ebb) when the flow resumes and drops the buffered ones before it; that
    message must not reach the agent before the dropped ones are read again: an agent takes each partition's
    messages in offset order and skips what is not past the newest it took (streams.bucketstore's ledger,
    streams.routing's origins), so the dropped ones, read again after it, were skipped for good."""
    queue: asyncio.Queue = asyncio.Queue()
    flow = SimpleNamespace(_queues=[queue])
    flow.clear = lambda: queue._queue.clear()
    flow.resume = flow.clear                               # Faust's resume empties the agents' buffers
    app = _app(flow)
    taken: list[int] = []
    dropped: list[int] = []

    async def on_message(message) -> None:                 # Faust's Conductor: waits, then puts without waiting
        if message.offset == 14 and not dropped:
            dropped.extend(queue._queue)
            app.flow_control.resume()                      # the end of a recovery, while 14 is in flight
        await asyncio.sleep(0)
        queue.put_nowait(message.offset)

    async def agent() -> None:                             # slower than the fetch loop; skips what it took
        while True:
            offset = await queue.get()
            if not taken or offset > taken[-1]:
                taken.append(offset)
            for _ in range(3):
                await asyncio.sleep(0)

    async def run() -> None:
        app.consumer = loop = _Loop(app, on_message)
        await _drain(loop, agent, queue)

    asyncio.run(run())
    assert dropped and min(dropped) < 14
    assert taken == list(range(30)), (dropped, taken)


class _FlowLoop(_Loop):
    """`_Loop` delivering as a worker does: directly while the flow is open, else through `wait_first`."""

    def __init__(self, app, on_message):
        super().__init__(app, on_message)
        self.suspend_flow = asyncio.Event()                # Faust's consumer-side pause: never set here
        self._crashed = asyncio.Event()
        self.loop = asyncio.get_running_loop()

    def _may_deliver_directly(self):
        return self.app.flow_control.is_active


def test_a_message_whose_delivery_waits_for_a_suspended_flow_is_read_again_after_the_resume():
    """Regression (issue 11, records lost after a recovery): the flow is suspended (a rebalance's recovery)
    while the fetch loop hands over message 14 and the agent still has 10-13 buffered; the resume drops those.
    Handed over as Faust does (its put waits for the flow), 14 went into the emptied buffer at the resume and
    the agent took it before the loop sought back, then skipped 10-13 read again as taken already."""
    taken: list[int] = []

    async def run() -> None:
        flow = FlowControlEvent(initially_suspended=False)
        queue: FlowControlQueue = FlowControlQueue(flow_control=flow, clear_on_resume=True)
        app = _app(flow)
        suspended: list[int] = []

        async def on_message(message) -> None:             # Faust's Conductor: the put waits for the flow
            await queue.put(message.offset)
            if message.offset == 13 and not suspended:
                suspended.append(queue.qsize())
                flow.suspend()                             # a recovery starts, 14 is next
                asyncio.get_running_loop().call_later(0.05, flow.resume)

        async def agent() -> None:                         # slower than the loop; takes each offset past the
            while True:                                    # newest it took, and nothing during a recovery
                await flow.acquire()
                offset = await queue.get()
                if not taken or offset > taken[-1]:
                    taken.append(offset)
                for _ in range(3):
                    await asyncio.sleep(0)

        app.consumer = loop = _FlowLoop(app, on_message)
        await _drain(loop, agent, queue)

        assert suspended[0] > 1                            # messages were buffered when the flow stopped

    asyncio.run(run())
    assert taken == list(range(30)), taken
