"""What the API serves: a decision as bouncers see it, and a stream delta."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from synsec.engine.model import format_duration

__all__ = ["DecisionRecord", "Delta", "Target", "target_of", "parse_ip", "parse_network"]

# (version, first address, last address) as integers: an Ip is a one-address interval.
Target = tuple[int, int, int]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


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


_MAPPED = ipaddress.ip_network("::ffff:0:0/96")


def parse_ip(text: str) -> IPAddress:
    """An IPv4 or IPv6 address as bans use it: no zone id (`fe80::1%eth0` names an interface of one host,
    not a source), an IPv4-mapped IPv6 address (`::ffff:192.0.2.7`) as the IPv4 address it is.
    ValueError otherwise (ASCII digits only, as `ipaddress` parses)."""
    if "%" in text:
        raise ValueError(f"{text!r}: an address with a zone id (%…) cannot be banned")
    ip = ipaddress.ip_address(text)
    return ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip


def parse_network(text: str, *, strict: bool = True) -> IPNetwork:
    """A CIDR range, with `parse_ip`'s rules: no zone id, an IPv4-mapped range (`::ffff:192.0.2.0/120`, prefix
    96 or longer) as the IPv4 range it is."""
    if "%" in text:
        raise ValueError(f"{text!r}: a range with a zone id (%…) cannot be banned")
    net = ipaddress.ip_network(text, strict=strict)
    if isinstance(net, ipaddress.IPv6Network) and net.subnet_of(_MAPPED):
        return ipaddress.ip_network(f"{net.network_address.ipv4_mapped}/{net.prefixlen - 96}")
    return net


def target_of(scope: str, value: str) -> Target | None:
    """The address interval of an Ip or Range decision (IPv4 and IPv6), None for other scopes or bad values."""
    s = scope.lower()
    try:
        if s == "ip":
            ip = parse_ip(value)
            return (ip.version, int(ip), int(ip))
        if s == "range":
            net = parse_network(value, strict=False)
            return (net.version, int(net.network_address), int(net.broadcast_address))
    except ValueError:
        return None
    return None
