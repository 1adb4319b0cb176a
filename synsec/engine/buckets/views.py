"""What scenario expressions see as `queue` and `leaky` (CrowdSec `types.Queue` and `*Leaky`), rebuilt from a
BucketState on demand: only conditions, bayesian conditions and overflow filters need them."""

from __future__ import annotations

from synsec.engine.model import Event, StrMap, ts_to_datetime

__all__ = ["QueueView", "LeakyView", "leaky_view", "queue_events"]


class QueueView:
    """`queue.Queue` is the list of kept events; `queue.L` the queue size."""

    __slots__ = ("Queue", "L")

    def __init__(self, events: list, size: int):
        self.Queue = events
        self.L = size

    def GetQueue(self) -> "QueueView":
        return self

    def GetSize(self) -> int:
        return len(self.Queue)


class LeakyView:
    """The fields of a CrowdSec `Leaky` an expression may read."""

    __slots__ = ("Name", "Mapkey", "Total_count", "Capacity", "Leakspeed", "First_ts", "Last_ts", "Ovflw_ts",
                 "Queue")

    def __init__(self, spec, state, key: str, ovflw_ts: float = 0.0):
        self.Name = spec.name
        self.Mapkey = key
        self.Total_count = state.count
        self.Capacity = spec.capacity
        self.Leakspeed = spec.leakspeed_text
        self.First_ts = ts_to_datetime(state.first_ts)
        self.Last_ts = ts_to_datetime(state.last_ts)
        self.Ovflw_ts = ts_to_datetime(ovflw_ts) if ovflw_ts else None
        self.Queue = QueueView(queue_events(state.queue), -1 if spec.queue_limit is None else spec.queue_limit - 1)


def queue_events(queue: tuple) -> list[Event]:
    """Events rebuilt from queue entries: Meta and time always, Parsed/Enriched when the spec keeps them."""
    out = []
    for ts, meta, _srcs, extra in queue:
        evt = Event()
        evt.ts = ts
        evt.Meta = StrMap(meta or {})
        if extra is not None:
            evt.Parsed = StrMap(extra[0])
            evt.Enriched = StrMap(extra[1])
        out.append(evt)
    return out


def leaky_view(spec, state, key: str, ovflw_ts: float = 0.0) -> LeakyView:
    return LeakyView(spec, state, key, ovflw_ts)
