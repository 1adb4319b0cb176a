"""The decisions topic folded into the active set: one decision per `scope:value` key, as on a compacted topic.

Each record read is a `Read` (its key, the decoded `Decision` or None for a tombstone, its LAPI id). `fold`
applies `synsec.engine.decisions.fate`: an active value replaces what was under its key; a tombstone, a
simulated value or a value already over ends it. An `until` that is not a number (written before durations
were bounded) is skipped, one beyond 10 years from now (infinite) clamped (`engine.durations.bounded_until`),
both counted in `stats["out_of_range"]`. `expire(now)` ends the decisions whose time is over.

The active set is a `DecisionIndex` whose change log numbers every change from `base_seq` (the API serves it
as the `/v1/decisions/stream` sequence). `fold` and `expire` return the changes for the follower's callbacks:
`("add", scope, value, decision)` and `("delete", scope, value, decision that was active)`; a replacement is
one "add" (the index logs the old one as deleted, so a stream pull sees it end). Not thread-safe by itself:
`connectors.kafka.follower.DecisionFollower` holds its lock around every use.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import NamedTuple

from connectors.api.index import DecisionIndex
from connectors.api.model import DecisionRecord, target_of
from synsec.engine.decisions import fate, is_active
from synsec.engine.durations import bounded_until
from synsec.engine.history import DecisionHistory, Past
from synsec.engine.model import Decision

__all__ = ["DecisionSet", "Read", "Change", "lapi_id", "STATS"]

log = logging.getLogger(__name__)

# Counters of a follower: records read, decisions added, ended by a tombstone or a simulated value (deleted),
# ended by time (expired), simulated values read, poison (unreadable key or value), out-of-range `until`s,
# failed bouncer callbacks.
STATS = ("records", "added", "deleted", "expired", "simulated", "poison", "out_of_range", "callback_errors")

Change = tuple[str, str, str, Decision]          # ("add" | "delete", scope, value, decision)


class Read(NamedTuple):
    """One decisions-topic record, decoded: `decision` None for a tombstone; `where` names it in logs."""

    scope: str
    value: str
    decision: Decision | None
    id: int
    where: str = ""

    @property
    def key(self) -> str:
        return f"{self.scope}:{self.value}"


def lapi_id(partition: int, offset: int, partitions: int) -> int:
    """A stable positive integer id for the message at (partition, offset): the decision's LAPI id."""
    return offset * max(partitions, 1) + partition + 1


class DecisionSet:
    """The active decision under each key, indexed for lookups, with a numbered change log."""

    def __init__(self, stats: dict[str, int], *, base_seq: int = 0, max_changes: int = 100_000,
                 history: DecisionHistory | None = None):
        self.stats = stats
        self.history = history          # every decision read, for GetDecisionsCount & co (the profiles agent)
        self.index = DecisionIndex(max_changes=max_changes)
        self.index.floor = self.index.head = base_seq
        self.seq = base_seq
        self.by_key: dict[str, DecisionRecord] = {}
        self.by_id: dict[int, tuple[Read, Decision]] = {}

    def fold(self, read: Read, now: float) -> list[Change]:
        """Apply the latest value of `read.key` at `now`; the changes it makes."""
        d = self._bounded(read, now)
        if d is None and read.decision is not None:
            return []                                   # not a number: skipped, counted
        if self.history is not None:
            self._remember(read, d, now)
        what = fate(d, now)
        if what == "simulated":
            self.stats["simulated"] += 1
        if what != "active":
            return self._end(read.key, "expired" if what == "expired" else "deleted")
        old = self.by_key.pop(read.key, None)
        if old is not None:                             # replaced: logged as ended, no delete callback
            self.by_id.pop(old.id, None)
            self.index.remove(old.id, self._next(), "deleted")
        rec = DecisionRecord(id=read.id, origin=d.origin, type=d.type, scope=d.scope, value=d.value,
                             scenario=d.scenario, until=d.until, simulated=d.simulated, uuid=d.id,
                             target=target_of(d.scope, d.value))
        self.index.add(rec, self._next())
        self.by_key[read.key] = rec
        self.by_id[rec.id] = (read, d)
        self.stats["added"] += 1
        return [("add", read.scope, read.value, d)]

    def _remember(self, read: Read, d: Decision | None, now: float) -> None:
        """Every value read counts (expired and simulated ones too); a tombstone ends the active one at `now`."""
        if d is None:
            old = self.by_key.get(read.key)
            if old is not None:
                self.history.end(old.uuid or str(old.id), now)
            return
        self.history.remember(d.value, Past(d.id or str(read.id), d.until - d.duration, d.until))

    def expire(self, now: float) -> list[Change]:
        """End every decision over at `now`."""
        out: list[Change] = []
        for rec in self.index.pop_expired(now):
            entry = self.by_id.get(rec.id)
            if entry is not None:
                out += self._end(entry[0].key, "expired")
        return out

    def decision(self, rec: DecisionRecord) -> Decision | None:
        """The decision an index record stands for."""
        entry = self.by_id.get(rec.id)
        return entry[1] if entry else None

    def active(self, now: float) -> list[Decision]:
        return [d for _, d in self.by_id.values() if is_active(d, now)]

    def _bounded(self, read: Read, now: float) -> Decision | None:
        d = read.decision
        if d is None:
            return None
        until = bounded_until(d.until, now)
        if until == d.until:
            return d
        self.stats["out_of_range"] += 1     # written before durations were bounded: NaN skipped, ±inf clamped
        log.warning("decisions %s key %s: until %r out of range, %s", read.where, read.key, d.until,
                    "skipped" if until is None else "clamped")
        return None if until is None else replace(d, until=until)

    def _end(self, key: str, kind: str) -> list[Change]:
        old = self.by_key.pop(key, None)
        if old is None:
            return []
        read, d = self.by_id.pop(old.id)
        self.index.remove(old.id, self._next(), kind)
        self.stats[kind] += 1
        return [("delete", read.scope, read.value, d)]

    def _next(self) -> int:
        self.seq += 1
        return self.seq
