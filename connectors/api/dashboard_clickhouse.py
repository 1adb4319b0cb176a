"""The dashboard's alert panels from ClickHouse (`synsec api --dashboard-clickhouse URL`, docs/dashboard.md):
the analyst queries of schemas/clickhouse/queries/ over the last `window` seconds, so in Kafka mode the
dashboard shows every machine's alerts that `synsec clickhouse sink` stored, not only the API's store."""

from __future__ import annotations

import calendar
from datetime import datetime

from clickhouse_driver.errors import Error as DriverError

from connectors.api.dashboard import TOP, StatsUnavailable, timeline
from connectors.clickhouse.client import client_from_url
from connectors.clickhouse.queries import load_queries

__all__ = ["ClickHouseStats"]


def _epoch(value) -> float:
    """A DateTime the server returned (naive, in its time zone: UTC for synsec's servers) or a number."""
    return calendar.timegm(value.timetuple()) if isinstance(value, datetime) else float(value)


class ClickHouseStats:
    """`stats(now)` for `DashboardRoutes`: alerts per hour (the `alerts_hourly` rollup), top scenarios and top
    source IPs with country and AS, over [now - window, now + 1 h)."""

    def __init__(self, url: str, window: float = 30 * 86400):
        self.url, self.window = url, window
        self.client = client_from_url(url)
        self.queries = load_queries()

    def __call__(self, now: float) -> dict:
        period = {"start": int(now - self.window), "end": int(now) + 3600}
        try:
            hourly = self.queries["alerts_per_hour"].run(self.client, **period).dicts()
            scenarios = self.queries["top_scenarios"].run(self.client, **period, limit=TOP).dicts()
            sources = self.queries["top_source_ips"].run(self.client, **period, limit=TOP).dicts()
        except (DriverError, OSError, EOFError) as err:
            self.client.disconnect()        # a fresh connection at the next request
            raise StatsUnavailable(f"ClickHouse ({self.url.split('@')[-1]}): {type(err).__name__}: "
                                   f"{str(err).splitlines()[0][:200] if str(err) else ''}") from None
        counts = [(_epoch(r["hour"]), int(r["alerts"])) for r in hourly]
        return {"alerts": sum(n for _, n in counts), "timeline": timeline(counts, min_step=3600),
                "top_scenarios": [{"scenario": r["scenario"], "alerts": int(r["alerts"])} for r in scenarios],
                "top_sources": [{"value": r["source_ip"], "scope": "Ip", "country": r["country"],
                                 "as_number": r["as_number"], "as_name": r["as_name"], "alerts": int(r["alerts"])}
                                for r in sources]}
