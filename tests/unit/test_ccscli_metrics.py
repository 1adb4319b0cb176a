"""`ccscli metrics` on the embedded store: the counters `synsec replay` adds, as cscli-like tables."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from click.testing import CliRunner

from synsec.cli.ccscli import ccscli
from synsec.cli.ccscli.metrics import build_tables
from synsec.cli.main import cli
from synsec.metrics import Sample, parse

REPO = Path(__file__).resolve().parents[2]
AUTH_SAMPLE = REPO / "scenarios" / "samples" / "auth-demo.log"
NGINX_SAMPLE = REPO / "scenarios" / "samples" / "nginx-demo.log"


def _replay(state: Path, path: Path, log_type: str) -> dict:
    res = CliRunner().invoke(cli, ["replay", str(path), "--type", log_type, "--state-dir", str(state), "-o", "json"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _metrics(state: Path, *args) -> str:
    res = CliRunner().invoke(ccscli, ["--state-dir", str(state), "metrics", *args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.stdout


def _rows(tables: dict, name: str, key: str) -> dict:
    return {row[key]: row for row in tables[name]}


def test_metrics_on_the_store_match_the_replay_stats(tmp_path):
    """After a replay, the Acquisition, Parsers, Buckets, Alerts and Decisions tables hold its stats."""
    state = tmp_path / "state"
    out = _replay(state, AUTH_SAMPLE, "syslog")
    stats, src = out["stats"], str(AUTH_SAMPLE)
    tables = json.loads(_metrics(state, "-o", "json"))
    acq = _rows(tables, "acquisition", "source")[src]
    assert (acq["lines_read"], acq["lines_parsed"], acq["lines_unparsed"]) == \
        (stats["lines"], stats["parsed"], stats["unparsed"]) == (75, 73, 2)
    assert _rows(tables, "parsers", "source")[src] == {"source": src, "hits_ok": 73, "hits_ko": 2, "whitelisted": 0}
    buckets = _rows(tables, "buckets", "scenario")
    assert set(buckets) == set(stats["buckets"])
    for scenario, counts in stats["buckets"].items():
        row = buckets[scenario]
        assert (row["poured"], row["overflows"], row["underflows"]) == \
            (counts["poured"], counts["overflows"], counts["underflows"]), scenario
        assert row["current"] is None                 # a live gauge: not kept by the store
    assert sum(r["poured"] for r in buckets.values()) > 0 and sum(r["underflows"] for r in buckets.values()) > 0
    made = Counter((d["origin"], d["type"], d["scenario"]) for d in out["decisions"])
    assert {(r["origin"], r["type"], r["scenario"]): r["made"] for r in tables["decisions"]} == made
    raised = Counter(a["scenario"] for a in out["alerts"])
    assert {r["scenario"]: r["raised"] for r in tables["alerts"]} == raised and sum(raised.values()) == stats["alerts"]


def test_replays_add_up_in_the_store(tmp_path):
    """A second replay adds its counts to the first's (per source and per scenario)."""
    state = tmp_path / "state"
    _replay(state, AUTH_SAMPLE, "syslog")
    first = parse(_metrics(state, "-o", "raw"))
    _replay(state, AUTH_SAMPLE, "syslog")
    _replay(state, NGINX_SAMPLE, "nginx")
    second = {(s.name, s.labels): s.value for s in parse(_metrics(state, "-o", "raw"))}
    assert first and all(second[(s.name, s.labels)] == 2 * s.value for s in first)
    assert second[("synsec_acquisition_lines_read_total", (("source", str(NGINX_SAMPLE)),))] == 178


def test_no_store_metrics_yet_and_human_tables(tmp_path):
    """An empty store says so; a filled one prints the titled tables, `-` where the store has no value."""
    state = tmp_path / "state"
    assert "no metrics yet" in _metrics(state)
    assert json.loads(_metrics(state, "-o", "json")) == {} and _metrics(state, "-o", "raw") == ""
    _replay(state, AUTH_SAMPLE, "syslog")
    text = _metrics(state)
    for title in ("# Acquisition", "# Parsers", "# Buckets", "# Alerts", "# Decisions"):
        assert title in text
    assert "synsec/ssh-bf\t-\t" in text                # current buckets: unknown to the store


def test_build_tables_sums_hidden_labels_and_marks_unknown_families():
    """Samples differing only in labels a table does not show are added; unknown families give None."""
    samples = [Sample("synsec_bucket_errors_total", (("scenario", "s"), ("kind", "filter_errors")), 2),
               Sample("synsec_bucket_errors_total", (("scenario", "s"), ("kind", "groupby_errors")), 3),
               Sample("synsec_bucket_poured_total", (("scenario", "s"),), 9)]
    cols, rows = build_tables(samples, {"synsec_bucket_overflowed_total"})["Buckets"]
    assert cols == ["scenario", "current", "overflows", "poured", "underflows", "canceled", "discarded", "errors"]
    assert rows == [["s", None, 0, 9, None, None, None, 5]]


def test_bad_metrics_url_is_a_clear_error(tmp_path):
    """A non-HTTP URL or an unreachable endpoint fails with a message naming it, not a traceback."""
    res = CliRunner().invoke(ccscli, ["--state-dir", str(tmp_path), "metrics", "--url", "ftp://x/metrics"])
    assert res.exit_code == 1 and "must start with http://" in res.output
