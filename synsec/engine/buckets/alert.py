"""Overflow → alerts, as CrowdSec's `NewAlert` (pkg/leakybucket/overflows.go) builds them.

One `Alert` per distinct source of the kept events (CrowdSec sends one APIAlert per source), sharing counts and
times: StartAt = first event, StopAt = overflow time, EventsCount = events poured, Events = the kept events'
Meta (keys sorted) with their timestamps.
"""

from __future__ import annotations

from typing import NamedTuple

from synsec.engine.model import Alert, RuntimeAlert, Source, ts_to_datetime
from synsec.engine.buckets.spec import go_duration

__all__ = ["Overflow", "build_overflow", "runtime_alert", "go_time"]


class Overflow(NamedTuple):
    """What a transition emits when a bucket overflows: its alerts, or why it could not build them; or, with
    `dropped`, that the bucket ended without an alert (CrowdSec sends an empty overflow then), to be counted."""

    scenario: str             # the spec's id (its name unless documents share a name)
    key: str
    alerts: tuple             # tuple[Alert, ...]; empty when `error` is set
    sources: dict             # value -> Source (CrowdSec RuntimeAlert.Sources)
    reprocess: bool
    error: str = ""
    dropped: str = ""         # canceled (cancel_on), blackholed or filtered (overflow_filter): no alert


def go_time(ts: float) -> str:
    """Go's `time.Time.String()` for a UTC time: `2022-01-02 03:04:05.5 +0000 UTC`."""
    us = round(ts * 1_000_000)
    dt = ts_to_datetime(us // 1_000_000)
    frac = us % 1_000_000
    tail = f".{frac:06d}".rstrip("0") if frac else ""
    return f"{dt:%Y-%m-%d %H:%M:%S}{tail} +0000 UTC"


def build_overflow(spec, state, key: str, ovflw_ts: float) -> Overflow:
    sources: dict[str, tuple] = {}
    scope = ""
    events = []
    for ts, meta, srcs, _extra in state.queue:
        if isinstance(srcs, str):
            return Overflow(spec.id, key, (), {}, spec.reprocess,
                            f"while extracting scope from bucket {spec.name}: {srcs}")
        for src in srcs:
            if not scope:
                scope = src[0]
            elif src[0] != scope:
                return Overflow(spec.id, key, (), {}, spec.reprocess,
                                f"event has multiple source types : {src[0]} != {scope}")
            sources[src[1]] = src
        if meta is not None:
            events.append({"timestamp": ts, "meta": dict(sorted(meta.items()))})
    if len(sources) > 1:
        who = f"{len(sources)} sources"
    elif sources:
        who = next(iter(sources))
    else:
        who = "UNKNOWN"
    message = (f"{scope} {who} performed '{spec.name}' ({state.count} events over "
               f"{go_duration(ovflw_ts - state.first_ts)}) at {go_time(state.last_ts)}")
    models = {value: Source(*src) for value, src in sources.items()}
    alerts = tuple(
        Alert(Scenario=spec.name, Source=src, EventsCount=state.count, StartAt=state.first_ts, StopAt=ovflw_ts,
              Events=[dict(e) for e in events], Labels=dict(spec.labels), Remediation=spec.remediation,
              Capacity=spec.capacity, Leakspeed=spec.leakspeed_text, ScenarioVersion=spec.scenario_version,
              ScenarioHash=spec.scenario_hash, Message=message)
        for src in models.values())
    return Overflow(spec.id, key, alerts, models, spec.reprocess)


def runtime_alert(ovf: Overflow) -> RuntimeAlert:
    """CrowdSec's RuntimeAlert for an overflow that has alerts (what `evt.Overflow` holds)."""
    return RuntimeAlert(Alert=ovf.alerts[0], Sources=dict(ovf.sources), Reprocess=ovf.reprocess, Mapkey=ovf.key)
