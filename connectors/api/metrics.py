"""The API's Prometheus families (rendered by `synsec.metrics.Counters`, text format 0.0.4): requests,
bouncer pulls, refused keys, and — computed at each scrape from what the API serves — active decisions by
origin, scenario and type, stored alerts by scenario, and the engine's counters that `synsec replay` and
`synsec run` added to the store (`synsec.assembly.metrics.register_samples`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from synsec.assembly.metrics import register_samples
from synsec.metrics import CONTENT_TYPE, Counters, Sample

__all__ = ["Metrics", "CONTENT_TYPE", "REQUESTS", "PULLS", "FORBIDDEN", "THROTTLED", "DECISIONS_ACTIVE",
           "ALERTS", "OUT_OF_RANGE", "PUSHED", "USAGE"]

REQUESTS = "synsec_api_requests_total"
PULLS = "synsec_api_bouncer_pulls_total"
FORBIDDEN = "synsec_api_forbidden_total"
THROTTLED = "synsec_api_auth_throttled_total"
OUT_OF_RANGE = "synsec_api_decisions_out_of_range"
DECISIONS_ACTIVE = "synsec_api_decisions_active"
ALERTS = "synsec_api_alerts"
PUSHED = "synsec_api_alerts_pushed_total"
USAGE = "synsec_api_usage_metrics_total"


class Metrics(Counters):
    def __init__(self) -> None:
        super().__init__()
        self.declare(REQUESTS, "HTTP requests by route, method and status code.", ("route", "method", "code"))
        self.declare(PULLS, "Decision pulls by bouncer and route.", ("bouncer", "route"))
        self.declare(FORBIDDEN, "Requests refused for a missing or wrong key.")
        self.declare(THROTTLED, "Requests refused (429) after too many wrong keys from their address.")
        self.declare(PUSHED, "Alerts pushed by machines (POST /v1/alerts), by machine.", ("machine",))
        self.declare(USAGE, "Usage-metrics reports received (POST /v1/usage-metrics).")
        self.inc(FORBIDDEN, 0)                      # a family without labels is always shown
        self.inc(THROTTLED, 0)
        self.inc(USAGE, 0)

    def request(self, route: str, method: str, code: int) -> None:
        self.inc(REQUESTS, route=route, method=method, code=str(code))

    def pull(self, bouncer: str, route: str) -> None:
        self.inc(PULLS, bouncer=bouncer, route=route)

    def forbidden(self) -> None:
        self.inc(FORBIDDEN)

    def throttled(self) -> None:
        self.inc(THROTTLED)

    def pushed(self, machine: str, n: int) -> None:
        self.inc(PUSHED, n, machine=machine)

    def usage(self) -> None:
        self.inc(USAGE)

    def views(self, active: Callable[[], list], alert_counts: Callable[[], dict[str, int]],
              out_of_range: Callable[[], int] = lambda: 0, stored: Callable[[], list[Sample]] = list) -> None:
        """Families read at each scrape: `active()` gives the active decision records (with `origin`,
        `scenario`, `type`), `alert_counts()` {scenario: stored alerts}, `out_of_range()` decisions read
        with an `until` skipped or clamped (`synsec.engine.durations.bounded_until`), `stored()` the counter
        samples in-process runs added to the store."""
        self.gauge(OUT_OF_RANGE, "Decisions read whose end was not a number (skipped) or more than 10 years "
                   "away (clamped): written before durations were bounded.", (),
                   lambda: [((), out_of_range())])
        self.gauge(DECISIONS_ACTIVE, "Active decisions served to bouncers, by origin, scenario and type.",
                   ("origin", "scenario", "type"),
                   lambda: Counter((r.origin, r.scenario, r.type) for r in active()).items())
        self.gauge(ALERTS, "Alerts in the store, by scenario.", ("scenario",),
                   lambda: [((scenario,), n) for scenario, n in alert_counts().items()])
        register_samples(self, stored)
