"""`synsec up`: broker + topics + worker + tailed files on one machine (its tailer: synsec.runner.tail)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.streams.topology_util import REPO, read_lines, replay_reference


@pytest.mark.integration
@pytest.mark.slow
def test_synsec_up_bans_the_attackers_of_a_tailed_file(tmp_path):
    """`synsec up FILE --from-start` starts its own broker and worker and prints replay's decisions. Its idle
    clock runs from the last line sent, while the worker still starts: 30 s leaves room for a busy machine."""
    sample = REPO / "scenarios" / "samples" / "auth-demo.log"
    _, decisions, _ = replay_reference(read_lines(sample), "syslog")
    proc = subprocess.run([sys.executable, "-m", "synsec.cli.main", "up", str(sample), "--type", "syslog",
                           "--from-start", "--exit-after-idle", "30", "--no-api", "--state-dir", str(tmp_path / "state")],
                          cwd=tmp_path, capture_output=True,
                          text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "state" / "worker").is_dir()       # the worker's Faust dir is up's, not a shared /tmp one
    printed = {line.split()[1] for line in proc.stdout.splitlines() if line.startswith("ban ")}
    assert printed == {f"{scope}:{value}" for scope, value, _t, _s in decisions}, proc.stdout
