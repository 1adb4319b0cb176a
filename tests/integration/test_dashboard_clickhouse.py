"""The dashboard's alert panels from ClickHouse (`synsec api --dashboard-clickhouse URL`, docs/dashboard.md),
against a real ClickHouse server (Debian's clickhouse-server) and a real `synsec api` on loopback ports."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from connectors.clickhouse.client import client_from_url, ensure_database
from connectors.clickhouse.localserver import LocalClickHouse
from connectors.clickhouse.migrate import migrate
from connectors.clickhouse.sink import ClickHouseSink
from tests.integration.test_api_http import ccs, http, running_api
from tests.integration.test_clickhouse import ALERTS, make_alert

pytestmark = pytest.mark.integration


def test_dashboard_summary_from_clickhouse(tmp_path):
    """The summary's timeline, top scenarios and top sources (country, AS) are ClickHouse's alerts of the window,
    not the (empty) store's; an alert older than the window is left out; ClickHouse down is a 503 naming it."""
    if shutil.which("clickhouse-server") is None:
        pytest.fail("clickhouse-server missing: apt-get install -y clickhouse-server (scripts/apt-packages.txt)")
    ch = LocalClickHouse(tmp_path / "clickhouse").start()
    try:
        url = ch.url("dash")
        ensure_database(url)
        client = client_from_url(url)
        migrate(client)
        t0 = (int(time.time()) // 3600 - 3) * 3600
        alerts = [make_alert(*row[:5], t0 + row[5]) for row in ALERTS]
        alerts.append(make_alert("crowdsecurity/ssh-bf", "203.0.113.99", "CN", "64999", "Old-AS", t0 - 40 * 86400))
        sink = ClickHouseSink(lambda: client_from_url(url), batch_size=100, max_age_s=60)
        for alert in alerts:
            sink.add(alert)
        assert sink.flush() is not None
        client.disconnect()
        state = tmp_path / "state"
        key = ccs(state, "bouncers", "add", "admin", "--role", "machine", "-o", "raw").strip()
        with running_api(state, args=("--dashboard-clickhouse", url, "--dashboard-days", "30")) as api:
            status, body = http(api + "/ui/api/summary", key)
            assert status == 200, body
            s = json.loads(body)
            assert s["alerts"] == 6 and s["timeline"]["step"] == 3600
            assert s["timeline"]["points"] == [[t0, 2], [t0 + 3600, 3], [t0 + 7200, 1]]
            assert s["top_scenarios"] == [{"scenario": "crowdsecurity/ssh-bf", "alerts": 3},
                                          {"scenario": "crowdsecurity/http-probing", "alerts": 2},
                                          {"scenario": "crowdsecurity/http-crawl", "alerts": 1}]
            assert s["top_sources"][0] == {"value": "203.0.113.10", "scope": "Ip", "country": "FR",
                                           "as_number": "64500", "as_name": "Example-A", "alerts": 3}
            assert "203.0.113.99" not in {r["value"] for r in s["top_sources"]}
            assert s["decisions"]["active"] == 0           # decisions: the API's own source, empty here
            ch.stop()
            status, body = http(api + "/ui/api/summary", key)
            assert status == 503 and "ClickHouse" in json.loads(body)["message"]
    finally:
        ch.stop()
