"""The minimal consensus rule of this slice (docs/crowd.md): which addresses the community blocklist lists.

An address is listed while at least `min_reporters` distinct registered watchers reported it within the last
`window` seconds (the time central received each report counts, not the time a watcher claims). A single
watcher never lists anything; addresses outside the global unicast space (private, loopback, link-local,
shared, reserved, documentation, multicast) are never listed, nor are ranges in this slice. Trust, poisoning
defences, known-good allowlists and decay are later slices.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Rule", "Listing", "listable", "decide"]


@dataclass(frozen=True)
class Rule:
    min_reporters: int = 2
    window: float = 86400.0

    def __post_init__(self):
        if self.min_reporters < 2:
            raise ValueError("min_reporters must be at least 2: a single reporter never lists anything")
        if self.window <= 0:
            raise ValueError("window must be positive")


@dataclass(frozen=True)
class Listing:
    value: str
    scenario: str      # the scenario most reporters named (ties: the first by name)
    until: float       # when the rule stops holding unless reported again
    reporters: int


def listable(value: str) -> bool:
    """Only global unicast IP addresses may be listed."""
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return False
    return ip.is_global and not ip.is_multicast


def decide(reports: Iterable[tuple[str, str, str, float]], now: float, rule: Rule) -> dict[str, Listing]:
    """Listed addresses from reports (value, watcher, scenario, received_at); reports outside the window or of
    non-listable values are ignored."""
    latest: dict[str, dict[str, float]] = {}
    named: dict[str, dict[str, set[str]]] = {}
    for value, watcher, scenario, received in reports:
        if received <= now - rule.window or received > now or not listable(value):
            continue
        per = latest.setdefault(value, {})
        per[watcher] = max(per.get(watcher, received), received)
        named.setdefault(value, {}).setdefault(scenario, set()).add(watcher)
    out = {}
    for value, per in latest.items():
        if len(per) < rule.min_reporters:
            continue
        nth = sorted(per.values(), reverse=True)[rule.min_reporters - 1]
        scenario = min(named[value].items(), key=lambda kv: (-len(kv[1]), kv[0]))[0]
        out[value] = Listing(value, scenario, nth + rule.window, len(per))
    return out
