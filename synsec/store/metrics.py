"""Counters in the store: what each `synsec replay` counted (lines per source, pours and overflows per
scenario, decisions per origin…), added up run after run, for `ccscli metrics` without an endpoint.

One row per (family name, labels); `labels` is the JSON object of the label pairs with sorted keys, so the
same sample from two runs lands on the same row.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable

from synsec.metrics import Sample

__all__ = ["MetricsTable", "METRICS_SCHEMA"]

METRICS_SCHEMA = """
CREATE TABLE IF NOT EXISTS metrics (
  name TEXT NOT NULL, labels TEXT NOT NULL, value REAL NOT NULL, updated_at REAL NOT NULL,
  PRIMARY KEY (name, labels)
);
"""


class MetricsTable:
    """Mixed into Store: needs `self.db` (sqlite3 connection with METRICS_SCHEMA applied)."""

    def add_metrics(self, samples: Iterable[Sample], now: float | None = None) -> int:
        """Add each counter sample's value to its row (created at 0); returns the rows touched."""
        now = time.time() if now is None else now
        rows = [(s.name, json.dumps(dict(s.labels), sort_keys=True), float(s.value), now) for s in samples]
        with self.db:
            self.db.executemany("INSERT INTO metrics(name, labels, value, updated_at) VALUES (?,?,?,?) "
                                "ON CONFLICT(name, labels) DO UPDATE SET value = value + excluded.value, "
                                "updated_at = excluded.updated_at", rows)
        return len(rows)

    def metric_samples(self) -> list[Sample]:
        """Every stored sample, by name then labels (labels in sorted order)."""
        rows = self.db.execute("SELECT name, labels, value FROM metrics ORDER BY name, labels").fetchall()
        return [Sample(name, tuple(json.loads(labels).items()), value) for name, labels, value in rows]
