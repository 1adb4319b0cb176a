"""`synsec run` command line: what it reads, bad combinations of -f/--type, one run per state dir."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from synsec.cli.main import _lock_state_dir, _run_sources, cli


def _run(*args: str):
    return CliRunner().invoke(cli, ["run", *args])


def test_nothing_to_read_and_missing_type_are_usage_errors(tmp_path):
    """No -f and no --acquis, or -f without --type, stop with a message saying what to give."""
    res = _run("--state-dir", str(tmp_path))
    assert res.exit_code == 2 and "give -f FILE --type TYPE and/or --acquis" in res.output
    res = _run("-f", "a.log", "--state-dir", str(tmp_path))
    assert res.exit_code == 2 and "-f FILE needs --type" in res.output


def test_one_type_for_all_files_or_one_per_file():
    """--type once applies to every -f; one per -f pairs in order; any other count is an error."""
    both = _run_sources(("a.log", "b.log"), ("syslog",), ("env=prod",), ())
    assert [(s.globs, s.labels) for s in both] == [(("a.log",), {"type": "syslog", "env": "prod"}),
                                                   (("b.log",), {"type": "syslog", "env": "prod"})]
    paired = _run_sources(("a.log", "b.log"), ("syslog", "nginx"), (), ())
    assert [s.labels["type"] for s in paired] == ["syslog", "nginx"]
    with pytest.raises(click.BadParameter, match="2 --type for 3 -f"):
        _run_sources(("a", "b", "c"), ("syslog", "nginx"), (), ())


def test_a_second_run_on_the_same_state_dir_is_refused(tmp_path):
    """run.lock is held while a run lives: a second one on the same state dir fails with a clear message."""
    held = _lock_state_dir(tmp_path)
    try:
        with pytest.raises(click.ClickException, match="another synsec run uses"):
            _lock_state_dir(tmp_path)
    finally:
        held.close()
    _lock_state_dir(tmp_path).close()                      # free again once the first is gone
