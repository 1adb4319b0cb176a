"""Durations validated once (synsec.engine.durations): Go text, finite, not negative unless allowed, <= 10 years;
and every entry point (profiles, API/ccscli input) refuses what it refuses (issue 10, finding A)."""

from __future__ import annotations

import math

import pytest

from connectors.api.inputs import InputError, validate
from synsec.content.profiles import load_profiles
from synsec.engine.durations import (MAX_DURATION, DurationError, bounded_until, check_seconds, parse_duration,
                                     seconds_text)
from synsec.engine.errors import ErrorCollector

ABSURD = "9" * 400 + "h"          # float() of it is inf: the value that stopped every bouncer


@pytest.mark.parametrize("text, seconds", [("10s", 10.0), ("1h30m", 5400.0), ("0.5s", 0.5), ("0", 0.0),
                                           ("250ms", 0.25), ("87600h", MAX_DURATION)])
def test_go_durations_parse(text, seconds):
    """Go durations CrowdSec content uses parse to seconds, up to the 10-year bound inclusive."""
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text, message", [
    (ABSURD, "longer than 64 characters"), ("9" * 60 + "h", "longer than 87600h"), ("87601h", "longer than"),
    ("-1h", "negative"), ("10", "invalid duration"), ("١٧s", "invalid duration"), ("1e400h", "invalid"),
    ("", "invalid duration"), ("h", "invalid duration"), (10, "missing unit"), (None, "expected a string"),
])
def test_absurd_duration_rejected(text, message):
    """Regression (issue 10 A): an infinite, negative, over-10-year, unit-less or non-ASCII duration is refused."""
    with pytest.raises(DurationError, match=message):
        parse_duration(text)


def test_negative_duration_only_where_allowed():
    """A negative duration parses only when the caller allows it, and is still bounded."""
    assert parse_duration("-1h", allow_negative=True) == -3600.0
    with pytest.raises(DurationError, match="longer than"):
        parse_duration("-87601h", allow_negative=True)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, MAX_DURATION * 2, True, "1"])
def test_check_seconds_refuses_non_finite_and_out_of_range(value):
    """check_seconds refuses non-numbers, NaN, ±inf and values beyond the bound."""
    with pytest.raises(DurationError):
        check_seconds(value, allow_negative=True)


@pytest.mark.parametrize("until, expected", [(math.inf, 1000.0 + MAX_DURATION), (-math.inf, 1000.0 - MAX_DURATION),
                                             (math.nan, None), (None, None), ("x", None), (2000.0, 2000.0)])
def test_bounded_until_clamps_or_skips_old_data(until, expected):
    """A stored `until` that is not a number is skipped (None); an infinite one is clamped to 10 years."""
    assert bounded_until(until, 1000.0) == expected


@pytest.mark.parametrize("seconds", [0.5, 14400.0, MAX_DURATION, 1e-9, 1234567.25])
def test_seconds_text_round_trips(seconds):
    """seconds_text writes a duration parse_duration reads back (no exponent, e.g. 315360000s)."""
    text = seconds_text(seconds)
    assert "e" not in text and parse_duration(text) == pytest.approx(seconds)


def test_absurd_duration_in_api_input_is_a_400_error():
    """Regression (issue 10 A): POST /v1/decisions and `ccscli decisions add -d` refuse the absurd duration."""
    with pytest.raises(InputError, match="invalid duration"):
        validate({"value": "192.0.2.1", "duration": ABSURD})
    with pytest.raises(InputError, match="longer than 87600h"):
        validate({"value": "192.0.2.1", "duration": "100000h"})


def test_absurd_duration_in_profile_is_a_load_error():
    """Regression (issue 10 A): a profile with the absurd duration is a load error naming file, line and field,
    not a profile that crash-loops `synsec run`."""
    text = ("name: default_ip_remediation\nfilters:\n  - Alert.Remediation == true\n"
            f"decisions:\n  - type: ban\n    duration: {ABSURD}\non_success: break\n")
    errors = ErrorCollector()
    profiles = load_profiles("profiles.yaml", text, None, errors)
    assert profiles and not profiles[0].decisions
    [err] = errors.errors
    assert "profiles.yaml:6" in str(err) and "duration" in str(err) and "longer than" in str(err)


def test_absurd_profile_duration_stops_synsec_at_load(tmp_path):
    """Regression (issue 10 A): `synsec replay` with the absurd duration in profiles.yaml exits at load with the
    file, line and field (it used to load, then crash on every decision: `synsec run` crash-looped)."""
    import shutil
    from pathlib import Path

    from click.testing import CliRunner

    from synsec.cli.main import cli

    content = tmp_path / "content"
    shutil.copytree(Path(__file__).resolve().parents[2] / "scenarios", content)
    profiles = content / "profiles.yaml"
    profiles.write_text(profiles.read_text().replace("duration: 4h", f"duration: {ABSURD}", 1))
    log = tmp_path / "auth.log"
    log.write_text("Dec  2 10:00:00 host sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2\n")
    res = CliRunner().invoke(cli, ["replay", str(log), "--type", "syslog", "--config-dir", str(content),
                                   "--state-dir", str(tmp_path / "state")])
    assert res.exit_code != 0 and (res.exception is None or isinstance(res.exception, SystemExit)), res.output
    assert "profiles.yaml" in res.output and "duration" in res.output and "longer than" in res.output
