"""Profiles: CrowdSec's `profiles.yaml` turning alerts into decisions, plus simulation and allowlists.

Semantics of CrowdSec pkg/csprofiles: every filter of a profile that matches adds the profile's decisions;
`on_success: break` stops after a matching profile, `on_failure: break` after a non-matching one; `on_error`
says what a filter failing at run time does (docs/policy.md). Decisions
take the alert's scope and value unless the profile names a scope. Time is the alert's event time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Callable, Protocol

from synsec.engine.counters import CounterSet
from synsec.engine.decisions import until_of
from synsec.engine.durations import DurationError, parse_duration
from synsec.engine.history import DecisionHistory, covers, target
from synsec.engine.model import Alert, Decision

__all__ = ["DecisionTemplate", "Profile", "Simulation", "Allowlist", "AllowEntry", "AllowlistSource", "ProfileEngine",
           "alert_id"]


@dataclass(frozen=True, slots=True)
class DecisionTemplate:
    type: str = "ban"
    scope: str = ""             # "" = the alert's scope
    duration: float = 4 * 3600.0


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    filters: tuple[Callable, ...]
    decisions: tuple[DecisionTemplate, ...]
    duration_expr: Callable | None = None
    on_success: str = ""
    on_failure: str = ""
    on_error: str = ""          # a filter that fails: "" (a non-match), ignore, continue, break, apply
    notifications: tuple[str, ...] = ()     # names of notification files: alert.Notify, queued by the store


@dataclass(frozen=True, slots=True)
class Simulation:
    """CrowdSec simulation.yaml: global switch plus per-scenario exclusions (which invert it)."""

    enabled: bool = False
    exclusions: frozenset = frozenset()

    def is_simulated(self, scenario: str) -> bool:
        return (scenario in self.exclusions) != self.enabled


@dataclass(frozen=True, slots=True)
class AllowEntry:
    network: object                 # ipaddress network
    expires: float | None = None    # epoch seconds; None = never
    description: str = ""


class AllowlistSource(Protocol):
    """Read-only allowlists kept elsewhere (the store's `ccscli allowlists`): the live entry over a value."""

    def match(self, value: str, now: float) -> AllowEntry | None: ...


@dataclass(frozen=True, slots=True)
class Allowlist:
    """The one allowlist: the entries of allowlists.yaml, then those of its `sources` (the store's lists)."""

    entries: tuple[AllowEntry, ...] = ()
    sources: tuple[AllowlistSource, ...] = ()

    def match(self, value: str, now: float) -> AllowEntry | None:
        """The live entry covering `value` (an IP or a range; IPv4-mapped IPv6 as IPv4) at time `now`, if any."""
        net = target(value) if isinstance(value, str) else None
        if net is None:
            return None
        for entry in self.entries:
            if entry.expires is not None and entry.expires <= now:
                continue
            if covers(entry.network, net):
                return entry
        for source in self.sources:
            found = source.match(value, now)
            if found is not None:
                return found
        return None

    def with_source(self, source: AllowlistSource) -> "Allowlist":
        return replace(self, sources=(*self.sources, source))


def alert_id(alert: Alert) -> str:
    """A deterministic id: same alert (scenario, source, start, stop) → same id in every runner."""
    text = f"{alert.Scenario}|{alert.Source.Scope}|{alert.Source.Value}|{alert.StartAt!r}|{alert.StopAt!r}"
    return hashlib.sha1(text.encode()).hexdigest()[:20]


@dataclass
class ProfileEngine:
    profiles: tuple[Profile, ...]
    simulation: Simulation = Simulation()
    allowlist: Allowlist = Allowlist()
    origin: str = "synsec"
    counts: CounterSet = field(default_factory=CounterSet)   # the engine's (synsec.engine.counters)
    history: DecisionHistory = field(default_factory=DecisionHistory)   # its expressions' (ExprContext.history)

    def stamp(self, alert: Alert) -> Alert:
        """Fill what an alert carries before any decision: its deterministic id and its simulation flag (set when
        its scenario is simulated here, or when it came simulated: a CrowdSec agent simulating it pushed it)."""
        if not alert.UUID:
            alert.UUID = alert_id(alert)
        alert.Simulated = alert.Simulated or self.simulation.is_simulated(alert.Scenario)
        return alert

    def decide(self, alert: Alert) -> list[Decision]:
        """Decisions for one alert (counted by origin, scenario and type); also fills alert.Simulated, alert.UUID,
        alert.Decisions and alert.Notify (the notifications of its matched profiles, each once)."""
        self.stamp(alert)
        self.history.now = alert.StopAt
        if self.allowlist.match(alert.Source.Value or alert.Source.IP, alert.StopAt) is not None:
            self.counts.inc("profiles_allowlisted")
            return []
        out: list[Decision] = []
        notify: dict[str, None] = {}
        for profile in self.profiles:
            made, matched, failed = self._evaluate(profile, alert, len(out))
            if failed and profile.on_error == "break":
                break
            if failed and profile.on_error in ("ignore", "continue"):
                continue
            if failed and profile.on_error == "apply":      # as if its filter matched: its decisions are made
                made, matched = made or self._generate(profile, alert, len(out)), True
            out.extend(made)
            if matched:
                for name in profile.notifications:
                    self.counts.inc("profiles_notifications", name)
                    notify[name] = None
            if matched and profile.on_success == "break":
                break
            if not matched and profile.on_failure == "break":
                break
        alert.Decisions = out
        alert.Notify = tuple(notify)
        self.history.record(out, alert.StopAt)
        for d in out:
            self.counts.inc("decisions", d.origin, d.scenario, d.type)
        return out

    def _evaluate(self, profile: Profile, alert: Alert, start: int) -> tuple[list[Decision], bool, bool]:
        """(decisions, matched, failed): every matching filter adds the profile's decisions. A filter that fails
        at run time is counted; with an `on_error`, it ends the profile (failed; what matched before it is returned
        for `apply`), without one it is a non-match."""
        out: list[Decision] = []
        matched = False
        for flt in profile.filters:
            try:
                ok = flt(alert)
            except Exception:  # expression runtime error: counted, then on_error
                self.counts.inc("profiles_filter_errors")
                if profile.on_error:
                    return out, matched, True
                continue
            if ok is True:
                matched = True
                out.extend(self._generate(profile, alert, start + len(out)))
        return out, matched, False

    def _duration(self, profile: Profile, template: DecisionTemplate, alert: Alert) -> float:
        if profile.duration_expr is None:
            return template.duration
        try:
            return parse_duration(str(profile.duration_expr(alert)))
        except (DurationError, Exception):  # bad expression result: keep the static duration
            self.counts.inc("profiles_duration_expr_errors")
            return template.duration

    def _generate(self, profile: Profile, alert: Alert, start: int) -> list[Decision]:
        out = []
        for i, tpl in enumerate(profile.decisions):
            duration = self._duration(profile, tpl, alert)
            out.append(Decision(
                origin=self.origin, scenario=alert.Scenario, scope=tpl.scope or alert.Source.Scope,
                value=alert.Source.Value, type=tpl.type, duration=duration, until=until_of(alert.StopAt, duration),
                simulated=alert.Simulated, id=f"{alert.UUID}-{start + i}", alert_id=alert.UUID))
        return out
