"""What assertions read, shaped as CrowdSec's `-dump-data` records it.

Parser results (`parser.assert`): `results[stage][node name]` is the list of that top-level node's outcomes,
one per line it ran on, in line order: `{Idx, Evt, Success}`, `Evt` the event as the node left it (CrowdSec
`dumps.ParserResults`, filled by `parser.StageParseCollector`); `results["success"][""]` is there and empty, as
in CrowdSec. Scenario results (`scenario.assert`): the overflow events after the postoverflows, sorted as
`hubtest.LoadScenarioDump` sorts them (by scenario then sources, descending); each alert's events answer
`GetMeta(key)`.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field

from synsec.engine.model import LOG, OVFLW, Alert, Event, Line, RuntimeAlert, StrMap

__all__ = ["ParserResult", "ParseCollector", "LineTrace", "scenario_results"]


@dataclass(slots=True)
class ParserResult:
    """One top-level node's outcome on one line (CrowdSec `dumps.ParserResult`)."""

    Idx: int
    Evt: Event
    Success: bool


@dataclass
class LineTrace:
    """One line's way through: (stage, node, success) per top-level node run, and the buckets it entered."""

    raw: str
    nodes: list[tuple[str, str, bool]] = field(default_factory=list)
    parsed: bool = False
    whitelisted: bool = False
    buckets: list[tuple[str, str]] = field(default_factory=list)


def _snapshot(evt: Event) -> Event:
    """The event as it is now, unaffected by what later nodes do to it."""
    out = evt.copy()
    out.Unmarshaled = copy.deepcopy(evt.Unmarshaled)
    return out


class ParseCollector:
    """The engine's parse collector (`ParseContext.collector`): records every top-level node of every log line."""

    def __init__(self) -> None:
        self.results: dict[str, dict[str, list[ParserResult]]] = {"success": {"": []}}
        self.lines: list[LineTrace] = []

    def start(self, raw: str) -> LineTrace:
        """A new line is parsed next."""
        self.lines.append(LineTrace(raw))
        return self.lines[-1]

    def __call__(self, stage: str, node, evt: Event, ok: bool) -> None:
        if evt.Type != LOG:              # the postoverflows of an overflow: CrowdSec records log lines only
            return
        stage_map = self.results.setdefault(stage, {})
        runs = stage_map.get(node.name)
        if runs is None:
            runs = stage_map[node.name] = []
            idx = len(stage_map)
        else:
            idx = runs[0].Idx if runs else len(stage_map)
        runs.append(ParserResult(idx, _snapshot(evt), bool(ok)))
        if self.lines:
            self.lines[-1].nodes.append((stage, node.name, bool(ok)))


def _alert_event(item: dict) -> Event:
    """An alert's event (CrowdSec `models.Event`) as something with `GetMeta(key)`."""
    evt = Event(Line(""))
    evt.Meta = StrMap(item.get("meta") or {})
    evt.ts = float(item.get("timestamp") or 0.0)
    return evt


def _overflow(alerts: list[Alert]) -> Event:
    """One overflow as cscli's results hold it: its first alert, and the sources of all its alerts."""
    alert = alerts[0]
    view = dataclasses.replace(alert, Events=[_alert_event(e) for e in alert.Events])
    evt = Event(Line(""), type_=OVFLW)
    sources = {a.Source.IP or a.Source.Value: a.Source for a in alerts}        # CrowdSec keys by the IP
    evt.Overflow = RuntimeAlert(Alert=view, Sources=sources)
    evt.ts = alert.StopAt
    return evt


def _same_overflow(a: Alert, b: Alert) -> bool:
    """Alerts made by one overflow (one per source, next to each other): same scenario, times, events, message."""
    return (a.Scenario, a.StartAt, a.StopAt, a.EventsCount, a.Message, a.Events) == \
        (b.Scenario, b.StartAt, b.StopAt, b.EventsCount, b.Message, b.Events)


def scenario_results(alerts: list[Alert]) -> list[Event]:
    """The overflow events of `alerts` in the order scenario assertions index them: one per overflow (an
    overflow of several sources is one result holding them all, as CrowdSec's dump records it)."""
    groups: list[list[Alert]] = []
    for alert in alerts:
        if groups and _same_overflow(groups[-1][0], alert):
            groups[-1].append(alert)
        else:
            groups.append([alert])
    events = [_overflow(g) for g in groups]
    events.sort(key=lambda e: e.Overflow.Alert.Scenario + "@".join(e.Overflow.GetSources()), reverse=True)
    return events
