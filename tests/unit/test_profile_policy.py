"""Profiles' `on_error` (break, continue, apply, ignore) and `notifications:` (names checked against the
notification files, counted, a warning where they are not delivered)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from synsec.cli.main import cli
from synsec.content.loader import load_content
from synsec.content.notifications import load_notifications
from synsec.content.profiles import load_profiles
from synsec.engine.errors import ErrorCollector, LoadErrors
from synsec.engine.expr import ExprContext
from synsec.engine.model import Alert, Source
from synsec.engine.profiles import ProfileEngine

REPO = Path(__file__).resolve().parents[2]
FAILING = """name: first
filters:
  - Alert.GetScope() == "Ip"
  - int(Alert.GetScenario()) > 0
decisions:
  - type: ban
    duration: 1h
{on_error}on_success: break
---
name: fallback
filters:
  - Alert.Remediation
decisions:
  - type: captcha
    duration: 2h
"""


def _decide(on_error: str) -> list[tuple[str, float]]:
    errors = ErrorCollector()
    text = FAILING.format(on_error=f"on_error: {on_error}\n" if on_error else "")
    profiles = load_profiles("profiles.yaml", text, ExprContext(), errors)
    errors.raise_if_any()
    engine = ProfileEngine(tuple(profiles))
    out = engine.decide(Alert("x/y", Source(Value="192.0.2.1", IP="192.0.2.1"), 6, 0.0, 10.0, Remediation=True))
    assert engine.counts.total("profiles_filter_errors") == 1
    return [(d.type, d.duration / 3600) for d in out]


@pytest.mark.parametrize("on_error, want", [
    ("", [("ban", 1), ]),                      # a failing filter is a non-match: the first one matched
    ("ignore", [("captcha", 2)]),              # the profile is dropped, the next one decides
    ("continue", [("captcha", 2)]),
    ("break", []),                             # no profile after it
    ("apply", [("ban", 1)]),                   # applied as if matched, and its on_success: break holds
])
def test_on_error(on_error, want):
    """A filter failing at run time: counted, then what `on_error` says."""
    assert _decide(on_error) == want


def test_on_error_rejects_other_values():
    """`on_error: report` (not one of break, continue, apply, ignore) is a load error naming the field."""
    errors = ErrorCollector()
    load_profiles("profiles.yaml", FAILING.format(on_error="on_error: report\n"), ExprContext(), errors)
    assert "profiles.yaml" in str(errors.errors[0]) and "on_error" in str(errors.errors[0])


def test_notifications_are_checked_counted_and_warned(tmp_path):
    """A profile's notification names must be those of notifications/*.yaml (else an error naming file and
    line); known ones are counted per match, and a runner that does not deliver them warns once."""
    content = tmp_path / "content"
    shutil.copytree(REPO / "scenarios", content)
    profile = "name: ban\nfilters:\n  - Alert.Remediation\ndecisions:\n  - type: ban\nnotifications:\n  - {}\n"
    (content / "profiles.yaml").write_text(profile.format("slack_default"))
    with pytest.raises(LoadErrors) as err:
        load_content(content)
    assert "profiles.yaml:7" in str(err.value) and "no notification named 'slack_default'" in str(err.value)
    (content / "notifications").mkdir()
    (content / "notifications" / "slack.yaml").write_text("type: slack\nname: slack_default\nwebhook: http://127.0.0.1:9/x\n")
    loaded = load_content(content)
    assert loaded.profiles[0].notifications == ("slack_default",)
    assert "does not deliver" in loaded.warnings()[0] and loaded.warnings(delivers=True) == []
    res = CliRunner().invoke(cli, ["replay", str(REPO / "scenarios" / "samples" / "auth-demo.log"), "--type",
                                   "syslog", "--config-dir", str(content), "--no-store", "-o", "json",
                                   "--reference-time", "2026-06-01T00:00:00Z"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert res.stderr.count("this runner does not deliver notifications") == 1     # --no-store: none queued
    import json
    stats = json.loads(res.stdout)["stats"]
    assert stats["profiles_notifications"] >= 1


def test_notification_files_need_names():
    """A notification document without `name` is an error naming its file."""
    errors = ErrorCollector()
    assert set(load_notifications([("n/http.yaml", "type: http\nurl: http://127.0.0.1/\n"),
                                   ("n/ok.yaml", "name: a\ntype: http\nurl: http://127.0.0.1/\n")], errors)) == {"a"}
    assert len(errors.errors) == 1 and "n/http.yaml" in str(errors.errors[0])
