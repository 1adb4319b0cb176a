"""Engine records → ClickHouse rows (column order of `schemas/clickhouse/00*.sql`).

Only what an analyst needs is kept: the alert, its source and, per event, the event time and its Meta map —
never the raw log line (an `Alert` does not carry one, and nothing here reads `Event.Line`). Times are epoch
seconds (the DateTime columns); sub-second parts are truncated.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Callable

from synsec.engine.model import Alert, Decision
from synsec.engine.profiles import alert_id

__all__ = ["Table", "TABLES", "ALERT_COLUMNS", "DECISION_COLUMNS", "alert_row", "decision_row", "decision_id", "table_for",
           "insert_query"]

ALERT_COLUMNS = (
    "id", "scenario", "scenario_version", "scenario_hash", "message", "source_scope", "source_value",
    "source_ip", "source_range", "source_as_number", "source_as_name", "source_country", "source_latitude",
    "source_longitude", "events_count", "start_at", "stop_at", "capacity", "leakspeed", "remediation",
    "simulated", "labels.key", "labels.value", "events.timestamp", "events.meta",
)

DECISION_COLUMNS = (
    "id", "alert_id", "origin", "scenario", "scope", "value", "type", "duration", "created_at", "until",
    "simulated",
)

_UINT32_MAX = 2**32 - 1


def _epoch(ts: float) -> int:
    """DateTime is UInt32 epoch seconds: clamp to its range instead of letting an insert fail (NaN, written
    before durations were bounded, reads as 0; ±inf as the range's ends)."""
    if ts != ts:
        return 0
    return int(min(max(ts, 0), _UINT32_MAX))


def alert_row(alert: Alert) -> tuple:
    src = alert.Source
    labels = {str(k): str(v) for k, v in (alert.Labels or {}).items()}
    events = alert.Events or []
    return (
        alert.UUID or alert_id(alert), alert.Scenario, alert.ScenarioVersion, alert.ScenarioHash, alert.Message,
        src.Scope, src.Value, src.IP, src.Range, str(src.AsNumber or ""), src.AsName, src.Cn,
        float(src.Latitude or 0.0), float(src.Longitude or 0.0),
        min(max(int(alert.EventsCount), 0), _UINT32_MAX), _epoch(alert.StartAt), _epoch(alert.StopAt),
        int(alert.Capacity), alert.Leakspeed, int(bool(alert.Remediation)), int(bool(alert.Simulated)),
        list(labels), list(labels.values()),
        [_epoch(e.get("timestamp", 0.0)) for e in events],
        [json.dumps({str(k): str(v) for k, v in (e.get("meta") or {}).items()}, sort_keys=True,
                    separators=(",", ":")) for e in events],
    )


def decision_id(decision: Decision) -> str:
    """A deterministic id for a decision that came without one (e.g. added by hand): same fields → same id."""
    text = f"{decision.origin}|{decision.scenario}|{decision.scope}|{decision.value}|{decision.type}|" \
           f"{decision.until!r}|{decision.duration!r}"
    return "d-" + hashlib.sha1(text.encode()).hexdigest()[:20]


def decision_row(decision: Decision) -> tuple:
    duration = float(decision.duration)
    duration = duration if 0.0 <= duration <= _UINT32_MAX else float(_UINT32_MAX) if duration > 0 else 0.0
    return (
        decision.id or decision_id(decision), decision.alert_id, decision.origin, decision.scenario, decision.scope, decision.value,
        decision.type, int(duration), _epoch(decision.until - duration),
        _epoch(decision.until), int(bool(decision.simulated)),
    )


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    row: Callable[[object], tuple]     # first column: the id that makes a redelivered record the same row


TABLES: dict[type, Table] = {
    Alert: Table("alerts", ALERT_COLUMNS, alert_row),
    Decision: Table("decisions", DECISION_COLUMNS, decision_row),
}


def table_for(record: object) -> Table:
    try:
        return TABLES[type(record)]
    except KeyError:
        raise TypeError(f"no ClickHouse table for {type(record).__name__}; expected Alert or Decision") from None


def insert_query(table: Table) -> str:
    return f"INSERT INTO {table.name} ({', '.join(f'`{c}`' for c in table.columns)}) VALUES"
