"""CrowdSec's data model in Python, with CrowdSec's field names so hub `expr` text works unchanged.

`evt.Meta.source_ip`, `evt.Line.Labels.type`, `evt.Overflow.Alert.Source.IP`, `Alert.GetScope()` all resolve
against these classes. String maps (`Meta`, `Parsed`, `Enriched`, `Labels`) are `StrMap`: a missing key reads
as "" like a Go `map[string]string`. Time is event time: `Event.ts` is epoch seconds (UTC) taken from the log.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime, timezone

__all__ = [
    "StrMap", "Line", "Event", "Source", "Alert", "RuntimeAlert", "Decision",
    "LOG", "OVFLW", "ts_to_datetime", "format_ts",
]

LOG = 0     # CrowdSec types.LOG
OVFLW = 1   # CrowdSec types.OVFLW


class StrMap(dict):
    """A `map[string]string`: a missing key reads as "" through `[]` (expr member access)."""

    __slots__ = ()

    def __missing__(self, key):
        return ""


def ts_to_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def format_ts(ts: float) -> str:
    """RFC 3339 in UTC, like Go's time.RFC3339 (with fractional seconds only when present)."""
    dt = ts_to_datetime(ts)
    if dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(value) -> str:
    if value.__class__ is not str:
        raise TypeError(f"expected string, got {type(value).__name__}")
    return value


class Line:
    """One raw log line as acquired: CrowdSec `types.Line`."""

    __slots__ = ("Raw", "Src", "Time", "Labels", "Process", "Module")

    def __init__(self, Raw: str, Src: str = "", Labels: dict | None = None, Module: str = "file",
                 Time: float = 0.0):
        self.Raw = Raw
        self.Src = Src
        self.Labels = StrMap(Labels or {})
        self.Module = Module
        self.Time = Time          # acquisition time (epoch seconds) if known, else 0
        self.Process = True


class Event:
    """CrowdSec `types.Event`. Mutated only inside the parser pipeline, before it reaches any bucket."""

    __slots__ = ("Type", "ExpectMode", "Whitelisted", "WhitelistReason", "Stage", "Line", "Parsed",
                 "Enriched", "Unmarshaled", "Meta", "Overflow", "ts", "StrTime", "StrTimeFormat",
                 "MarshaledTime", "Process")

    def __init__(self, line: Line | None = None, type_: int = LOG):
        self.Type = type_
        self.ExpectMode = 0
        self.Whitelisted = False
        self.WhitelistReason = ""
        self.Stage = ""
        self.Line = line if line is not None else Line("")
        self.Parsed = StrMap()
        self.Enriched = StrMap()
        self.Unmarshaled = {}
        self.Meta = StrMap()
        self.Overflow = None          # RuntimeAlert for OVFLW events
        self.ts = 0.0                 # event time, epoch seconds UTC; 0 until dateparse (or the line's time)
        self.StrTime = ""
        self.StrTimeFormat = ""
        self.MarshaledTime = ""
        self.Process = True

    # --- expr-visible methods (CrowdSec names) ---
    @property
    def Time(self) -> datetime:
        return ts_to_datetime(self.ts)

    def GetType(self) -> str:
        return "overflow" if self.Type == OVFLW else "log"

    def GetMeta(self, key: str) -> str:
        if self.Type == OVFLW and self.Overflow is not None:
            for ev in self.Overflow.Alert.Events:
                if key in ev.get("meta", {}):
                    return ev["meta"][key]
            return ""
        return self.Meta.get(key, "")

    def SetMeta(self, key: str, value: str) -> bool:
        """The one way an expression writes Meta (CrowdSec `Event.SetMeta`): strings only."""
        self.Meta[_text(key)] = _text(value)
        return True

    def SetParsed(self, key: str, value: str) -> bool:
        self.Parsed[_text(key)] = _text(value)
        return True

    def ParseIPSources(self) -> list[str]:
        """The event's source addresses: Meta.source_ip of a log line, the sources of an overflow."""
        if self.Type == OVFLW:
            values = list(self.Overflow.Sources) if self.Overflow is not None else []
        else:
            values = [self.Meta["source_ip"]] if "source_ip" in self.Meta else []
        out = []
        for value in values:
            try:
                out.append(str(ipaddress.ip_address(value)))
            except ValueError:
                continue
        return out

    def copy(self) -> "Event":
        """A copy whose maps can be changed without touching this one."""
        new = Event.__new__(Event)
        for name in Event.__slots__:
            setattr(new, name, getattr(self, name))
        new.Parsed = StrMap(self.Parsed)
        new.Enriched = StrMap(self.Enriched)
        new.Meta = StrMap(self.Meta)
        new.Unmarshaled = dict(self.Unmarshaled)
        return new

    def to_dict(self) -> dict:
        return {
            "line": {"raw": self.Line.Raw, "src": self.Line.Src, "labels": dict(self.Line.Labels),
                     "module": self.Line.Module},
            "parsed": dict(self.Parsed), "meta": dict(self.Meta), "enriched": dict(self.Enriched),
            "time": self.ts, "str_time": self.StrTime, "whitelisted": self.Whitelisted,
            "whitelist_reason": self.WhitelistReason, "stage": self.Stage,
        }

    def __repr__(self) -> str:
        return f"Event(ts={self.ts}, meta={dict(self.Meta)!r})"


@dataclass(slots=True)
class Source:
    """CrowdSec `models.Source`."""

    Scope: str = "Ip"
    Value: str = ""
    IP: str = ""
    Range: str = ""
    AsNumber: str = ""
    AsName: str = ""
    Cn: str = ""
    Latitude: float = 0.0
    Longitude: float = 0.0

    def GetValue(self) -> str:
        return self.Value

    def GetScope(self) -> str:
        return self.Scope

    def GetAsNumberName(self) -> str:
        """`AsNumber AsName` as CrowdSec prints it ("0" stands for no number)."""
        out = self.AsNumber if self.AsNumber != "0" else ""
        return out + (" " + self.AsName if self.AsName else "")

    def to_dict(self) -> dict:
        return {"scope": self.Scope, "value": self.Value, "ip": self.IP, "range": self.Range,
                "as_number": self.AsNumber, "as_name": self.AsName, "country": self.Cn}


@dataclass(slots=True)
class Alert:
    """CrowdSec `models.Alert` as a profile sees it (`Alert.Remediation`, `Alert.GetScope()`...)."""

    Scenario: str
    Source: Source
    EventsCount: int
    StartAt: float
    StopAt: float
    Events: list = field(default_factory=list)        # [{"timestamp": float, "meta": {k: v}}]
    Labels: dict = field(default_factory=dict)
    Remediation: bool = False
    Simulated: bool = False
    Capacity: int = 0
    Leakspeed: str = ""
    ScenarioVersion: str = ""
    ScenarioHash: str = ""
    Message: str = ""
    Meta: dict = field(default_factory=dict)
    Decisions: list = field(default_factory=list)
    UUID: str = ""
    Notify: tuple = ()          # names of the notifications its matched profiles name (ProfileEngine.decide)

    def GetScope(self) -> str:
        return self.Source.Scope

    def GetValue(self) -> str:
        return self.Source.Value

    def GetScenario(self) -> str:
        return self.Scenario

    def GetEventsCount(self) -> int:
        return self.EventsCount

    def GetMeta(self, key: str) -> str:
        value = self.Meta.get(key, "") if isinstance(self.Meta, dict) else ""
        return value if isinstance(value, str) else ""

    def HasRemediation(self) -> bool:
        return True

    def to_dict(self) -> dict:
        return {
            "id": self.UUID, "scenario": self.Scenario, "scenario_version": self.ScenarioVersion,
            "scenario_hash": self.ScenarioHash, "message": self.Message,
            "source": self.Source.to_dict(), "events_count": self.EventsCount,
            "start_at": format_ts(self.StartAt), "stop_at": format_ts(self.StopAt),
            "capacity": self.Capacity, "leakspeed": self.Leakspeed,
            "events": [{"timestamp": format_ts(e["timestamp"]), "meta": dict(e["meta"])} for e in self.Events],
            "labels": dict(self.Labels), "remediation": self.Remediation, "simulated": self.Simulated,
        }


@dataclass(slots=True)
class RuntimeAlert:
    """CrowdSec `types.RuntimeAlert`: what an overflow event carries (`evt.Overflow.Alert...`)."""

    Alert: Alert
    Sources: dict = field(default_factory=dict)       # value -> Source
    Reprocess: bool = False
    Mapkey: str = ""
    BucketId: str = ""
    Whitelisted: bool = False
    Reason: str = ""

    def GetSources(self) -> list[str]:
        """The source values of the alert (CrowdSec `RuntimeAlert.GetSources`)."""
        return list(self.Sources)


@dataclass(slots=True)
class Decision:
    """A remedy for a source: `{id, origin, scenario, scope, value, type, duration, until, simulated}`."""

    origin: str
    scenario: str
    scope: str
    value: str
    type: str
    duration: float          # seconds
    until: float             # epoch seconds (event time of the alert + duration)
    simulated: bool = False
    id: str = ""
    alert_id: str = ""

    @property
    def key(self) -> str:
        """The decisions-topic key: `scope:value`, e.g. `Ip:192.0.2.7`."""
        return f"{self.scope}:{self.value}"

    def to_dict(self) -> dict:
        return {"id": self.id, "origin": self.origin, "scenario": self.scenario, "scope": self.scope,
                "value": self.value, "type": self.type, "duration": format_duration(self.duration),
                "until": format_ts(self.until), "simulated": self.simulated, "alert_id": self.alert_id}


def format_duration(seconds: float) -> str:
    """Go-style duration text: 4h0m0s."""
    s = int(round(seconds))
    sign = "-" if s < 0 else ""
    s = abs(s)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    if h:
        return f"{sign}{h}h{m}m{sec}s"
    if m:
        return f"{sign}{m}m{sec}s"
    return f"{sign}{sec}s"
