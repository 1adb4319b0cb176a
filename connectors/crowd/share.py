"""What an installation shares: an alert becomes a signal carrying only machine id, scenario name, hash and
version, source (IP or range), start/stop/created times and events count — or nothing.

Never shared (docs/crowd.md, "The installation side"): simulated alerts; alerts that are not the engine's own
detections (manual decisions never reach here: signals are made from the engine's output only, and an alert
whose decisions all have another origin is refused too); sources that are not global unicast (private,
loopback, link-local, shared, reserved, documentation, multicast); sources an allowlist covers; scenarios that
are custom (not in the config dir's hub index) or tainted (the file's sha256 matches none of the index's
versions for that name). The hash and version sent are the hub's, computed from the scenario file. The queue
adds each signal's random `uuid` (connectors/crowd/queue.py).
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from synsec.engine.model import Alert, format_ts
from synsec.engine.profiles import Allowlist

__all__ = ["SharePolicy", "shareable_scenarios", "is_global_source", "REASONS"]

REASONS = ("simulated", "manual", "not_global", "allowlisted", "custom", "tainted", "scope")


def is_global_source(scope: str, value: str) -> bool:
    """A global unicast IP (scope Ip) or a network made only of global unicast addresses (scope Range)."""
    try:
        if scope.lower() == "ip":
            ip = ipaddress.ip_address(value)
            return ip.is_global and not ip.is_multicast
        if scope.lower() == "range":
            net = ipaddress.ip_network(value, strict=False)
            return (net.network_address.is_global and net.broadcast_address.is_global
                    and not net.network_address.is_multicast)
    except ValueError:
        return False
    return False


def shareable_scenarios(scenario_files: dict[str, str], index) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """({name: (sha256, hub version)} of the unmodified hub scenarios, {name: "custom"|"tainted"} of the others)
    from {scenario name: file path} and a hub index (None: every scenario is custom)."""
    ok, refused = {}, {}
    digests: dict[str, str] = {}
    for name, path in sorted(scenario_files.items()):
        item = index.items.get(("scenarios", name)) if index is not None else None
        if item is None:
            refused[name] = "custom"
            continue
        if path not in digests:
            try:
                digests[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            except OSError:
                digests[path] = ""
        version = item.version_of(digests[path])
        if version is None:
            refused[name] = "tainted"
        else:
            ok[name] = (digests[path], version)
    return ok, refused


@dataclass
class SharePolicy:
    """Turns engine alerts into signals; counts what it refused, by reason."""

    machine_id: str
    scenarios: dict[str, tuple[str, str]]           # shareable: name -> (hub sha256, hub version)
    refused_scenarios: dict[str, str] = field(default_factory=dict)
    allowlist: Allowlist = field(default_factory=Allowlist)
    origin: str = "synsec"                          # the engine's decisions' origin
    refused: Counter = field(default_factory=Counter)

    def reason(self, alert: Alert) -> str | None:
        """Why `alert` is not shared, or None when it is."""
        if alert.Simulated:
            return "simulated"
        if alert.Decisions and all(getattr(d, "origin", self.origin) != self.origin for d in alert.Decisions):
            return "manual"
        scope, value = alert.Source.Scope, alert.Source.Value or alert.Source.IP or alert.Source.Range
        if scope.lower() not in ("ip", "range"):
            return "scope"
        if not is_global_source(scope, value):
            return "not_global"
        if self.allowlist.match(value, alert.StopAt) is not None:
            return "allowlisted"
        if alert.Scenario not in self.scenarios:
            return self.refused_scenarios.get(alert.Scenario, "custom")
        return None

    def signal(self, alert: Alert, created: float) -> dict | None:
        """The signal of `alert` (CrowdSec's `AddSignalsRequestItem` keys), None when it is not shared."""
        why = self.reason(alert)
        if why is not None:
            self.refused[why] += 1
            return None
        digest, version = self.scenarios[alert.Scenario]
        scope = "Ip" if alert.Source.Scope.lower() == "ip" else "Range"
        value = alert.Source.Value or alert.Source.IP or alert.Source.Range
        return {"machine_id": self.machine_id, "scenario": alert.Scenario, "scenario_hash": digest,
                "scenario_version": version, "source": {"scope": scope, "value": value},
                "start_at": format_ts(alert.StartAt), "stop_at": format_ts(alert.StopAt),
                "created_at": format_ts(created), "events_count": int(alert.EventsCount)}
