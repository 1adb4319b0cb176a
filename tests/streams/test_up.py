"""`synsec up`: broker + topics + worker + tailed files on one machine, and its file tailer."""

from __future__ import annotations

import subprocess
import sys

import pytest

from synsec.cli.up import Tail
from tests.streams.topology_util import REPO, read_lines, replay_reference


def test_tail_follows_appends_and_rotation(tmp_path):
    """New lines are returned once, a partial last line waits for its newline, a replaced file restarts."""
    log = tmp_path / "a.log"
    log.write_text("old\n")
    tail = Tail([log], from_start=False)
    assert tail.poll() == []
    with log.open("a") as f:
        f.write("one\ntw")
    assert [line for _p, line in tail.poll()] == ["one"]
    with log.open("a") as f:
        f.write("o\n")
    assert [line for _p, line in tail.poll()] == ["two"]
    log.rename(tmp_path / "a.log.1")
    log.write_text("fresh\n")
    assert [line for _p, line in tail.poll()] == ["fresh"]


@pytest.mark.integration
@pytest.mark.slow
def test_synsec_up_bans_the_attackers_of_a_tailed_file(tmp_path):
    """`synsec up FILE --from-start` starts its own broker and worker and prints replay's decisions."""
    sample = REPO / "scenarios" / "samples" / "auth-demo.log"
    _, decisions, _ = replay_reference(read_lines(sample), "syslog")
    proc = subprocess.run([sys.executable, "-m", "synsec.cli.main", "up", str(sample), "--type", "syslog",
                           "--from-start", "--exit-after-idle", "12"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    printed = {line.split()[1] for line in proc.stdout.splitlines() if line.startswith("ban ")}
    assert printed == {f"{scope}:{value}" for scope, value, _t, _s in decisions}, proc.stdout
