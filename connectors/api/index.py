"""In-memory materialisation of active decisions, with the lookups bouncers need and a bounded change log.

Any DecisionView source (the SQLite change log today, the compacted decisions topic later) feeds it with
`add(record, seq)` and `remove(id, seq, kind)`. Lookups:
- an `ip=` query: one dict lookup for Ip decisions plus one per distinct Range prefix length in use
  (at most 33 for IPv4, 129 for IPv6): O(1) in the number of decisions;
- `range=…&contains=false` (decisions inside a range): bisect over a start-sorted list, O(log n + k).
Records are never mutated; `until` is checked at read time, so a decision past its end is invisible before
its source reports the expiry.
"""

from __future__ import annotations

import bisect
import heapq
from collections import defaultdict

from connectors.api.model import DecisionRecord, Delta, Target
from synsec.engine.decisions import is_active, is_over

__all__ = ["DecisionIndex", "fold_changes"]

_BITS = {4: 32, 6: 128}


def _prefix_len(target: Target) -> int:
    version, start, end = target
    return _BITS[version] - ((end - start + 1).bit_length() - 1)


def fold_changes(changes, head: int, is_active) -> Delta:
    """A delta from (kind, record) changes in sequence order: `new` holds the records added and still
    active; `deleted` those ended (a record both added and ended is only in `deleted`, as in CrowdSec)."""
    new: dict[int, DecisionRecord] = {}
    deleted: dict[int, DecisionRecord] = {}
    for kind, rec in changes:
        if kind == "new":
            new[rec.id] = rec
        else:
            new.pop(rec.id, None)
            deleted[rec.id] = rec
    return Delta([r for r in new.values() if is_active(r)], list(deleted.values()), head)


class DecisionIndex:
    def __init__(self, max_changes: int = 100_000):
        self.by_id: dict[int, DecisionRecord] = {}
        self._exact: dict[tuple[int, int], set[int]] = defaultdict(set)
        self._nets: dict[tuple[int, int], dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
        self._plens: dict[int, dict[int, int]] = {4: defaultdict(int), 6: defaultdict(int)}  # refcounts
        self._values: dict[tuple[str, str], set[int]] = defaultdict(set)
        self._sorted: list[tuple[int, int, int]] | None = None  # (version, start, id), built lazily
        self._expiry: list[tuple[float, int]] = []
        self._log_seqs: list[int] = []
        self._log: list[tuple[str, DecisionRecord]] = []
        self.max_changes = max_changes
        self.floor = 0   # deltas are exact for any sequence >= floor
        self.head = 0

    # -- feeding -----------------------------------------------------------------------------------------

    def add(self, rec: DecisionRecord, seq: int) -> None:
        if rec.id in self.by_id:
            self._unindex(self.by_id[rec.id])
        self.by_id[rec.id] = rec
        self._values[(rec.scope.lower(), rec.value)].add(rec.id)
        if rec.target:
            version, start, end = rec.target
            if start == end and rec.scope.lower() == "ip":
                self._exact[(version, start)].add(rec.id)
            else:
                plen = _prefix_len(rec.target)
                self._nets[(version, plen)][start].add(rec.id)
                self._plens[version][plen] += 1
            self._sorted = None
        heapq.heappush(self._expiry, (rec.until, rec.id))
        self._log_change(seq, "new", rec)

    def remove(self, decision_id: int, seq: int, kind: str = "deleted",
               known: DecisionRecord | None = None) -> DecisionRecord | None:
        """End a decision. `known` is logged when the index never held it (the source still knows it)."""
        rec = self.by_id.pop(decision_id, None)
        if rec is not None:
            self._unindex(rec)
        rec = rec or known
        if rec is not None:
            self._log_change(seq, kind, rec)
        else:
            self.head = max(self.head, seq)
        return rec

    def pop_expired(self, now: float) -> list[DecisionRecord]:
        """Active records whose `until` <= now, for a source that derives expiry itself (the topic view);
        the caller then `remove`s each with its own sequence."""
        out = []
        while self._expiry and is_over(self._expiry[0][0], now):
            until, did = heapq.heappop(self._expiry)
            rec = self.by_id.get(did)
            if rec is not None and rec.until == until:
                out.append(rec)
        return out

    def _unindex(self, rec: DecisionRecord) -> None:
        self._discard(self._values, (rec.scope.lower(), rec.value), rec.id)
        if not rec.target:
            return
        version, start, end = rec.target
        if start == end and rec.scope.lower() == "ip":
            self._discard(self._exact, (version, start), rec.id)
        else:
            plen = _prefix_len(rec.target)
            self._discard(self._nets[(version, plen)], start, rec.id)
            self._plens[version][plen] -= 1
            if not self._plens[version][plen]:
                del self._plens[version][plen]
                del self._nets[(version, plen)]
        self._sorted = None

    @staticmethod
    def _discard(table: dict, key, did: int) -> None:
        ids = table.get(key)
        if ids is not None:
            ids.discard(did)
            if not ids:
                del table[key]

    def _log_change(self, seq: int, kind: str, rec: DecisionRecord) -> None:
        self.head = max(self.head, seq)
        self._log_seqs.append(seq)
        self._log.append((kind, rec))
        if len(self._log) > self.max_changes:
            cut = len(self._log) // 2
            self.floor = self._log_seqs[cut - 1]
            del self._log_seqs[:cut], self._log[:cut]

    # -- reading -----------------------------------------------------------------------------------------

    def active(self, now: float) -> list[DecisionRecord]:
        return [r for r in self.by_id.values() if is_active(r, now)]

    def by_value(self, scope: str, value: str, now: float) -> list[DecisionRecord]:
        return self._live(self._values.get((scope.lower(), value), ()), now)

    def containing(self, target: Target, now: float) -> list[DecisionRecord]:
        """Ip/Range decisions whose interval contains the whole `target` interval."""
        version, start, end = target
        ids: list[int] = []
        if start == end:
            ids.extend(self._exact.get((version, start), ()))
        want = _prefix_len(target)
        bits = _BITS[version]
        for plen in self._plens[version]:
            if plen <= want:
                net = start & ~((1 << (bits - plen)) - 1)
                ids.extend(self._nets[(version, plen)].get(net, ()))
        return self._live(ids, now)

    def contained(self, target: Target, now: float) -> list[DecisionRecord]:
        """Ip/Range decisions whose interval lies inside `target`."""
        if self._sorted is None:
            self._sorted = sorted((r.target[0], r.target[1], r.id) for r in self.by_id.values() if r.target)
        version, start, end = target
        lo = bisect.bisect_left(self._sorted, (version, start, -1))
        hi = bisect.bisect_right(self._sorted, (version, end, float("inf")))
        return self._live((did for _, _, did in self._sorted[lo:hi]
                           if self.by_id[did].target[2] <= end), now)

    def _live(self, ids, now: float) -> list[DecisionRecord]:
        recs = (self.by_id[i] for i in ids)
        return sorted((r for r in recs if is_active(r, now)), key=lambda r: r.id)

    def changes_since(self, seq: int, now: float) -> Delta:
        """New (still active) and ended decisions after `seq`; a decision both added and ended since then is
        only in `deleted`, as in CrowdSec."""
        if seq < self.floor or seq > self.head:
            return Delta([], [], self.head, complete=False)
        i = bisect.bisect_right(self._log_seqs, seq)
        return fold_changes(self._log[i:], self.head, lambda r: is_active(r, now) and r.id in self.by_id)

    def recently_ended(self, since: float) -> list[DecisionRecord]:
        """Decisions ended (deleted or expired) in the retained log whose end is at or after `since`."""
        return [rec for (kind, rec) in self._log if kind != "new" and rec.id not in self.by_id
                and rec.until >= since]
