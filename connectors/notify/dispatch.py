"""The notification dispatcher: a thread that reads the store's outbox, groups each notification's queued alerts
(group_wait, group_threshold), renders its `format` over them in CrowdSec's `models.Alert` shape, sends the
message, and marks the rows sent — or retries with exponential back-off until `max_retry` attempts, then marks
them failed. Detection never waits for it: the runners only write outbox rows with their alerts.

Delivery is at-least-once per outbox row and, in practice, exactly once: a row is marked sent right after its
message is accepted, so only a crash in that instant repeats it; the message then carries the same
`X-Synsec-Notification-Id` (http, slack; email Message-ID) for the receiver to drop."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path

from connectors.api.lapi_alerts import lapi_alert
from connectors.background import Background
from connectors.notify.senders import DeliveryError, send
from synsec.content.notifications import NotificationSpec
from synsec.engine.notify_template import TemplateError, render
from synsec.store import Store
from synsec.store.outbox import OutboxRow

__all__ = ["Dispatcher", "message_id", "render_alerts", "sample_alerts", "MAX_BATCH"]

log = logging.getLogger("synsec.notify")
MAX_BATCH = 1000            # alerts in one message
MAX_BACKOFF = 300.0


def message_id(rows: list[OutboxRow]) -> str:
    """The id of one message: the same queued rows give the same id (a resend after a crash is recognisable)."""
    return hashlib.sha1("|".join(sorted(r.id for r in rows)).encode()).hexdigest()[:24]


def render_alerts(spec: NotificationSpec, alerts: list[dict]) -> str:
    return render(spec.template, alerts)


def sample_alerts(now: float) -> list[dict]:
    """The alert `ccscli notifications test` sends: one ban from a documentation address (RFC 5737)."""
    body = {"id": "synsec-test-alert", "scenario": "synsec/notification-test", "message": "test notification",
            "events_count": 1, "start_at": "", "stop_at": "", "machine_id": "ccscli",
            "source": {"scope": "Ip", "value": "192.0.2.1", "ip": "192.0.2.1", "country": ""}, "events": []}
    decision = {"num": 1, "origin": "ccscli", "type": "ban", "scope": "Ip", "value": "192.0.2.1",
                "scenario": "synsec/notification-test", "until": now + 4 * 3600, "simulated": 0}
    return [lapi_alert(0, now, body, [decision], now)]


class Dispatcher(Background):
    """Delivers the outbox of the store in `state_dir` for the notifications `specs` (by name)."""

    thread_name = "synsec-notify"

    def __init__(self, state_dir: str | Path, specs: Mapping[str, NotificationSpec], *, poll: float = 0.25,
                 backoff: float = 1.0):
        self.state_dir, self.specs, self.poll, self.backoff = Path(state_dir), dict(specs), poll, backoff
        self.sent = self.failed_attempts = 0
        super().__init__()

    def _run(self) -> None:
        store = Store(self.state_dir)
        try:
            while not self._stop.is_set():
                try:
                    self.run_once(store, time.time())
                except Exception:                    # noqa: BLE001 — the dispatcher outlives one bad round
                    log.exception("notification dispatcher round failed")
                self._stop.wait(self.poll)
        finally:
            store.close()

    def run_once(self, store: Store, now: float) -> int:
        """One round: every notification whose group is due sends one message; returns the messages sent."""
        groups: dict[str, list[OutboxRow]] = {}
        for row in store.open_notifications():
            groups.setdefault(row.notification, []).append(row)
        sent = 0
        for name, rows in groups.items():
            spec = self.specs.get(name)
            if spec is None:
                store.notifications_attempt_failed([r.id for r in rows], f"no notification named {name!r} is "
                                                   "configured", now, 0, now)
                log.warning("notification %s: not configured, %d queued alert(s) given up", name, len(rows))
                continue
            due = [r for r in rows if r.next_at <= now][:MAX_BATCH]
            if not due:
                continue
            if not (spec.group_threshold and len(due) >= spec.group_threshold
                    or now - min(r.created_at for r in due) >= spec.group_wait):
                continue
            sent += self._deliver(store, spec, due, now)
        return sent

    def _deliver(self, store: Store, spec: NotificationSpec, rows: list[OutboxRow], now: float) -> int:
        ids = [r.id for r in rows]
        try:
            text = render_alerts(spec, self._alerts(store, rows))
        except TemplateError as err:          # the same alerts will not render better later
            store.notifications_attempt_failed(ids, f"format: {err}", now, 0, now)
            log.warning("notification %s: format fails (%s), %d alert(s) given up", spec.name, err, len(rows))
            return 0
        mid = message_id(rows)
        try:
            send(spec, text, mid)
        except DeliveryError as err:
            self.failed_attempts += 1
            attempts = max(r.attempts for r in rows) + 1
            delay = min(self.backoff * 2 ** (attempts - 1), MAX_BACKOFF)
            store.notifications_attempt_failed(ids, str(err), now + delay, spec.max_retry, now)
            log.warning("notification %s: attempt %d/%d failed: %s", spec.name, attempts, spec.max_retry, err)
            return 0
        store.notifications_sent(ids, mid, now)
        self.sent += 1
        return 1

    @staticmethod
    def _alerts(store: Store, rows: list[OutboxRow]) -> list[dict]:
        """The queued alerts in CrowdSec's models.Alert shape, their decisions' durations as when queued: the
        store's decisions of the alert, else those it had when queued (Kafka mode: the decisions are on the
        topic, not in the store)."""
        found = [(r, store.alert_row(r.alert_id)) for r in rows]
        found = [(r, a) for r, a in found if a is not None]     # an alert deleted since (ccscli alerts delete)
        decisions = store.decisions_of([a[2].get("id", "") for _, a in found])
        return [lapi_alert(num, at, body, decisions.get(body.get("id", "")) or json.loads(r.decisions or "[]"),
                           r.created_at) for r, (num, at, body) in found]
