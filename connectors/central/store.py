"""Central's SQLite store (`central.db` in its state dir): watchers, signals and the community blocklist.

`blocklist` rows carry a sequence number that moves when an entry is listed and when it is removed, so
`GET /v2/decisions/stream` can send each watcher the changes since its last pull (its `last_seq`). This is the
single-process store of the first crowd slice; the `synsec.signals` Kafka topic and the Faust curation
topology replace it later (docs/crowd.md).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from connectors.central.consensus import Listing, Rule, decide
from connectors.central.signals import Signal

__all__ = ["CentralStore", "BlockEntry"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS watchers (machine_id TEXT PRIMARY KEY, password TEXT NOT NULL, scenarios TEXT NOT NULL
    DEFAULT '', registered_at REAL NOT NULL, last_login REAL, last_seq INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS signals (id INTEGER PRIMARY KEY, watcher TEXT NOT NULL, machine_id TEXT NOT NULL,
    scenario TEXT NOT NULL, scenario_hash TEXT NOT NULL, scenario_version TEXT NOT NULL, scope TEXT NOT NULL,
    value TEXT NOT NULL, start_at TEXT NOT NULL, stop_at TEXT NOT NULL, created_at TEXT NOT NULL,
    events_count INTEGER, received_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS signals_received ON signals (received_at);
CREATE TABLE IF NOT EXISTS blocklist (id INTEGER PRIMARY KEY, scope TEXT NOT NULL, value TEXT NOT NULL,
    scenario TEXT NOT NULL, listed_at REAL NOT NULL, until REAL NOT NULL, removed_at REAL, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS blocklist_seq ON blocklist (seq);
"""

BlockEntry = tuple[int, str, str, str, float]     # id, scope, value, scenario, until


class CentralStore:
    def __init__(self, state_dir: Path):
        Path(state_dir).mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(Path(state_dir) / "central.db", isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    # ---------------------------------------------------------------- watchers
    def password_of(self, machine_id: str) -> str | None:
        row = self.db.execute("SELECT password FROM watchers WHERE machine_id=?", (machine_id,)).fetchone()
        return row[0] if row else None

    def add_watcher(self, machine_id: str, password_hash: str, now: float) -> None:
        self.db.execute("INSERT INTO watchers (machine_id, password, registered_at) VALUES (?, ?, ?)",
                        (machine_id, password_hash, now))

    def logged_in(self, machine_id: str, scenarios: list[str], now: float) -> None:
        self.db.execute("UPDATE watchers SET scenarios=?, last_login=? WHERE machine_id=?",
                        (",".join(scenarios), now, machine_id))

    def watchers(self) -> list[tuple[str, str]]:
        return self.db.execute("SELECT machine_id, scenarios FROM watchers ORDER BY machine_id").fetchall()

    # ---------------------------------------------------------------- signals
    def add_signals(self, watcher: str, signals: list[Signal], now: float) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT INTO signals (watcher, machine_id, scenario, scenario_hash, scenario_version, scope, value,"
                " start_at, stop_at, created_at, events_count, received_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [(watcher, s.machine_id, s.scenario, s.scenario_hash, s.scenario_version, s.scope, s.value,
                  s.start_at, s.stop_at, s.created_at, s.events_count, now) for s in signals])

    def signals(self) -> list[dict]:
        cur = self.db.execute("SELECT * FROM signals ORDER BY id")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    # ---------------------------------------------------------------- blocklist
    def refresh(self, now: float, rule: Rule) -> None:
        """Apply the consensus rule to the signals of the window: list new addresses, drop lapsed ones."""
        reports = self.db.execute("SELECT value, watcher, scenario, MAX(received_at) FROM signals WHERE scope='Ip'"
                                  " AND received_at > ? GROUP BY value, watcher, scenario", (now - rule.window,))
        listed: dict[str, Listing] = decide(reports.fetchall(), now, rule)
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            seq = self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM blocklist").fetchone()[0]
            active = dict(self.db.execute("SELECT value, id FROM blocklist WHERE removed_at IS NULL").fetchall())
            for value, rid in active.items():
                if value in listed:
                    self.db.execute("UPDATE blocklist SET until=? WHERE id=?", (listed[value].until, rid))
                else:
                    seq += 1
                    self.db.execute("UPDATE blocklist SET removed_at=?, seq=? WHERE id=?", (now, seq, rid))
            for value in sorted(set(listed) - set(active)):
                seq += 1
                entry = listed[value]
                self.db.execute("INSERT INTO blocklist (scope, value, scenario, listed_at, until, seq)"
                                " VALUES ('Ip', ?, ?, ?, ?, ?)", (value, entry.scenario, now, entry.until, seq))

    def stream(self, watcher: str, startup: bool) -> tuple[list[BlockEntry], list[BlockEntry]]:
        """(new, deleted) entries for a watcher's pull — everything active at startup — and moves its position."""
        head = self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM blocklist").fetchone()[0]
        last = 0 if startup else self.db.execute("SELECT last_seq FROM watchers WHERE machine_id=?",
                                                 (watcher,)).fetchone()[0]
        cols = "id, scope, value, scenario, until"
        new = self.db.execute(f"SELECT {cols} FROM blocklist WHERE removed_at IS NULL AND seq > ? ORDER BY id",
                              (last,)).fetchall()
        deleted = [] if startup else self.db.execute(
            f"SELECT {cols} FROM blocklist WHERE removed_at IS NOT NULL AND seq > ? ORDER BY id", (last,)).fetchall()
        self.db.execute("UPDATE watchers SET last_seq=? WHERE machine_id=?", (head, watcher))
        return new, deleted

    def blocklist(self) -> list[BlockEntry]:
        return self.db.execute("SELECT id, scope, value, scenario, until FROM blocklist WHERE removed_at IS NULL"
                               " ORDER BY id").fetchall()
