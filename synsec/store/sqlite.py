"""SQLite store for alerts and decisions. Inserts are idempotent by id (replaying twice adds nothing)."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

from synsec.engine.model import Alert, Decision

__all__ = ["Store", "default_state_dir"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
  id TEXT PRIMARY KEY, scenario TEXT NOT NULL, source_scope TEXT, source_value TEXT, source_ip TEXT,
  source_range TEXT, as_number TEXT, country TEXT, events_count INTEGER, start_at TEXT, stop_at TEXT,
  labels TEXT, remediation INTEGER, simulated INTEGER, body TEXT, created_at REAL
);
CREATE INDEX IF NOT EXISTS alerts_value ON alerts(source_value);
CREATE INDEX IF NOT EXISTS alerts_scenario ON alerts(scenario);
CREATE TABLE IF NOT EXISTS decisions (
  id TEXT PRIMARY KEY, alert_id TEXT, origin TEXT, scenario TEXT, scope TEXT, value TEXT, type TEXT,
  duration REAL, until REAL, simulated INTEGER, created_at REAL, deleted_at REAL
);
CREATE INDEX IF NOT EXISTS decisions_value ON decisions(scope, value);
"""


def default_state_dir() -> Path:
    """$SYNSEC_STATE_DIR, else ~/.local/state/synsec (read once, at the CLI edge)."""
    env = os.environ.get("SYNSEC_STATE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "synsec"


class Store:
    def __init__(self, state_dir: str | Path):
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "synsec.db"
        self.db = sqlite3.connect(self.path)
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def add(self, alerts: list[Alert], decisions: list[Decision], now: float | None = None) -> None:
        """Store alerts and decisions. A decision's `until` is rebased on wall-clock now + duration, as
        CrowdSec's LAPI does when an agent (live or forensic) pushes an alert."""
        now = time.time() if now is None else now
        bodies = [(a, a.to_dict()) for a in alerts]
        with self.db:
            self.db.executemany(
                "INSERT OR IGNORE INTO alerts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(a.UUID, a.Scenario, a.Source.Scope, a.Source.Value, a.Source.IP, a.Source.Range,
                  a.Source.AsNumber, a.Source.Cn, a.EventsCount, body["start_at"], body["stop_at"],
                  json.dumps(a.Labels), int(a.Remediation), int(a.Simulated), json.dumps(body), now)
                 for a, body in bodies])
            self.db.executemany(
                "INSERT OR IGNORE INTO decisions VALUES (?,?,?,?,?,?,?,?,?,?,?,NULL)",
                [(d.id, d.alert_id, d.origin, d.scenario, d.scope, d.value, d.type, d.duration,
                  now + d.duration, int(d.simulated), now) for d in decisions])

    def decisions(self, *, active_only: bool = True, now: float | None = None, value: str | None = None,
                  scenario: str | None = None, origin: str | None = None, limit: int = 0) -> list[dict]:
        now = time.time() if now is None else now
        sql, args = "SELECT * FROM decisions WHERE 1=1", []
        if active_only:
            sql += " AND deleted_at IS NULL AND until > ?"
            args.append(now)
        for col, val in (("value", value), ("scenario", scenario), ("origin", origin)):
            if val:
                sql += f" AND {col} = ?"
                args.append(val)
        sql += " ORDER BY created_at DESC, id" + (f" LIMIT {int(limit)}" if limit else "")
        cur = self.db.execute(sql, args)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row)) for row in cur.fetchall()]

    def alerts(self, *, scenario: str | None = None, value: str | None = None, limit: int = 0) -> list[dict]:
        sql, args = "SELECT body FROM alerts WHERE 1=1", []
        for col, val in (("scenario", scenario), ("source_value", value)):
            if val:
                sql += f" AND {col} = ?"
                args.append(val)
        sql += " ORDER BY stop_at DESC, id" + (f" LIMIT {int(limit)}" if limit else "")
        return [json.loads(r[0]) for r in self.db.execute(sql, args).fetchall()]

    def alert(self, alert_id: str) -> dict | None:
        row = self.db.execute("SELECT body FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def delete_decisions(self, *, value: str | None = None, decision_id: str | None = None,
                         now: float | None = None) -> int:
        now = time.time() if now is None else now
        sql, args = "UPDATE decisions SET deleted_at = ? WHERE deleted_at IS NULL", [now]
        if value:
            sql += " AND value = ?"
            args.append(value)
        if decision_id:
            sql += " AND id = ?"
            args.append(decision_id)
        with self.db:
            return self.db.execute(sql, args).rowcount
