"""What the API serves: a decision as bouncers see it, and a stream delta."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from synsec.engine.model import format_duration

__all__ = ["DecisionRecord", "Delta", "Target", "target_of"]

# (version, first address, last address) as integers: an Ip is a one-address interval.
Target = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """One decision: `id` is the LAPI integer id, `until` epoch seconds, `uuid` the synsec decision id."""

    id: int
    origin: str
    type: str
    scope: str
    value: str
    scenario: str
    until: float
    simulated: bool = False
    uuid: str = ""
    target: Target | None = field(default=None, compare=False)  # set for Ip/Range scopes with a valid value

    def to_lapi(self, now: float) -> dict:
        """CrowdSec's models.Decision as bouncers parse it; duration is the remaining time (Go text)."""
        return {"id": self.id, "origin": self.origin, "type": self.type, "scope": self.scope,
                "value": self.value, "duration": format_duration(self.until - now), "scenario": self.scenario}


@dataclass(frozen=True, slots=True)
class Delta:
    """Changes between a bouncer's last sequence and `head`. `complete` is False when the view no longer
    holds changes that old (restart, trimmed log): the caller then sends every active decision instead."""

    new: list[DecisionRecord]
    deleted: list[DecisionRecord]
    head: int
    complete: bool = True


def target_of(scope: str, value: str) -> Target | None:
    """The address interval of an Ip or Range decision (IPv4 and IPv6), None for other scopes or bad values."""
    s = scope.lower()
    try:
        if s == "ip":
            ip = ipaddress.ip_address(value)
            return (ip.version, int(ip), int(ip))
        if s == "range":
            net = ipaddress.ip_network(value, strict=False)
            return (net.version, int(net.network_address), int(net.broadcast_address))
    except ValueError:
        return None
    return None
