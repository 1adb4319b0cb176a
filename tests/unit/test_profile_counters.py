"""Profile counts (allowlisted alerts, filter and duration_expr errors) and date-parse failures live in the
engine's one counter set: in `replay -o json` stats, the store behind `ccscli metrics`, the assembly's
families (a worker's /metrics), and the same with `-j 2` as with one process."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import synsec.runner.parallel as parallel
from synsec.assembly.build import EngineOptions, build_engine
from synsec.assembly.metrics import ALLOWLISTED, PARSER_ERRORS, PROFILE_ERRORS, register_engine
from synsec.cli.ccscli import ccscli
from synsec.cli.main import cli
from synsec.metrics import Counters, parse
from synsec.runner.replay import replay

REPO = Path(__file__).resolve().parents[2]
T0 = 1_700_000_000.0
PROFILES = """name: broken_filter
filters:
  - int(Alert.GetScenario()) > 0
decisions:
  - type: captcha
---
name: ip_with_bad_duration
filters:
  - Alert.Remediation == true && Alert.GetScope() == "Ip"
decisions:
  - type: ban
    duration: 4h
duration_expr: "'not a duration'"
on_success: break
"""
# "March" is a month grok accepts and ParseDate does not (its layouts take three-letter months)
UNDATED = "March  1 10:00:30 bastion sshd[4999]: Failed password for root from 192.0.2.200 port 50999 ssh2\n"
# auth-demo.log: 3 alerts on 198.51.100.44 (allowlisted), 3 on other IPs (each: one filter error, and one
# duration_expr error for its one ban)
WANT = {"parser_dateparse_failed": 1, "profiles_allowlisted": 3, "profiles_filter_errors": 3,
        "profiles_duration_expr_errors": 3}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("counters")
    content = base / "content"
    shutil.copytree(REPO / "scenarios", content)
    (content / "profiles.yaml").write_text(PROFILES)
    (content / "allowlists.yaml").write_text("name: office\nitems:\n  - value: 198.51.100.44\n")
    log = base / "auth.log"
    log.write_text((REPO / "scenarios" / "samples" / "auth-demo.log").read_text() + UNDATED)
    return content, log


def _counts(stats: dict) -> dict:
    return {k: stats[k] for k in WANT}


def test_replay_json_and_ccscli_metrics_show_profile_and_dateparse_counts(setup, tmp_path):
    """`replay -o json` stats and `ccscli metrics -o json` (the store) carry the profile and date counts."""
    content, log = setup
    state = tmp_path / "state"
    res = CliRunner().invoke(cli, ["replay", str(log), "--type", "syslog", "--config-dir", str(content),
                                   "--state-dir", str(state), "--reference-time", "2026-06-01T00:00:00Z",
                                   "-o", "json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert _counts(json.loads(res.stdout)["stats"]) == WANT
    res = CliRunner().invoke(ccscli, ["--state-dir", str(state), "metrics", "-o", "json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    tables = json.loads(res.stdout)
    assert {r["kind"]: r["errors"] for r in tables["profiles"]} == {"filter": 3, "duration_expr": 3}
    assert tables["allowlists"] == [{"alerts_allowlisted": 3}]
    assert {r["kind"]: r["count"] for r in tables["parser_errors"]}["dateparse_failed"] == 1


def test_parallel_replay_profile_and_dateparse_counts_equal_single_process(setup, monkeypatch):
    """`replay -j 2` (small chunks: the undated line is parsed in a worker) counts what one process counts."""
    content, log = setup
    monkeypatch.setattr(parallel, "CHUNK", 16)
    opts = EngineOptions(config_dir=content, reference_year=2026)
    one = replay([str(log)], {"type": "syslog"}, opts, reference_ts=T0)
    two = replay([str(log)], {"type": "syslog"}, opts, reference_ts=T0, workers=2)
    assert _counts(one.stats) == _counts(two.stats) == WANT
    assert sorted(one.metrics) == sorted(two.metrics)


def test_register_engine_exports_profile_and_dateparse_families(setup):
    """The engine's counter set renders as synsec_profile_errors_total{kind}, synsec_alerts_allowlisted_total
    and synsec_parser_errors_total{kind="dateparse_failed"}; profile counts are not parser errors."""
    content, _log = setup
    engine, _ = build_engine(EngineOptions(config_dir=content, reference_year=2026))
    counters = register_engine(Counters(), engine)
    assert engine.profiles.counts is engine.ctx.counts is engine.ctx.enrich_ctx.counts is engine.buckets.counts
    for name, n in (("parser_dateparse_failed", 2), ("parser_filter_errors", 1), ("profiles_allowlisted", 4),
                    ("profiles_filter_errors", 5), ("profiles_duration_expr_errors", 6)):
        engine.counts.inc(name, n=n)
    got = {(s.name, s.labels): s.value for s in parse(counters.render())}
    assert {k: v for k, v in got.items() if k[0] in (PARSER_ERRORS, PROFILE_ERRORS, ALLOWLISTED)} == {
        (PARSER_ERRORS, (("kind", "dateparse_failed"),)): 2, (PARSER_ERRORS, (("kind", "filter_errors"),)): 1,
        (ALLOWLISTED, ()): 4, (PROFILE_ERRORS, (("kind", "filter"),)): 5,
        (PROFILE_ERRORS, (("kind", "duration_expr"),)): 6}
