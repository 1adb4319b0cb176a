"""The dashboard's pure summaries (connectors/api/dashboard.py): the step of alerts over time, the community
share and the parse rates."""

from __future__ import annotations

from types import SimpleNamespace

from connectors.api.dashboard import alert_stats, summarize, timeline
from synsec.metrics import Sample


def test_timeline_picks_the_smallest_step_that_fits_and_keeps_empty_bars():
    """Counts over 10 min are per minute with zeros in between; over 3 days, per 4 h; `min_step` is a floor."""
    t = 1_700_000_040
    assert timeline([(t, 1), (t + 600, 2)]) == {"step": 60, "points": [[t + 60 * i, (1 if i == 0 else 2 if i == 10
                                                                                       else 0)] for i in range(11)]}
    assert timeline([(t, 1), (t + 3 * 86400, 1)])["step"] == 4 * 3600
    assert timeline([(t, 1), (t + 600, 2)], min_step=3600)["points"] == [[t // 3600 * 3600, 3]]
    assert timeline([]) == {"step": 60, "points": []}


def test_summarize_counts_the_community_share_and_parse_rates():
    """CAPI and lists decisions are the community share; parse rates add read/ok/ko per source."""
    decisions = [SimpleNamespace(origin=o) for o in ("CAPI", "CAPI", "lists", "synsec")]
    samples = [Sample("synsec_acquisition_lines_read_total", (("source", "a.log"),), 10.0),
               Sample("synsec_parser_hits_ok_total", (("source", "a.log"),), 7.0),
               Sample("synsec_parser_hits_ko_total", (("source", "a.log"),), 3.0),
               Sample("synsec_alerts_total", (("scenario", "x"),), 5.0)]
    alerts = [{"scenario": "x", "start_at": "2026-03-01T10:00:00Z", "source": {"value": "192.0.2.1", "country": "FR"}},
              {"scenario": "x", "start_at": "not a date", "source": {"value": "192.0.2.1"}}]
    s = summarize(alert_stats(alerts), decisions, samples, 0.0)
    assert s["decisions"] == {"active": 4, "community": 3, "by_origin": {"CAPI": 2, "lists": 1, "synsec": 1}}
    assert s["parse_rates"] == [{"source": "a.log", "read": 10, "parsed": 7, "unparsed": 3}]
    assert s["alerts"] == 2 and sum(n for _, n in s["timeline"]["points"]) == 1
    assert s["top_sources"] == [{"value": "192.0.2.1", "scope": "", "country": "FR", "as_number": "", "as_name": "",
                                 "alerts": 2}]
