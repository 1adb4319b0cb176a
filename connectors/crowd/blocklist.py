"""The community blocklist pulled from central becomes decisions with origin `CAPI` (CrowdSec's name, so
bouncers' `origins` filters work), and answers `CrowdsecCTI(ip)`.

What is applied (`apply_stream`): an entry whose scenario the installation runs (CrowdSec's CAPI filters the
community blocklist by the scenarios a watcher sends at login; the installation filters again), whose source
no allowlist covers, and that is well formed (scope Ip or Range, a valid address, a Go duration); `deleted`
entries remove the address's CAPI decisions; at startup the pulled list is the whole truth, so CAPI decisions it
no longer holds are removed. An entry already in force is not written again unless central extended it (its
end moved more than `EXTEND_SLACK` later): then a new decision replaces the old one, so bouncers see the new
duration. Everything else is counted, never applied; so is an entry the target refuses (on the decisions
topic, an address that already has a decision of another origin: `skipped_local`).
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from synsec.engine.cti import BlocklistEntry, SmokeItem, smoke_item
from synsec.engine.durations import DurationError, parse_duration
from synsec.engine.model import Decision
from synsec.engine.profiles import Allowlist

__all__ = ["ORIGIN", "StoreTarget", "apply_stream", "BlocklistCTI", "EXTEND_SLACK"]

ORIGIN = "CAPI"
EXTEND_SLACK = 60.0


@dataclass(frozen=True)
class _Entry:
    cid: str
    scope: str
    value: str
    scenario: str
    type: str
    duration: float


def _entry(raw) -> _Entry | None:
    """A pulled decision, checked (central is a remote peer: anything odd is skipped)."""
    if not isinstance(raw, dict):
        return None
    scope, value, scenario = raw.get("scope"), raw.get("value"), raw.get("scenario")
    if not all(isinstance(x, str) and 0 < len(x) <= 256 for x in (scope, value, scenario)):
        return None
    try:
        if scope.lower() == "ip":
            scope, value = "Ip", str(ipaddress.ip_address(value))
        elif scope.lower() == "range":
            scope, value = "Range", str(ipaddress.ip_network(value, strict=False))
        else:
            return None
        duration = parse_duration(raw.get("duration", "")) if raw.get("duration") is not None else 0.0
    except (ValueError, DurationError):
        return None
    kind = raw.get("type") if isinstance(raw.get("type"), str) and raw.get("type") else "ban"
    cid = raw.get("id")
    cid = str(cid) if isinstance(cid, (int, str)) and not isinstance(cid, bool) and len(str(cid)) <= 64 else ""
    return _Entry(cid, scope, value, scenario, kind[:32], duration)


class StoreTarget:
    """The embedded store as the place CAPI decisions live (synsec run): the API serves them from there."""

    def __init__(self, store):
        self.store = store

    def close(self) -> None:
        self.store.close()

    def active(self, now: float) -> list[dict]:
        return self.store.decisions(origin=ORIGIN, now=now)

    def add(self, decisions: list[Decision], now: float) -> set[str]:
        """Write the decisions; the ids of those not written (none here)."""
        self.store.add([], decisions, now=now)
        return set()

    def delete(self, ids: list[str], now: float) -> None:
        for did in ids:
            self.store.delete_decisions(decision_id=did, now=now)


def apply_stream(target, new: list, deleted: list, *, startup: bool, scenarios: set[str] | frozenset[str],
                 allowlist: Allowlist, now: float) -> Counter:
    """Apply one `decisions/stream` answer; counts: added, extended, deleted, and skipped_<reason>."""
    counts: Counter = Counter()
    active: dict[tuple[str, str], list[dict]] = {}
    for row in target.active(now):
        active.setdefault((row["scope"], row["value"]), []).append(row)
    to_delete: list[str] = []
    for raw in deleted:
        entry = _entry(raw)
        if entry is None:
            counts["skipped_malformed"] += 1
            continue
        rows = active.pop((entry.scope, entry.value), [])
        if rows:
            to_delete += [r["id"] for r in rows]
            counts["deleted"] += len(rows)
    kept: set[tuple[str, str]] = set()
    to_add: list[Decision] = []
    kinds: dict[str, str] = {}
    for raw in new:
        entry = _entry(raw)
        why = _skip(entry, scenarios, allowlist, now)
        if why:
            counts[f"skipped_{why}"] += 1
            continue
        key = (entry.scope, entry.value)
        kept.add(key)
        until = now + entry.duration
        rows = active.get(key, [])
        if rows and max(r["until"] for r in rows) >= until - EXTEND_SLACK:
            continue
        to_add.append(Decision(origin=ORIGIN, scenario=entry.scenario, scope=entry.scope, value=entry.value,
                               type=entry.type, duration=entry.duration, until=until,
                               id=f"capi:{entry.cid or entry.value}:{int(until)}"))
        to_delete += [r["id"] for r in rows]
        kinds[to_add[-1].id] = "extended" if rows else "added"
    if startup:
        for key, rows in active.items():
            if key not in kept:
                to_delete += [r["id"] for r in rows]
                counts["deleted"] += len(rows)
    refused = target.add(to_add, now) if to_add else set()
    for did, kind in kinds.items():
        counts["skipped_local" if did in refused else kind] += 1
    if to_delete:
        target.delete(sorted(set(to_delete)), now)
    return counts


def _skip(entry: _Entry | None, scenarios, allowlist: Allowlist, now: float) -> str:
    if entry is None:
        return "malformed"
    if entry.duration <= 0:
        return "expired"
    if entry.scenario not in scenarios:
        return "scenario"
    if allowlist.match(entry.value, now) is not None:
        return "allowlisted"
    return ""


@dataclass
class BlocklistCTI:
    """`CrowdsecCTI(ip)` from the installation's CAPI decisions. `reload` swaps in a whole new index (after a
    pull), `put`/`drop` change one address (a follower of the decisions topic); a lookup from another thread
    reads whichever index is current (the ranges list is replaced, never changed in place)."""

    scenario_labels: Mapping[str, Mapping] = field(default_factory=dict)
    _ips: dict = field(default_factory=dict)
    _ranges: list = field(default_factory=list)

    def reload(self, rows: list[dict]) -> None:
        ips: dict[str, list[BlocklistEntry]] = {}
        ranges: list[tuple[object, BlocklistEntry]] = []
        for row in rows:
            found = _cti_entry(row)
            if found is None:
                continue
            net, entry = found
            if net is None:
                ips.setdefault(row["value"], []).append(entry)
            else:
                ranges.append((net, entry))
        self._ips, self._ranges = ips, ranges

    def put(self, row: dict) -> None:
        """The one CAPI decision of an address (replacing what the index had for it)."""
        found = _cti_entry(row)
        if found is None:
            return
        net, entry = found
        if net is None:
            self._ips[row["value"]] = [entry]
        else:
            self._ranges = [r for r in self._ranges if r[1].range != entry.range] + [(net, entry)]

    def drop(self, scope: str, value: str) -> None:
        if scope == "Ip":
            self._ips.pop(value, None)
        elif scope == "Range":
            self._ranges = [r for r in self._ranges if r[1].range != value]

    def __len__(self) -> int:
        return len(self._ips) + len(self._ranges)

    def __call__(self, ip: str) -> SmokeItem:
        ips, ranges = self._ips, self._ranges
        entries = list(ips.get(ip, ()))
        if ranges:
            try:
                addr = ipaddress.ip_address(ip)
            except ValueError:
                addr = None
            if addr is not None:
                entries += [e for net, e in ranges if addr.version == net.version and addr in net]
        return smoke_item(ip, entries, self.scenario_labels)


def _cti_entry(row: dict):
    """(network or None for an Ip, BlocklistEntry) of a CAPI decision row; None for anything else."""
    if row.get("origin") != ORIGIN or row.get("scope") not in ("Ip", "Range"):
        return None
    created = float(row.get("created_at") or 0.0)
    if row["scope"] == "Ip":
        return None, BlocklistEntry(row.get("scenario") or "", created, created)
    try:
        net = ipaddress.ip_network(row["value"], strict=False)
    except ValueError:
        return None
    return net, BlocklistEntry(row.get("scenario") or "", created, created, row["value"])
