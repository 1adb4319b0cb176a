"""`synsec --version`, `ccscli --version` and `ccscli version` print the version pyproject.toml declares; the shell
completion the README documents answers."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from synsec.cli.ccscli import ccscli
from synsec.cli.main import cli

VERSION = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]["version"]


@pytest.mark.parametrize("command, args, expected", [
    (cli, ["--version"], f"synsec, version {VERSION}\n"),
    (ccscli, ["--version"], f"ccscli, version {VERSION}\n"),
    (ccscli, ["version"], f"ccscli (synsec) {VERSION}\n"),
])
def test_version_commands_print_the_pyproject_version(command, args, expected):
    """Each version command prints the package's version, which is pyproject.toml's."""
    res = CliRunner().invoke(command, args)
    assert res.exit_code == 0, res.output
    assert res.stdout == expected


@pytest.mark.parametrize("command, prog, words, expected", [
    (cli, "synsec", "synsec rep", "plain,replay"),
    (ccscli, "ccscli", "ccscli collections ", "plain,disable"),
])
def test_shell_completion_as_documented(command, prog, words, expected):
    """Click's completion (README: `_SYNSEC_COMPLETE=bash_source synsec`) answers for both programs."""
    env = {f"_{prog.upper()}_COMPLETE": "bash_complete", "COMP_WORDS": words,
           "COMP_CWORD": str(len(words.split(" ")) - 1)}
    res = CliRunner().invoke(command, [], env=env, prog_name=prog)
    assert expected in res.stdout.splitlines(), res.output
