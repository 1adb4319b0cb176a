"""The persisted push queue (`crowd.db` in the state dir, SQLite): signals wait here until central took them.

A signal is keyed by its alert's id (deterministic: `synsec.engine.profiles.alert_id`), so enqueueing the same
alert twice — a `synsec run` that re-reads lines after a crash — adds nothing, and an id already sent is never
queued again (`sent` keeps ids for `keep_sent` seconds). A batch leaves the queue only after central answered
2xx, so a restart or an outage of central loses nothing. Each queued signal gets a random `uuid` (CrowdSec's
`AddSignalsRequestItem.uuid`) when it is queued, kept in its stored body: a batch sent again after a lost answer
carries the same ids, and central counts it once (connectors/central/dedupe.py). The same file keeps the crowd's
counters and the push/pull status that `ccscli capi status` shows.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from pathlib import Path

from synsec.store.files import private_dir, private_file

__all__ = ["SignalQueue", "QUEUE_FILE", "register_metrics", "METRIC_EVENTS", "METRIC_PENDING"]

QUEUE_FILE = "crowd.db"
METRIC_EVENTS = "synsec_crowd_total"
METRIC_PENDING = "synsec_crowd_signals_pending"

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (id TEXT PRIMARY KEY, body TEXT NOT NULL, queued_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sent (id TEXT PRIMARY KEY, sent_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS sent_at ON sent (sent_at);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS status (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class SignalQueue:
    """One connection (SQLite connections stay in the thread that opened them: open one per thread)."""

    def __init__(self, state_dir: str | Path, keep_sent: float = 7 * 86400.0):
        self.path = private_file(private_dir(state_dir) / QUEUE_FILE)
        self.db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)   # callers serialise use
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)
        self.keep_sent = keep_sent
        self._give_ids()

    def _give_ids(self) -> None:
        """Signals queued before signals had ids get one now (once: it is stored with them)."""
        with self.db:
            rows = self.db.execute("SELECT id, body FROM outbox WHERE body NOT LIKE '%\"uuid\":%'").fetchall()
            self.db.executemany("UPDATE outbox SET body = ? WHERE id = ?",
                                [(_dumps(_with_id(json.loads(body))), sid) for sid, body in rows])

    def close(self) -> None:
        self.db.close()

    def enqueue(self, items: list[tuple[str, dict]], now: float | None = None,
                positions: dict[int, int] | None = None) -> int:
        """Queue (alert id, signal) pairs not queued or sent before; how many were new. `positions`: the alerts
        topic's next offsets, saved in the same transaction (Kafka mode: what is read is queued exactly once)."""
        now = time.time() if now is None else now
        added = 0
        with self.db:
            if positions:
                self._set(alerts_positions={**self.positions(), **{str(p): o for p, o in positions.items()}})
            for sid, body in items:
                if self.db.execute("SELECT 1 FROM sent WHERE id = ?", (sid,)).fetchone():
                    continue
                added += self.db.execute("INSERT OR IGNORE INTO outbox VALUES (?, ?, ?)",
                                         (sid, _dumps(_with_id(body)), now)).rowcount
            self._add(("signals_queued", added))
        return added

    def batch(self, limit: int) -> list[tuple[str, dict]]:
        """The oldest `limit` queued signals."""
        rows = self.db.execute("SELECT id, body FROM outbox ORDER BY queued_at, id LIMIT ?", (limit,)).fetchall()
        return [(sid, json.loads(body)) for sid, body in rows]

    def sent(self, ids: list[str], now: float | None = None) -> None:
        """Central took these: out of the queue, remembered as sent."""
        now = time.time() if now is None else now
        with self.db:
            self.db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])
            self.db.executemany("INSERT OR REPLACE INTO sent VALUES (?, ?)", [(i, now) for i in ids])
            self.db.execute("DELETE FROM sent WHERE sent_at < ?", (now - self.keep_sent,))
            self._add(("signals_sent", len(ids)), ("pushes", 1))
            self._set(last_push=now)

    def positions(self) -> dict[str, int]:
        """{partition (text): next offset} of the alerts topic read so far (Kafka mode)."""
        row = self.db.execute("SELECT value FROM status WHERE key = 'alerts_positions'").fetchone()
        return json.loads(row[0]) if row else {}

    def pending(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def sent_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT id FROM sent")}

    # -- counters and status (what `ccscli capi status` and the metrics show) --------------------------------

    def add(self, **counts: int) -> None:
        with self.db:
            self._add(*counts.items())

    def set_status(self, **values) -> None:
        with self.db:
            self._set(**values)

    def counters(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT name, value FROM counters").fetchall())

    def status(self) -> dict:
        return {k: json.loads(v) for k, v in self.db.execute("SELECT key, value FROM status").fetchall()}

    def _add(self, *counts: tuple[str, int]) -> None:
        self.db.executemany("INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + ?",
                            [(name, n, n) for name, n in counts if n])

    def _set(self, **values) -> None:
        self.db.executemany("INSERT OR REPLACE INTO status VALUES (?, ?)",
                            [(k, json.dumps(v)) for k, v in values.items()])


def _with_id(body: dict) -> dict:
    return body if body.get("uuid") else {**body, "uuid": str(uuid.uuid4())}


def _dumps(body: dict) -> str:
    return json.dumps(body, separators=(",", ":"))


def register_metrics(metrics, state_dir: str | Path) -> None:
    """Add the crowd's families to a `synsec.metrics.Counters`, read from `crowd.db` at each render (written by
    `synsec run` or `synsec api --broker`, whichever is the installation's crowd member; absent: no samples)."""
    path = Path(state_dir) / QUEUE_FILE
    held: list[SignalQueue] = []

    def queue() -> SignalQueue | None:
        if not held and path.exists():
            held.append(SignalQueue(state_dir))
        return held[0] if held else None

    metrics.collect(METRIC_EVENTS, "The crowd's counts: signals queued/sent/refused by reason, pushes, pulls and "
                    "their failures, blocklist entries added/extended/deleted/skipped by reason.", ("counter",),
                    lambda: [((k,), v) for k, v in sorted((queue().counters() if queue() else {}).items())],
                    "counter")
    metrics.gauge(METRIC_PENDING, "Signals queued and not yet taken by the Central API.", (),
                  lambda: [((), queue().pending())] if queue() else [])
