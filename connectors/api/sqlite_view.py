"""The single-machine implementation of the API's interfaces, over the embedded SQLite store."""

from __future__ import annotations

import time
from collections.abc import Callable

from connectors.api.index import DecisionIndex, fold_changes
from connectors.api.alert_input import PushedAlert
from connectors.api.inputs import DecisionInput
from connectors.api.lapi_alerts import lapi_alert
from connectors.api.model import DecisionRecord, Delta, target_of
from connectors.api.view import IndexedView
from synsec.assembly.metrics import run_samples
from synsec.engine.counters import CounterSet
from synsec.engine.decisions import is_active
from synsec.engine.model import Alert, Decision
from synsec.engine.durations import bounded_until
from synsec.metrics import merge_samples
from synsec.store import Store

__all__ = ["SqliteDecisionView", "StoreWriter", "StoreAlertWriter", "record_from_row", "profile_decisions"]

_KIND = {"new": "new", "deleted": "deleted", "expired": "expired"}


def record_from_row(row: dict, now: float) -> DecisionRecord | None:
    """The record of a store row; None when its `until` is not a number (NULL, NaN: rows written before
    durations were bounded), and an `until` beyond 10 years from `now` (an infinite one) clamped to it."""
    until = bounded_until(row["until"], now)
    if until is None:
        return None
    return DecisionRecord(id=row["num"], origin=row["origin"] or "", type=row["type"] or "",
                          scope=row["scope"] or "", value=row["value"] or "", scenario=row["scenario"] or "",
                          until=until, simulated=bool(row["simulated"]), uuid=row["id"],
                          target=target_of(row["scope"] or "", row["value"] or ""))


class SqliteDecisionView(IndexedView):
    """DecisionView over the store's decisions and change log. `refresh` logs expiries (a write) and
    reads the changes after the last one seen; it does nothing more often than every `min_interval` s.
    Simulated decisions are never served to bouncers, as in CrowdSec."""

    def __init__(self, store: Store, *, min_interval: float = 0.2, ended_window: float = 3600.0,
                 max_log_read: int = 200_000):
        self.store = store
        self.max_log_read = max_log_read
        self.min_interval = min_interval
        self.ended_window = ended_window
        self.index = DecisionIndex()
        self.out_of_range = 0     # change rows read whose `until` was skipped or clamped (record_from_row)
        self._last_refresh = float("-inf")
        head = store.head_seq()
        now = time.time()
        for row in store.open_decisions():
            if not row["simulated"] and row["num"] <= head:
                rec = self._record(row, now)
                if rec is not None:
                    self.index.add(rec, row["num"])
        self.index.floor = self.index.head = head  # deltas from before this process started are unknown
        self._seen = head

    def refresh(self, now: float, force: bool = False) -> None:
        if not force and now - self._last_refresh < self.min_interval:
            return
        self._last_refresh = now
        self.store.expire(now)
        while True:
            rows = self.store.changes_after(self._seen)
            for row in rows:
                self._seen = row["seq"]
                rec = self._record(row, now)
                if row["simulated"] or (rec is None and row["kind"] == "new"):
                    self.index.head = max(self.index.head, row["seq"])
                elif row["kind"] == "new":
                    self.index.add(rec, row["seq"])
                else:
                    self.index.remove(row["num"], row["seq"], _KIND[row["kind"]], known=rec)
            if len(rows) < 10000:
                break

    def changes_since(self, seq: int, now: float) -> Delta:
        """From memory when the change is recent enough, else from the store's durable log (e.g. a
        bouncer that last pulled before this process started), up to `max_log_read` changes."""
        delta = self.index.changes_since(seq, now)
        if delta.complete or seq > self.index.head or seq < 0:
            return delta
        rows = [r for r in self.store.changes_after(seq, self.max_log_read + 1) if r["seq"] <= self._seen]
        if len(rows) > self.max_log_read:
            return delta
        changes = [(r["kind"], rec) for r in rows if not r["simulated"]
                   for rec in [record_from_row(r, now)] if rec is not None]
        return fold_changes(changes, self.index.head,
                            lambda r: is_active(r, now) and r.id in self.index.by_id)

    def _record(self, row: dict, now: float) -> DecisionRecord | None:
        rec = record_from_row(row, now)
        if rec is None or rec.until != row["until"]:
            self.out_of_range += 1
        return rec


class StoreWriter:
    """DecisionWriter, KeyStore and AlertReader over the store (ccscli's writes land in the same table the
    view reads, so bouncers see them at the next refresh). `counts`: the counter set of the profiles that decide
    on pushed alerts, served with the store's counters."""

    def __init__(self, store: Store, counts: CounterSet | None = None):
        self.store, self.counts = store, counts

    def add_decisions(self, decisions: list[DecisionInput], now: float | None = None) -> list[int]:
        built = [d.to_decision() for d in decisions]
        self.store.add([], built, now=time.time() if now is None else now)
        rows = self.store.decision_nums([d.id for d in built])
        return [rows.get(d.id, 0) for d in built]

    def delete_decisions(self, filters: dict, now: float | None = None) -> int:
        return self.store.delete_decisions(now=now, **filters)

    def key_rows(self) -> list[tuple[str, str, str, str]]:
        return self.store.key_rows()

    def ensure_bouncer(self, name: str) -> None:
        if self.store.bouncer(name) is None:
            try:
                self.store.add_bouncer(name)
            except ValueError:       # added meanwhile by another request
                pass

    def upgrade_key(self, name: str, key: str) -> None:
        self.store.upgrade_key(name, key)

    def last_seq(self, name: str) -> int:
        return self.store.last_seq(name)

    def record_pull(self, name: str, *, seq: int, now: float, ip_address: str | None,
                    user_agent: str | None) -> None:
        self.store.record_pull(name, seq=seq, now=now, ip_address=ip_address, user_agent=user_agent)

    def alerts(self, *, scenario: str | None = None, value: str | None = None, limit: int = 0,
               where=None) -> list[dict]:
        return self.store.alerts(scenario=scenario, value=value, limit=limit, where=where)

    def alert(self, alert_id: str) -> dict | None:
        return self.store.alert(alert_id)

    def lapi_alerts(self, where, limit: int, now: float) -> list[dict]:
        return self._lapi(self.store.alert_rows(where, limit), now)

    def lapi_alert(self, alert_id: str, now: float) -> dict | None:
        row = self.store.alert_row(alert_id)
        return self._lapi([row], now)[0] if row else None

    def _lapi(self, rows: list, now: float) -> list[dict]:
        decisions = self.store.decisions_of([body.get("id", "") for _, _, body in rows])
        return [lapi_alert(num, at, body, decisions.get(body.get("id", ""), []), now) for num, at, body in rows]

    def alert_counts(self) -> dict[str, int]:
        return self.store.alert_counts()

    def metric_samples(self) -> list:
        """The counters in-process runs added to the store, and those of `counts` (the API's own profiles,
        deciding on pushed alerts) added to them."""
        samples = self.store.metric_samples()
        return merge_samples(samples, run_samples(self.counts, ("engine",))) if self.counts is not None else samples

    def delete_alerts(self, **filters) -> int:
        return self.store.delete_alerts(**filters)


def profile_decisions(decide: Callable[[Alert], list[Decision]], pushed: PushedAlert) -> list[Decision]:
    """A pushed alert's decisions: those it carried, else the profiles' (`decide`; simulated when the alert
    came simulated or its scenario is simulated here)."""
    return pushed.decisions if pushed.decisions is not None else decide(pushed.alert)


class StoreAlertWriter:
    """AlertWriter over the store: each pushed alert and its decisions (`profile_decisions`) are stored at once,
    as `synsec replay` stores its own (the decisions are taken now); pushing the same alert twice adds nothing
    (ids are derived from the alert)."""

    def __init__(self, store: Store, decide: Callable[[Alert], list[Decision]]):
        self.store, self.decide = store, decide

    def push_alerts(self, pushed: list[PushedAlert], machine_id: str, now: float) -> list[str]:
        decisions = [d for p in pushed for d in profile_decisions(self.decide, p)]
        self.store.add([p.alert for p in pushed], decisions, now=now, machine_id=machine_id)
        return [p.alert.UUID for p in pushed]
