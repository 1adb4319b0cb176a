"""Kafka mode: `synsec api --broker` reads the alerts topic (connectors.crowd.kafka.AlertFeed) and queues the
notifications of the profiles each alert matches, as `synsec run` does for its own alerts. The alerts that
name a notification are stored with their outbox rows; the topic positions are saved after them, so a restart
re-reads at most what it had not saved and queues nothing twice (outbox ids)."""

from __future__ import annotations

from pathlib import Path

from synsec.store import Store

__all__ = ["AlertsNotifier"]


class AlertsNotifier:
    """The `crowd` an AlertFeed feeds: `queue.positions()` and `enqueue(alerts, positions)`, on the feed's
    thread (its own store connection)."""

    def __init__(self, state_dir: str | Path, profiles):
        self.state_dir, self.profiles = Path(state_dir), profiles
        self._store: Store | None = None
        self.queue = self

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.state_dir)
        return self._store

    def positions(self) -> dict[str, int]:
        return self.store.feed_positions()

    def enqueue(self, alerts: list, positions: dict[int, int]) -> None:
        for alert in alerts:
            self.profiles.decide(alert)           # fills alert.Notify and alert.Decisions (not published)
        named = [a for a in alerts if a.Notify]
        if named:
            self.store.add(named, [])
        self.store.save_feed_positions(positions)
