"""The one order of events of the same time, in every runner (issue 11: same input, same verdicts).

Events are poured into their buckets in event-time order; events of the *same* time go in the order of
`tie_key`: a log event by its raw line, an overflow event (a `reprocess` scenario's) by its alert's id, and
the overflows of a time after the log events of that time. The in-process runners (`Engine.process`, replay,
`replay -j N`, `synsec run`) hold each run of same-time events and pour it sorted; the topology's buckets agent
holds records for event-time order anyway (streams.ordering) and sorts them with the same key. File order,
message keys, partitions and workers therefore decide nothing, not even for a `distinct` or `cancel_on` bucket
fed two different lines in the same second. Two events with the same time and the same raw line keep their
arrival order here (the topology then orders them by their encoded content): they differ only if their
source or labels do.
"""

from __future__ import annotations

from synsec.engine.model import OVFLW, Event

__all__ = ["tie_key"]


def tie_key(evt: Event) -> str:
    """Where `evt` goes among the events of its time: its raw line; an overflow event, its alert's id."""
    if evt.Type == OVFLW and evt.Overflow is not None:
        return evt.Overflow.Alert.UUID
    return evt.Line.Raw
