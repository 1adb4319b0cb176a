"""The store as a read-only decision history (`synsec.engine.history.DecisionSource`) for `GetDecisionsCount`
and its kin: every decision whose target contains a value, deleted ones ending when they were deleted."""

from __future__ import annotations

from synsec.engine.history import Past, covers, target

__all__ = ["DecisionHistoryTable", "MAX_RANGE_ROWS"]

MAX_RANGE_ROWS = 100_000       # Range decisions read to find those holding an IP (bounds one lookup)


class DecisionHistoryTable:
    """Mixed into `synsec.store.Store` (its `db`)."""

    def decisions_for(self, value: str) -> list[Past]:
        """Decisions on `value` itself, then the Range decisions holding it."""
        net = target(value)
        values = {value} | ({str(net.network_address) if net.num_addresses == 1 else str(net)} if net else set())
        marks = ",".join("?" * len(values))
        rows = self.db.execute(f"SELECT id, created_at, until, deleted_at FROM decisions WHERE value IN ({marks})",
                               sorted(values)).fetchall()
        if net is not None:
            for row in self.db.execute("SELECT id, created_at, until, deleted_at, value FROM decisions "
                                       "WHERE scope = 'Range' COLLATE NOCASE LIMIT ?", (MAX_RANGE_ROWS,)):
                rng = target(row[4])
                if rng is not None and row[4] not in values and covers(rng, net):
                    rows.append(row[:4])
        return [Past(i, created or 0.0, until if deleted is None else min(until, deleted))
                for i, created, until, deleted in rows]
