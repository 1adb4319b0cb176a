"""Central's SQLite store (`central.db` in its state dir): watchers, signals and the community blocklist.

`blocklist` rows carry a sequence number that moves when an entry is listed and when it is removed, so
`GET /v2/decisions/stream` can send each watcher the changes since its last pull (its `last_seq`); a removal is
kept as a tombstone row (`removed_at`, a new `seq`) and sent as a `deleted` entry. What is listed is decided by
the curation (connectors/central/curation.py), which is rebuilt at start from the registrations and signals
kept here (`history`) and whose changes are written here (`publish`, `sync`).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from collections.abc import Iterable, Iterator

from connectors.central.curation import Listed, Removed
from connectors.central.signals import Signal

__all__ = ["CentralStore", "BlockEntry"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS watchers (machine_id TEXT PRIMARY KEY, password TEXT NOT NULL, scenarios TEXT NOT NULL
    DEFAULT '', registered_at REAL NOT NULL, last_login REAL, last_seq INTEGER NOT NULL DEFAULT 0,
    registered_from TEXT);
CREATE TABLE IF NOT EXISTS signals (id INTEGER PRIMARY KEY, watcher TEXT NOT NULL, machine_id TEXT NOT NULL,
    scenario TEXT NOT NULL, scenario_hash TEXT NOT NULL, scenario_version TEXT NOT NULL, scope TEXT NOT NULL,
    value TEXT NOT NULL, start_at TEXT NOT NULL, stop_at TEXT NOT NULL, created_at TEXT NOT NULL,
    events_count INTEGER, received_at REAL NOT NULL, uuid TEXT, published INTEGER NOT NULL DEFAULT 1,
    cohort TEXT, burst INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS signals_received ON signals (received_at);
CREATE INDEX IF NOT EXISTS signals_unpublished ON signals (id) WHERE published = 0;
CREATE INDEX IF NOT EXISTS signals_value ON signals (value);
CREATE TABLE IF NOT EXISTS blocklist (id INTEGER PRIMARY KEY, scope TEXT NOT NULL, value TEXT NOT NULL,
    scenario TEXT NOT NULL, listed_at REAL NOT NULL, until REAL NOT NULL, removed_at REAL, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS blocklist_seq ON blocklist (seq);
CREATE TABLE IF NOT EXISTS cohort_changes (id INTEGER PRIMARY KEY, after_signal INTEGER NOT NULL,
    reporter TEXT NOT NULL, cohort TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), last_signal INTEGER NOT NULL,
    taken_at REAL NOT NULL, state BLOB NOT NULL);
"""

_ADDED_SIGNAL_COLUMNS = (("uuid", "TEXT"), ("published", "INTEGER NOT NULL DEFAULT 1"), ("cohort", "TEXT"),
                         ("burst", "INTEGER NOT NULL DEFAULT 0"))

BlockEntry = tuple[int, str, str, str, float]     # id, scope, value, scenario, until


class CentralStore:
    def __init__(self, state_dir: Path):
        Path(state_dir).mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(Path(state_dir) / "central.db", isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        if self.db.execute("SELECT 1 FROM sqlite_master WHERE name='watchers'").fetchone() and not any(
                row[1] == "registered_from" for row in self.db.execute("PRAGMA table_info(watchers)")):
            self.db.execute("ALTER TABLE watchers ADD COLUMN registered_from TEXT")    # a first-slice store
        if self.db.execute("SELECT 1 FROM sqlite_master WHERE name='signals'").fetchone():
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(signals)")}
            for name, kind in _ADDED_SIGNAL_COLUMNS:        # a store from before signal ids / the published flag
                if name not in columns:
                    self.db.execute(f"ALTER TABLE signals ADD COLUMN {name} {kind}")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    # ---------------------------------------------------------------- watchers
    def password_of(self, machine_id: str) -> str | None:
        row = self.db.execute("SELECT password FROM watchers WHERE machine_id=?", (machine_id,)).fetchone()
        return row[0] if row else None

    def add_watcher(self, machine_id: str, password_hash: str, now: float, address: str | None = None,
                    cohorts: dict[str, str] | None = None) -> None:
        """Store a watcher and (Kafka mode) the cohort changes its registration made, unpublished, in one
        transaction: a crash or an outage loses neither."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("INSERT INTO watchers (machine_id, password, registered_at, registered_from)"
                            " VALUES (?, ?, ?, ?)", (machine_id, password_hash, now, address))
            self.add_cohort_changes(cohorts or {})

    def add_cohort_changes(self, changes: dict[str, str]) -> None:
        """Cohort changes (reporter -> its new cohort) to publish after the signals stored so far (Kafka mode)."""
        self.db.executemany("INSERT INTO cohort_changes (after_signal, reporter, cohort) VALUES"
                            " ((SELECT COALESCE(MAX(id), 0) FROM signals), ?, ?)", sorted(changes.items()))

    def unpublished_cohorts(self) -> list[dict]:
        """The cohort changes not yet acked by the broker: {id, after_signal, reporter, cohort}, stored order."""
        cur = self.db.execute("SELECT id, after_signal, reporter, cohort FROM cohort_changes ORDER BY id")
        return [dict(zip(("id", "after_signal", "reporter", "cohort"), row)) for row in cur.fetchall()]

    def mark_cohorts_published(self, ids: list[int]) -> None:
        """The broker acked these cohort changes (on every partition): forget them."""
        if ids:
            with self.db:
                self.db.execute("BEGIN")
                self.db.executemany("DELETE FROM cohort_changes WHERE id = ?", [(i,) for i in ids])

    def logged_in(self, machine_id: str, scenarios: list[str] | None, now: float) -> None:
        """A login; `scenarios` replaces the stored list unless None (the login sent none: ccscli's)."""
        if scenarios is None:
            self.db.execute("UPDATE watchers SET last_login=? WHERE machine_id=?", (now, machine_id))
            return
        self.db.execute("UPDATE watchers SET scenarios=?, last_login=? WHERE machine_id=?",
                        (",".join(scenarios), now, machine_id))

    def scenarios_of(self, machine_id: str) -> list[str]:
        """The scenario names a watcher sent at its last login (none: it sent none, or never logged in)."""
        row = self.db.execute("SELECT scenarios FROM watchers WHERE machine_id=?", (machine_id,)).fetchone()
        return [name for name in (row[0] if row else "").split(",") if name]

    def watchers(self) -> list[tuple[str, str]]:
        return self.db.execute("SELECT machine_id, scenarios FROM watchers ORDER BY machine_id").fetchall()

    # ---------------------------------------------------------------- signals
    def add_signals(self, watcher: str, signals: list[Signal], now: float, cohort: str | None = None,
                    beyond: list[bool] | None = None) -> None:
        """Store a batch; with `beyond` (Kafka mode: which Ip signals exceed the burst limit, one per Ip
        signal) its Ip signals are stored unpublished, with `cohort`, until `published` marks them."""
        flags = iter(beyond or ())
        rows = []
        for s in signals:
            pending = beyond is not None and s.scope == "Ip"
            rows.append((watcher, s.machine_id, s.scenario, s.scenario_hash, s.scenario_version, s.scope, s.value,
                         s.start_at, s.stop_at, s.created_at, s.events_count, now, s.uuid or None, int(not pending),
                         cohort if pending else None, int(next(flags)) if pending else 0))
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT INTO signals (watcher, machine_id, scenario, scenario_hash, scenario_version, scope, value,"
                " start_at, stop_at, created_at, events_count, received_at, uuid, published, cohort, burst)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)

    def unpublished(self, limit: int = 10_000) -> list[dict]:
        """The first `limit` stored signals not yet acked by the broker, in stored order (Kafka mode)."""
        cur = self.db.execute("SELECT id, watcher, machine_id, scenario, scenario_hash, scenario_version, value,"
                              " events_count, received_at, cohort, burst FROM signals WHERE published = 0"
                              " ORDER BY id LIMIT ?", (limit,))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def mark_published(self, ids: list[int]) -> None:
        """Note that the broker acked these signals."""
        if not ids:
            return
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("UPDATE signals SET published = 1 WHERE id = ?", [(i,) for i in ids])

    def recent_signals(self, since: float, limit: int) -> list[tuple[str, Signal, float]]:
        """(watcher, signal, received_at) of the last `limit` signals received after `since`, oldest first
        (central's resend window, rebuilt at start: connectors/central/dedupe.py)."""
        rows = self.db.execute("SELECT watcher, machine_id, scenario, scenario_hash, scenario_version, scope, value,"
                               " start_at, stop_at, created_at, events_count, uuid, received_at FROM signals"
                               " WHERE received_at > ? ORDER BY id DESC LIMIT ?", (since, limit)).fetchall()
        return [(row[0], Signal(*row[1:11], uuid=row[11] or ""), row[12]) for row in reversed(rows)]

    def signals(self) -> list[dict]:
        cur = self.db.execute("SELECT * FROM signals ORDER BY id")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def signals_of(self, value: str, limit: int = 200) -> list[dict]:
        """The latest signals about one address (newest first)."""
        cur = self.db.execute("SELECT watcher, scenario, scenario_hash, scenario_version, scope, start_at, stop_at,"
                              " received_at FROM signals WHERE value=? ORDER BY id DESC LIMIT ?", (value, limit))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def save_snapshot(self, state: bytes, now: float) -> int:
        """Keep the curation's state as of the last stored signal (replacing the last snapshot); its id."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            last = self.db.execute("SELECT COALESCE(MAX(id), 0) FROM signals").fetchone()[0]
            self.db.execute("INSERT OR REPLACE INTO snapshot (id, last_signal, taken_at, state) VALUES (1, ?, ?, ?)",
                            (last, now, state))
        return last

    def snapshot(self) -> tuple[int, bytes] | None:
        """The last signal id and the state of the last snapshot (None: none taken)."""
        row = self.db.execute("SELECT last_signal, state FROM snapshot WHERE id = 1").fetchone()
        return (row[0], row[1]) if row else None

    def history(self, after: int = 0) -> Iterator[tuple]:
        """Registrations and Ip signals (those with an id above `after`) in the order central received them, to
        rebuild the curation: `("register", machine_id, address, at)` and
        `("signals", watcher, [(value, scenario, hash)], at)`."""
        regs = self.db.execute("SELECT machine_id, registered_from, registered_at FROM watchers"
                               " ORDER BY registered_at, machine_id").fetchall()
        i = 0
        batch: list[tuple[str, str, str]] = []
        key = None
        for watcher, value, scenario, digest, at in self.db.execute(
                "SELECT watcher, value, scenario, scenario_hash, received_at FROM signals WHERE scope='Ip' AND id > ?"
                " ORDER BY id", (after,)):
            if key != (watcher, at) and batch:
                yield ("signals", key[0], batch, key[1])
                batch = []
            key = (watcher, at)
            while i < len(regs) and regs[i][2] <= at:
                yield ("register", *regs[i])
                i += 1
            batch.append((value, scenario, digest))
        if batch:
            yield ("signals", key[0], batch, key[1])
        for reg in regs[i:]:
            yield ("register", *reg)

    # ---------------------------------------------------------------- blocklist
    def publish(self, changes: Iterable[Listed | Removed], now: float) -> None:
        """Write the curation's changes: a new listing or a removal takes the next sequence number."""
        changes = list(changes)
        if not changes:
            return
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            seq = self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM blocklist").fetchone()[0]
            for change in changes:
                row = self.db.execute("SELECT id FROM blocklist WHERE value=? AND removed_at IS NULL",
                                      (change.value,)).fetchone()
                if isinstance(change, Removed):
                    if row:
                        seq += 1
                        self.db.execute("UPDATE blocklist SET removed_at=?, seq=? WHERE id=?", (now, seq, row[0]))
                elif row:
                    self.db.execute("UPDATE blocklist SET until=? WHERE id=?", (change.until, row[0]))
                else:
                    seq += 1
                    self.db.execute("INSERT INTO blocklist (scope, value, scenario, listed_at, until, seq)"
                                    " VALUES ('Ip', ?, ?, ?, ?, ?)", (change.value, change.scenario, now,
                                                                      change.until, seq))

    def sync(self, listed: dict[str, tuple[str, float]], now: float) -> None:
        """Make the active blocklist exactly `listed` (value -> (scenario, until)): at start, after a rebuild."""
        active = {v for (v,) in self.db.execute("SELECT value FROM blocklist WHERE removed_at IS NULL")}
        self.publish([Removed(v) for v in sorted(active - set(listed))]
                     + [Listed(v, scenario, until, v not in active) for v, (scenario, until) in sorted(listed.items())],
                     now)

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

    def listings_of(self, value: str, limit: int = 50) -> list[dict]:
        """When an address was listed and removed (tombstoned), newest first."""
        cur = self.db.execute("SELECT scenario, listed_at, until, removed_at FROM blocklist WHERE value=?"
                              " ORDER BY id DESC LIMIT ?", (value, limit))
        return [dict(zip(("scenario", "listed_at", "until", "removed_at"), row)) for row in cur.fetchall()]

    def blocklist(self) -> list[BlockEntry]:
        return self.db.execute("SELECT id, scope, value, scenario, until FROM blocklist WHERE removed_at IS NULL"
                               " ORDER BY id").fetchall()
