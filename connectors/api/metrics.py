"""The API's Prometheus families (rendered by `synsec.metrics.Counters`, text format 0.0.4): requests,
bouncer pulls, refused keys, and — computed at each scrape from what the API serves — active decisions by
origin, scenario and type and stored alerts by scenario."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from synsec.metrics import CONTENT_TYPE, Counters

__all__ = ["Metrics", "CONTENT_TYPE", "REQUESTS", "PULLS", "FORBIDDEN", "DECISIONS_ACTIVE", "ALERTS"]

REQUESTS = "synsec_api_requests_total"
PULLS = "synsec_api_bouncer_pulls_total"
FORBIDDEN = "synsec_api_forbidden_total"
DECISIONS_ACTIVE = "synsec_api_decisions_active"
ALERTS = "synsec_api_alerts"


class Metrics(Counters):
    def __init__(self) -> None:
        super().__init__()
        self.declare(REQUESTS, "HTTP requests by route, method and status code.", ("route", "method", "code"))
        self.declare(PULLS, "Decision pulls by bouncer and route.", ("bouncer", "route"))
        self.declare(FORBIDDEN, "Requests refused for a missing or wrong key.")
        self.inc(FORBIDDEN, 0)                      # a family without labels is always shown

    def request(self, route: str, method: str, code: int) -> None:
        self.inc(REQUESTS, route=route, method=method, code=str(code))

    def pull(self, bouncer: str, route: str) -> None:
        self.inc(PULLS, bouncer=bouncer, route=route)

    def forbidden(self) -> None:
        self.inc(FORBIDDEN)

    def views(self, active: Callable[[], list], alert_counts: Callable[[], dict[str, int]]) -> None:
        """Gauges read at each scrape: `active()` gives the active decision records (with `origin`,
        `scenario`, `type`), `alert_counts()` {scenario: stored alerts}."""
        self.gauge(DECISIONS_ACTIVE, "Active decisions served to bouncers, by origin, scenario and type.",
                   ("origin", "scenario", "type"),
                   lambda: Counter((r.origin, r.scenario, r.type) for r in active()).items())
        self.gauge(ALERTS, "Alerts in the store, by scenario.", ("scenario",),
                   lambda: [((scenario,), n) for scenario, n in alert_counts().items()])
