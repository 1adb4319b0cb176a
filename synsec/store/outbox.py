"""The notification outbox: one row per (notification, alert), written in the transaction that stores the alert,
so a notification is queued exactly when its alert is stored — once, whatever crashes and re-detections follow
(the row's id is derived from both names). The dispatcher (connectors/notify) marks rows sent or failed."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass

from synsec.engine.decisions import until_of

__all__ = ["OutboxTable", "OUTBOX_SCHEMA", "OutboxRow", "outbox_id", "migrate_outbox"]

OUTBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS notification_outbox (
  id TEXT PRIMARY KEY, notification TEXT NOT NULL, alert_id TEXT NOT NULL, created_at REAL NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL, last_error TEXT, batch TEXT,
  sent_at REAL, failed_at REAL, decisions TEXT
);
CREATE TABLE IF NOT EXISTS notification_feed (partition INTEGER PRIMARY KEY, next_offset INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS notification_outbox_open ON notification_outbox(notification, created_at)
  WHERE sent_at IS NULL AND failed_at IS NULL;
"""


def migrate_outbox(db) -> None:
    """An outbox written before the decisions snapshot gets its column."""
    if "decisions" not in {row[1] for row in db.execute("PRAGMA table_info(notification_outbox)")}:
        db.execute("ALTER TABLE notification_outbox ADD COLUMN decisions TEXT")


def _snapshot(decisions, now: float) -> str:
    """The alert's decisions as the store's rows (`lapi_alert` reads them), for alerts stored without them."""
    return json.dumps([{"num": 0, "origin": d.origin, "type": d.type, "scope": d.scope, "value": d.value,
                        "scenario": d.scenario, "until": until_of(now, d.duration), "simulated": int(d.simulated)}
                       for d in decisions])


def outbox_id(notification: str, alert_id: str) -> str:
    """The idempotent id of one alert's notification."""
    return hashlib.sha1(f"{notification}|{alert_id}".encode()).hexdigest()[:24]


@dataclass(frozen=True)
class OutboxRow:
    id: str
    notification: str
    alert_id: str
    created_at: float
    attempts: int
    next_at: float
    decisions: str | None = None        # JSON: the alert's decisions when queued (store rows' shape)


class OutboxTable:
    """Mixed into Store: needs `self.db` (sqlite3 connection with OUTBOX_SCHEMA applied)."""

    def _queue_notifications(self, alerts, now: float) -> None:
        """Inside Store.add's transaction: a row per name of each alert's `Notify` (ignored when queued)."""
        rows = [(outbox_id(name, a.UUID), name, a.UUID, now, now, _snapshot(a.Decisions, now))
                for a in alerts for name in a.Notify]
        if rows:
            self.db.executemany("INSERT OR IGNORE INTO notification_outbox(id, notification, alert_id, created_at, "
                                "next_at, decisions) VALUES (?,?,?,?,?,?)", rows)

    def open_notifications(self, limit: int = 10_000) -> list[OutboxRow]:
        """Rows neither sent nor given up, oldest first."""
        rows = self.db.execute("SELECT id, notification, alert_id, created_at, attempts, next_at, decisions FROM "
                               "notification_outbox WHERE sent_at IS NULL AND failed_at IS NULL "
                               "ORDER BY created_at, id LIMIT ?", (limit,)).fetchall()
        return [OutboxRow(*r) for r in rows]

    def notifications_sent(self, ids: list[str], batch: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self.db:
            self.db.executemany("UPDATE notification_outbox SET sent_at = ?, batch = ?, attempts = attempts + 1 "
                                "WHERE id = ? AND sent_at IS NULL", [(now, batch, i) for i in ids])

    def notifications_attempt_failed(self, ids: list[str], error: str, next_at: float, max_attempts: int,
                                     now: float | None = None) -> None:
        """One more failed attempt; rows that reached `max_attempts` are given up (failed_at)."""
        now = time.time() if now is None else now
        with self.db:
            self.db.executemany(
                "UPDATE notification_outbox SET attempts = attempts + 1, last_error = ?, next_at = ?, "
                "failed_at = CASE WHEN attempts + 1 >= ? THEN ? END WHERE id = ? AND sent_at IS NULL",
                [(error[:500], next_at, max_attempts, now, i) for i in ids])

    def notification_counts(self) -> dict[str, dict[str, int]]:
        """{notification: {queued, sent, failed}}."""
        out: dict[str, dict[str, int]] = {}
        for name, queued, sent, failed in self.db.execute(
                "SELECT notification, SUM(sent_at IS NULL AND failed_at IS NULL), SUM(sent_at IS NOT NULL), "
                "SUM(failed_at IS NOT NULL) FROM notification_outbox GROUP BY notification"):
            out[name] = {"queued": queued, "sent": sent, "failed": failed}
        return out

    def notification_errors(self, name: str, limit: int = 5) -> list[tuple[str, int, str]]:
        """(alert id, attempts, last error) of the latest rows of `name` that failed at least once."""
        return self.db.execute("SELECT alert_id, attempts, last_error FROM notification_outbox WHERE "
                               "notification = ? AND last_error IS NOT NULL ORDER BY created_at DESC LIMIT ?",
                               (name, limit)).fetchall()

    def feed_positions(self) -> dict[str, int]:
        """{partition: next offset} of the alerts topic the API's notification feed has queued up to."""
        return {str(p): o for p, o in self.db.execute("SELECT partition, next_offset FROM notification_feed")}

    def save_feed_positions(self, positions: dict[int, int]) -> None:
        with self.db:
            self.db.executemany("INSERT INTO notification_feed(partition, next_offset) VALUES (?, ?) ON CONFLICT"
                                "(partition) DO UPDATE SET next_offset = excluded.next_offset",
                                sorted(positions.items()))
