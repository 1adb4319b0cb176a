"""Decision history for the profiles' `duration_expr`: what `GetDecisionsCount` and its kin answer from.

CrowdSec (pkg/exprhelpers, pkg/database/decisions.go) counts the decisions whose target contains the value
(an IP, or a range holding it): every one for `GetDecisionsCount`, those created after `now - since` for
`GetDecisionsSinceCount`, those with `until > now` for `GetActiveDecisionsCount`; `GetActiveDecisionsTimeLeft`
is the latest `until` minus now. A decision deleted by hand still counts, but is no longer active (CrowdSec
expires it). Here `now` is the event time of the alert being decided (the engine reads no clock).

The engine stays pure: a store or a decisions view outside it implements the read-only `DecisionSource`;
`DecisionHistory` layers on it the decisions this engine made and has not seen stored yet (the in-process
runners write after the output), merged by decision id. Replay gives it no source: its own history only, so a
replay gives the same decisions whatever the store holds.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterable, Protocol

from synsec.engine.model import Decision

__all__ = ["Past", "DecisionSource", "DecisionHistory", "target", "covers"]


@dataclass(frozen=True, slots=True)
class Past:
    """One decision as the history knows it: its id, when it was taken and when it ends (epoch seconds)."""

    id: str
    created: float
    until: float


class DecisionSource(Protocol):
    """Read-only: the decisions (any state: active, expired, deleted) whose target contains `value`."""

    def decisions_for(self, value: str) -> Iterable[Past]: ...


def target(value: str):
    """The network of an IP or CIDR value (IPv4-mapped IPv6 as IPv4); None for other values."""
    try:
        net = ipaddress.ip_network(value.strip(), strict=False)
    except (ValueError, AttributeError):
        return None
    if net.version == 6 and net.network_address.ipv4_mapped is not None and net.prefixlen >= 96:
        return ipaddress.ip_network(f"{net.network_address.ipv4_mapped}/{net.prefixlen - 96}")
    return net


def covers(outer, inner) -> bool:
    """`outer` (a decision's network) contains `inner` (the value asked about)."""
    return outer.version == inner.version and inner.subnet_of(outer)


class DecisionHistory:
    """The decisions made here (the newest `limit`, indexed by value) over an optional `DecisionSource`."""

    def __init__(self, source: DecisionSource | None = None, *, limit: int = 100_000):
        self.source = source
        self.limit = limit
        self.now = 0.0                       # event time of the alert being decided (set by the profiles)
        self._by_id: OrderedDict[str, tuple[str, Past]] = OrderedDict()
        self._by_value: dict[str, dict[str, Past]] = {}
        self._ranges: dict[str, tuple[object, dict[str, Past]]] = {}     # value -> (network, its decisions)

    def record(self, decisions: Iterable[Decision], at: float) -> None:
        """Remember decisions taken at event time `at` (their `until` as the engine computed it)."""
        for d in decisions:
            if d.id and d.id not in self._by_id:
                self.remember(d.value, Past(d.id, at, d.until))

    def remember(self, value: str, past: Past) -> None:
        """Keep one decision on `value` (replacing the one of the same id); the oldest go past `limit`."""
        old = self._by_id.pop(past.id, None)
        if old is not None and old[0] != value:
            self._forget(past.id, old)
        self._by_id[past.id] = (value, past)
        self._by_value.setdefault(value, {})[past.id] = past
        net = target(value)
        if net is not None and net.num_addresses > 1:
            self._ranges.setdefault(value, (net, self._by_value[value]))
        while len(self._by_id) > self.limit:
            self._forget(*self._by_id.popitem(last=False))

    def end(self, decision_id: str, at: float) -> None:
        """A decision deleted at `at`: still counted, active no longer after `at`."""
        old = self._by_id.get(decision_id)
        if old is not None and old[1].until > at:
            self.remember(old[0], Past(decision_id, old[1].created, at))

    def _forget(self, old_id: str, item: tuple[str, Past]) -> None:
        value = item[0]
        bucket = self._by_value.get(value)
        if bucket is not None:
            bucket.pop(old_id, None)
            if not bucket:
                del self._by_value[value]
                self._ranges.pop(value, None)

    def decisions_for(self, value: str) -> list[Past]:
        """Every known decision whose target contains `value`, the source's first (they win on the same id)."""
        found: dict[str, Past] = {}
        if self.source is not None:
            for past in self.source.decisions_for(value):
                found[past.id] = past
        net = target(value)
        mine = list(self._by_value.get(value, {}).values())
        if net is not None:
            key = str(net.network_address) if net.num_addresses == 1 else str(net)
            if key != value:
                mine.extend(self._by_value.get(key, {}).values())
            for rng, bucket in self._ranges.values():
                if rng != net and covers(rng, net):
                    mine.extend(bucket.values())
        for past in mine:
            found.setdefault(past.id, past)
        return list(found.values())

    # -- the four helpers' answers ------------------------------------------------------------------------
    def count(self, value: str, since: float | None = None) -> int:
        """Decisions for `value`; with `since` (seconds), only those taken after `now - since`."""
        rows = self.decisions_for(value)
        if since is None:
            return len(rows)
        start = self.now - since
        return sum(1 for p in rows if p.created > start)

    def active_count(self, value: str) -> int:
        return sum(1 for p in self.decisions_for(value) if p.until > self.now)

    def time_left(self, value: str) -> float:
        """Seconds until the latest active decision for `value` ends; 0 without one."""
        return max((p.until - self.now for p in self.decisions_for(value) if p.until > self.now), default=0.0)
