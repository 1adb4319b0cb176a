"""SQLite store for alerts and decisions. Inserts are idempotent by id (replaying twice adds nothing).

Every decision gets a change-log row when it appears (`new`), is deleted (`deleted`) or is found expired by
`expire()` (`expired`); triggers write the log, so every writer of the table is covered. The log's sequence
is what each bouncer's `/v1/decisions/stream` delta is computed from, and a decision's `num` (the sequence of
its `new` row) is the integer id the LAPI shows.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

from synsec.engine.decisions import until_of
from synsec.engine.model import Alert, Decision
from synsec.store.allowlists import ALLOWLISTS_SCHEMA, AllowlistReader, AllowlistTable
from synsec.store.decision_history import DecisionHistoryTable
from synsec.store.bouncers import BOUNCERS_INDEX, BOUNCERS_SCHEMA, BouncerTable
from synsec.store.alert_filter import AlertFilter
from synsec.store.files import private_dir, private_file
from synsec.store.machines import MACHINES_SCHEMA, MachineTable
from synsec.store.metrics import METRICS_SCHEMA, MetricsTable
from synsec.store.outbox import OUTBOX_SCHEMA, OutboxTable, migrate_outbox

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
CREATE TABLE IF NOT EXISTS decision_changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, decision_id TEXT NOT NULL, kind TEXT NOT NULL, at REAL NOT NULL
);
"""

# Added after the first release: applied to old databases by _migrate (ALTER TABLE ADD COLUMN).
_NEW_COLUMNS = {"num": "INTEGER", "expired_at": "REAL"}

TRIGGERS = """
CREATE UNIQUE INDEX IF NOT EXISTS decisions_num ON decisions(num);
CREATE INDEX IF NOT EXISTS decisions_by_value ON decisions(value);
CREATE INDEX IF NOT EXISTS decisions_open ON decisions(until) WHERE deleted_at IS NULL AND expired_at IS NULL;
CREATE TRIGGER IF NOT EXISTS decisions_log_new AFTER INSERT ON decisions BEGIN
  INSERT INTO decision_changes(decision_id, kind, at) VALUES (new.id, 'new', new.created_at);
  UPDATE decisions SET num = last_insert_rowid() WHERE id = new.id;
END;
CREATE TRIGGER IF NOT EXISTS decisions_log_deleted AFTER UPDATE OF deleted_at ON decisions
WHEN old.deleted_at IS NULL AND new.deleted_at IS NOT NULL AND old.expired_at IS NULL BEGIN
  INSERT INTO decision_changes(decision_id, kind, at) VALUES (new.id, 'deleted', new.deleted_at);
END;
CREATE TRIGGER IF NOT EXISTS decisions_log_expired AFTER UPDATE OF expired_at ON decisions
WHEN old.expired_at IS NULL AND new.expired_at IS NOT NULL AND old.deleted_at IS NULL BEGIN
  INSERT INTO decision_changes(decision_id, kind, at) VALUES (new.id, 'expired', new.expired_at);
END;
"""

_ALERT_COLS = ("id", "scenario", "source_scope", "source_value", "source_ip", "source_range", "as_number", "country",
               "events_count", "start_at", "stop_at", "labels", "remediation", "simulated", "body", "created_at",
               "machine_id")
_DECISION_COLS = ("id", "alert_id", "origin", "scenario", "scope", "value", "type", "duration", "until",
                  "simulated", "created_at")


def default_state_dir() -> Path:
    """$SYNSEC_STATE_DIR, else ~/.local/state/synsec (read once, at the CLI edge)."""
    env = os.environ.get("SYNSEC_STATE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "synsec"


def _migrate(db: sqlite3.Connection) -> None:
    """Bring a database written by an older synsec up to the current schema (idempotent)."""
    have = {row[1] for row in db.execute("PRAGMA table_info(decisions)")}
    with db:
        for col, typ in _NEW_COLUMNS.items():
            if col not in have:
                db.execute(f"ALTER TABLE decisions ADD COLUMN {col} {typ}")
        db.executescript(TRIGGERS + BOUNCERS_SCHEMA + METRICS_SCHEMA + MACHINES_SCHEMA + ALLOWLISTS_SCHEMA
                         + OUTBOX_SCHEMA)
        migrate_outbox(db)
        if "machine_id" not in {row[1] for row in db.execute("PRAGMA table_info(alerts)")}:
            db.execute("ALTER TABLE alerts ADD COLUMN machine_id TEXT")
        if "key_id" not in {row[1] for row in db.execute("PRAGMA table_info(bouncers)")}:
            db.execute("ALTER TABLE bouncers ADD COLUMN key_id TEXT")
        # unsalted rows (plain SHA-256 hex): their key id is the hash's first 8 characters
        db.execute("UPDATE bouncers SET key_id = substr(key_hash, 1, 8) WHERE key_id IS NULL")
        db.executescript(BOUNCERS_INDEX)
        for (did, created) in db.execute("SELECT id, created_at FROM decisions WHERE num IS NULL "
                                         "ORDER BY created_at, id").fetchall():
            cur = db.execute("INSERT INTO decision_changes(decision_id, kind, at) VALUES (?, 'new', ?)",
                             (did, created or 0.0))
            db.execute("UPDATE decisions SET num = ? WHERE id = ?", (cur.lastrowid, did))


class Store(BouncerTable, MetricsTable, MachineTable, DecisionHistoryTable, AllowlistTable, OutboxTable):
    def __init__(self, state_dir: str | Path):
        self.dir = private_dir(state_dir)
        self.path = private_file(self.dir / "synsec.db")
        for suffix in ("-wal", "-shm"):           # an older synsec's, possibly 0644
            if self.path.with_name(self.path.name + suffix).exists():
                private_file(self.path.with_name(self.path.name + suffix))
        self.db = sqlite3.connect(self.path, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")  # the API reads while replay/ccscli write
        self.db.executescript(SCHEMA)
        _migrate(self.db)

    def close(self) -> None:
        self.db.close()

    def allowlist_reader(self) -> AllowlistReader:
        """The allowlists of this store, read from any thread (an engine allowlist source)."""
        return AllowlistReader(self.path)

    def add(self, alerts: list[Alert], decisions: list[Decision], now: float | None = None,
            machine_id: str | None = None) -> None:
        """Store alerts and decisions. A decision is taken at wall-clock `now` (`engine.decisions`: it runs
        from then for its duration), as CrowdSec's LAPI does when an agent (live or forensic) pushes an alert.
        `machine_id`: the machine that pushed the alerts (`POST /v1/alerts`), kept in each alert's body."""
        now = time.time() if now is None else now
        bodies = [(a, {**a.to_dict(), **({"machine_id": machine_id} if machine_id else {})}) for a in alerts]
        with self.db:
            self.db.executemany(
                f"INSERT OR IGNORE INTO alerts ({','.join(_ALERT_COLS)}) VALUES ({','.join('?' * len(_ALERT_COLS))})",
                [(a.UUID, a.Scenario, a.Source.Scope, a.Source.Value, a.Source.IP, a.Source.Range,
                  a.Source.AsNumber, a.Source.Cn, a.EventsCount, body["start_at"], body["stop_at"],
                  json.dumps(a.Labels), int(a.Remediation), int(a.Simulated), json.dumps(body), now, machine_id)
                 for a, body in bodies])
            self.db.executemany(
                f"INSERT OR IGNORE INTO decisions ({','.join(_DECISION_COLS)}) VALUES "
                f"({','.join('?' * len(_DECISION_COLS))})",
                [(d.id, d.alert_id, d.origin, d.scenario, d.scope, d.value, d.type, d.duration,
                  until_of(now, d.duration), int(d.simulated), now) for d in decisions])
            self._queue_notifications(alerts, now)

    def decisions(self, *, active_only: bool = True, now: float | None = None, value: str | None = None,
                  scenario: str | None = None, origin: str | None = None, limit: int = 0) -> list[dict]:
        now = time.time() if now is None else now
        sql, args = "SELECT * FROM decisions WHERE 1=1", []
        if active_only:
            sql += " AND deleted_at IS NULL AND until > ?"     # engine.decisions.is_over, in SQL
            args.append(now)
        for col, val in (("value", value), ("scenario", scenario), ("origin", origin)):
            if val:
                sql += f" AND {col} = ?"
                args.append(val)
        sql += " ORDER BY created_at DESC, id" + (f" LIMIT {int(limit)}" if limit else "")
        return self._rows(sql, args)

    def alerts(self, *, scenario: str | None = None, value: str | None = None, limit: int = 0,
               where: AlertFilter | None = None) -> list[dict]:
        """Alert bodies, newest first: by scenario and source value, or any `AlertFilter`."""
        return [body for _, _, body in self.alert_rows(where or AlertFilter(scenario=scenario, value=value), limit)]

    def alert_rows(self, where: AlertFilter, limit: int = 0) -> list[tuple[int, float, dict]]:
        """(row number, stored at, body) of the matching alerts, newest first; the row number is the integer id
        CrowdSec's LAPI shows."""
        sql, args = where.sql("SELECT rowid, created_at, body, source_scope, source_value, source_ip FROM alerts")
        sql += " ORDER BY stop_at DESC, id" + (f" LIMIT {int(limit)}" if limit and where.network is None else "")
        rows = [r[:3] for r in self.db.execute(sql, args) if where.in_network(r[3], r[4], r[5])]
        return [(num, at, json.loads(body)) for num, at, body in (rows[:limit] if limit else rows)]

    def alert(self, alert_id: str) -> dict | None:
        row = self.alert_row(alert_id)
        return row[2] if row else None

    def alert_row(self, alert_id: str) -> tuple[int, float, dict] | None:
        """One alert by its id, else (ASCII digits) by its row number."""
        row = self.db.execute("SELECT rowid, created_at, body FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        if row is None and alert_id.isascii() and alert_id.isdigit() and len(alert_id) < 19:
            row = self.db.execute("SELECT rowid, created_at, body FROM alerts WHERE rowid = ?",
                                  (int(alert_id),)).fetchone()
        return (row[0], row[1], json.loads(row[2])) if row else None

    def decisions_of(self, alert_ids: list[str]) -> dict[str, list[dict]]:
        """{alert id: its decisions (rows)}."""
        out: dict[str, list[dict]] = {}
        for i in range(0, len(alert_ids), 500):
            chunk = alert_ids[i:i + 500]
            for row in self._rows(f"SELECT * FROM decisions WHERE alert_id IN ({','.join('?' * len(chunk))}) "
                                  "ORDER BY num", chunk):
                out.setdefault(row["alert_id"], []).append(row)
        return out

    def delete_alerts(self, *, alert_id: str | None = None, scenario: str | None = None,
                      value: str | None = None, everything: bool = False, where: AlertFilter | None = None) -> int:
        """Remove matching alerts (their decisions stay); at least one filter (or `everything`) is required."""
        where = where or AlertFilter(alert_id=alert_id, scenario=scenario, value=value)
        if where.empty() and not everything:
            raise ValueError("delete_alerts needs a filter (or everything=True)")
        sql, args = where.sql("SELECT id, source_scope, source_value, source_ip FROM alerts")
        ids = [r[0] for r in self.db.execute(sql, args) if where.in_network(r[1], r[2], r[3])]
        with self.db:
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                self.db.execute(f"DELETE FROM alerts WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        return len(ids)

    def flush_alerts(self, *, max_items: int, max_age: float, now: float) -> int:
        """Delete alerts stored before `now - max_age` (0: none by age), then all but the newest `max_items`
        (0: no limit); their decisions stay. How many were deleted."""
        with self.db:
            n = self.db.execute("DELETE FROM alerts WHERE created_at < ?", (now - max_age,)).rowcount if max_age else 0
            if max_items:
                n += self.db.execute("DELETE FROM alerts WHERE id NOT IN (SELECT id FROM alerts ORDER BY created_at "
                                     "DESC, id LIMIT ?)", (max_items,)).rowcount
        return n

    def alert_counts(self) -> dict[str, int]:
        """{scenario: stored alerts}."""
        return dict(self.db.execute("SELECT scenario, COUNT(*) FROM alerts GROUP BY scenario").fetchall())

    def delete_decisions(self, *, value: str | None = None, decision_id: str | None = None,
                         now: float | None = None, num: int | None = None, scope: str | None = None,
                         scenario: str | None = None, origin: str | None = None, type: str | None = None,
                         everything: bool = False) -> int:
        """Mark matching decisions deleted; at least one filter (or `everything`) is required."""
        now = time.time() if now is None else now
        sql, args = "UPDATE decisions SET deleted_at = ? WHERE deleted_at IS NULL", [now]
        filters = (("value", value), ("id", decision_id), ("num", num), ("scope", scope),
                   ("scenario", scenario), ("origin", origin), ("type", type))
        if not everything and not any(v is not None and v != "" for _, v in filters):
            raise ValueError("delete_decisions needs a filter (or everything=True)")
        for col, val in filters:
            if val is not None and val != "":
                sql += f" AND {col} = ? COLLATE NOCASE" if col == "scope" else f" AND {col} = ?"
                args.append(val)
        with self.db:
            return self.db.execute(sql, args).rowcount

    # -- change log (the sequence behind /v1/decisions/stream) ------------------------------------------

    def expire(self, now: float | None = None) -> int:
        """Log an `expired` change for each decision whose `until` has passed (once per decision)."""
        now = time.time() if now is None else now
        with self.db:
            return self.db.execute("UPDATE decisions SET expired_at = until WHERE deleted_at IS NULL AND "
                                   "expired_at IS NULL AND until <= ?", (now,)).rowcount

    def head_seq(self) -> int:
        return self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM decision_changes").fetchone()[0]

    def changes_after(self, seq: int, limit: int = 10000) -> list[dict]:
        """Change-log rows with seq > `seq`, oldest first, each joined to its decision's columns."""
        return self._rows("SELECT c.seq AS seq, c.kind AS kind, c.at AS at, d.* FROM decision_changes c "
                          "JOIN decisions d ON d.id = c.decision_id WHERE c.seq > ? ORDER BY c.seq LIMIT ?",
                          [seq, limit])

    def open_decisions(self) -> list[dict]:
        """Decisions neither deleted nor logged as expired (they may be past `until`: expire() logs that)."""
        return self._rows("SELECT * FROM decisions WHERE deleted_at IS NULL AND expired_at IS NULL "
                          "ORDER BY num", [])

    def decision_nums(self, ids: list[str]) -> dict[str, int]:
        """{decision id: num} for the given decision ids."""
        out: dict[str, int] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            out.update(self.db.execute(f"SELECT id, num FROM decisions WHERE id IN ({','.join('?' * len(chunk))})",
                                       chunk).fetchall())
        return out

    def decision_by_num(self, num: int) -> dict | None:
        rows = self._rows("SELECT * FROM decisions WHERE num = ?", [num])
        return rows[0] if rows else None

    def _rows(self, sql: str, args: list) -> list[dict]:
        cur = self.db.execute(sql, args)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row)) for row in cur.fetchall()]
