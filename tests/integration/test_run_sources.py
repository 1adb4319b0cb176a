"""`synsec run` inputs besides tailed files, as real processes: stdin (`-f -`, `--stdin`), CrowdSec's `transform`
on an acquisition, a source synsec does not have (one warning line, the others still run) and Debian's stock
crowdsec 1.4.6 acquis.yaml."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_run_live import REPO, Run, append, failures, proc_guard, wait_decision  # noqa: F401

pytestmark = [pytest.mark.integration]


def _run(args: list[str], state: Path, stdin: str = "") -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "synsec.cli.main", "run", *args, "--state-dir", str(state), "-o", "json",
           "--poll-interval", "0.05"]
    return subprocess.run(cmd, cwd=REPO, input=stdin, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _objects(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_stdin_is_read_to_its_end_then_run_exits(tmp_path):
    """`synsec run -f - --type syslog` reads piped lines, bans, and exits 0 with its summary at EOF; `--stdin`
    is the same input."""
    for flag in (["-f", "-"], ["--stdin"]):
        state = tmp_path / flag[-1].strip("-")
        res = _run([*flag, "--type", "syslog"], state, failures("192.0.2.90", 6))
        assert res.returncode == 0, res.stderr
        objs = _objects(res.stdout)
        assert [o["decision"]["value"] for o in objs if "decision" in o] == ["192.0.2.90"]
        assert objs[-1]["stats"]["lines"] == 6 and "stdin" in res.stderr


def test_transform_splits_lines_and_passes_others_on(tmp_path):
    """A `transform` returning a list makes one line of each item; one returning neither a string nor a list
    passes the line on unchanged and is counted (CrowdSec's semantics)."""
    log = tmp_path / "joined.log"
    pairs = failures("192.0.2.91", 6).splitlines()
    log.write_text("".join(f"{a}|{b}\n" for a, b in zip(pairs[::2], pairs[1::2])) + "no bar here\n")
    acquis = tmp_path / "acquis.yaml"
    acquis.write_text(f"filename: {log}\nmode: cat\nlabels: {{type: syslog}}\n"
                      "transform: 'evt.Line.Raw contains \"|\" ? Split(evt.Line.Raw, \"|\") : 42'\n")
    res = _run(["--acquis", str(acquis), "-f", "-", "--type", "syslog"], tmp_path / "state")
    assert res.returncode == 0, res.stderr
    objs = _objects(res.stdout)
    assert [o["decision"]["value"] for o in objs if "decision" in o] == ["192.0.2.91"]
    stats = objs[-1]["stats"]
    assert stats["lines"] == 7 and stats["parsed"] == 6 and stats["transform_errors"] == 1


def test_unsupported_source_is_one_warning_and_the_others_run(tmp_path, proc_guard):
    """A docker source is one warning line naming file:line: source; the file source next to it still bans."""
    log = tmp_path / "auth.log"
    log.write_text("")
    acquis = tmp_path / "acquis.yaml"
    acquis.write_text("source: docker\ncontainer_name: [sshd]\nlabels: {type: syslog}\n---\n"
                      f"filename: {log}\nlabels: {{type: syslog}}\n")
    run = Run(tmp_path / "state", "--acquis", str(acquis))
    proc_guard.append(run)
    warned = [line for line in run.err if "docker" in line]
    assert warned == [f"warning: {acquis}:1: source docker: not supported by synsec run, skipped (supported: file, "
                      "journalctl, syslog)\n"]
    append(log, failures("192.0.2.92", 6))
    assert wait_decision(tmp_path / "state", "192.0.2.92")["scenario"] == "synsec/ssh-bf"
    assert run.stop()["lines"] == 6


def test_debian_stock_acquis_runs(tmp_path, proc_guard):
    """`synsec run --acquis` on Debian's crowdsec 1.4.6 /etc/crowdsec/acquis.yaml starts (its files watched, its
    journalctl source followed) and stops cleanly."""
    from tests.hubutil import hub_root, require_hub

    require_hub()
    stock = hub_root() / "etc" / "crowdsec" / "acquis.yaml"
    run = Run(tmp_path / "state", "--acquis", str(stock))
    proc_guard.append(run)
    started = "".join(run.err)
    assert "1 journal(s)" in started and "from 4 source(s)" in started and "Error" not in started
    assert run.stop()["lines"] >= 0
