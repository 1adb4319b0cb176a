"""`source: journalctl` on real journal files: `synsec run` follows them through `journalctl --follow -o json`
(the directory given as a journalctl argument in `journalctl_filter`, as CrowdSec passes its filters), bans an
sshd brute force, saves the cursor in the run state and resumes after it; `synsec replay journalctl://...` is
CrowdSec's one-shot DSN. No journald runs here: journal files are written by Debian's `systemd-journal-remote`
from journal export format, and appending to them is what journalctl follows."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.test_run_live import REPO, Run, proc_guard, wait_decision, wait_for  # noqa: F401

pytestmark = [pytest.mark.integration]

JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"
BOOT = "0123456789abcdef0123456789abcdef"


def _require_tools() -> None:
    if not Path(JOURNAL_REMOTE).exists() or shutil.which("journalctl") is None:
        pytest.fail("needs journalctl and systemd-journal-remote (scripts/apt-packages.txt; make test installs them)")


class Journal:
    """A journal directory written with systemd-journal-remote; `append` adds entries (export format)."""

    def __init__(self, root: Path):
        self.dir = root / "journal"
        self.dir.mkdir()
        self.seq = 0

    def append(self, entries: list[dict], after: float | None = None) -> float:
        """Entries stamped now, or 1 ms apart just after the time `after` (the value an earlier append returned,
        so that two batches stay as close in event time as the scenario needs, however long the test waited in
        between); returns the time of the last one."""
        out = bytearray()
        now = int(time.time() * 1e6) if after is None else int(after * 1e6)
        for fields in entries:
            self.seq += 1
            now = now + 1000 if after is not None else max(now, int(time.time() * 1e6))
            out += f"__REALTIME_TIMESTAMP={now}\n__MONOTONIC_TIMESTAMP={self.seq}\n_BOOT_ID={BOOT}\n".encode()
            for key, value in fields.items():
                if isinstance(value, bytes):           # binary field: KEY\n, 64-bit LE size, bytes, \n
                    out += key.encode() + b"\n" + struct.pack("<Q", len(value)) + value + b"\n"
                else:
                    out += f"{key}={value}\n".encode()
            out += b"\n"
        export = self.dir.parent / f"batch{self.seq}.export"
        export.write_bytes(bytes(out))
        res = subprocess.run([JOURNAL_REMOTE, "-o", str(self.dir / "remote.journal"), str(export)],
                             capture_output=True, text=True, timeout=30)
        assert res.returncode == 0, res.stderr
        return now / 1e6


def _journalctl_at_the_end(run: Run, journal_dir: Path) -> bool:
    """The run's journalctl child has the journal open and sleeps in poll: it reached the end and follows."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) != run.proc.pid or (stat.parent / "comm").read_text().strip() != "journalctl":
                continue
            fds = [os.readlink(fd) for fd in (stat.parent / "fd").iterdir()]
            return any(fd.startswith(str(journal_dir)) for fd in fds) and "poll" in (stat.parent / "wchan").read_text()
        except (OSError, ValueError):
            continue                                            # a process that just exited
    return False


def sshd(ip: str, n: int, port: int = 40000, unit: str = "ssh.service") -> list[dict]:
    return [{"_HOSTNAME": "bastion", "SYSLOG_IDENTIFIER": "sshd", "_PID": "2000", "_SYSTEMD_UNIT": unit,
             "MESSAGE": f"Failed password for root from {ip} port {port + i} ssh2"} for i in range(n)]


def test_journalctl_source_follows_bans_and_resumes_after_its_cursor(tmp_path, proc_guard):
    """Entries already in the journal are not read (CrowdSec's `-n 0`); 6 sshd failures appended to the unit
    the filter names (plus another unit's, filtered out, and a binary MESSAGE) → a ban in the store. The cursor
    is saved; entries written while synsec is stopped are read after a restart, none twice."""
    _require_tools()
    journal = Journal(tmp_path)
    journal.append(sshd("192.0.2.50", 6))                       # before the start: never read
    acquis = tmp_path / "acquis.yaml"
    acquis.write_text(f"source: journalctl\njournalctl_filter:\n  - --directory={journal.dir}\n"
                      f"  - _SYSTEMD_UNIT=ssh.service\nlabels:\n  type: syslog\n")
    state = tmp_path / "state"
    run = Run(state, "--acquis", str(acquis))
    proc_guard.append(run)
    assert "1 journal(s)" in "".join(run.err)
    wait_for(lambda: _journalctl_at_the_end(run, journal.dir))
    journal.append(sshd("192.0.2.51", 6, unit="cron.service"))  # another unit: filtered out by journalctl
    journal.append([{**sshd("192.0.2.52", 1)[0], "MESSAGE": b"bin\x00ary \xff"}])
    journal.append(sshd("192.0.2.52", 6))
    decision = wait_decision(state, "192.0.2.52")
    assert decision["scenario"] == "synsec/ssh-bf"
    stats = run.stop()
    assert stats["lines"] == 7 and stats["parsed"] == 6 and stats["binary"] == 1 and stats["invalid_utf8"] == 1
    saved = json.loads((state / "run-state.json").read_text())
    [(src, cursor)] = saved["cursors"].items()
    assert src == f"journalctl---directory={journal.dir}._SYSTEMD_UNIT=ssh.service" and ";i=" in cursor

    stopped_at = journal.append(sshd("192.0.2.53", 3))          # written while stopped
    again = Run(state, "--acquis", str(acquis))
    proc_guard.append(again)
    journal.append(sshd("192.0.2.53", 3, port=41000), after=stopped_at)   # 6 in a few ms: ssh-bf's burst
    decision = wait_decision(state, "192.0.2.53")
    assert decision["scenario"] == "synsec/ssh-bf"
    stats = again.stop()
    assert stats["lines"] == 6                                  # the 3 + 3 new ones, none of the first run's


def test_journalctl_dsn_replays_a_journal_once(tmp_path):
    """`synsec replay 'journalctl://filters=...'` reads the matching entries once and finds the brute force;
    a DSN without filters is a usage error, not a traceback."""
    _require_tools()
    journal = Journal(tmp_path)
    journal.append(sshd("192.0.2.60", 7) + sshd("192.0.2.61", 7, unit="other.service"))
    dsn = f"journalctl://filters=--directory={journal.dir}&filters=_SYSTEMD_UNIT=ssh.service"
    res = subprocess.run([sys.executable, "-m", "synsec.cli.main", "replay", dsn, "--type", "syslog", "--no-store",
                          "-o", "json"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert [a["source"]["value"] for a in out["alerts"]] == ["192.0.2.60"] and out["stats"]["lines"] == 7
    res = subprocess.run([sys.executable, "-m", "synsec.cli.main", "replay", "journalctl://since=today", "--type",
                          "syslog", "--no-store"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert res.returncode == 1 and "journalctl DSN without filters" in res.stderr and "Traceback" not in res.stderr


def test_killed_run_leaves_no_journalctl_behind(tmp_path, proc_guard):
    """SIGKILL of `synsec run` also ends its `journalctl --follow` child (journalctl stops when its stdout closes)."""
    import os
    import signal

    _require_tools()
    journal = Journal(tmp_path)
    journal.append(sshd("192.0.2.70", 1))
    acquis = tmp_path / "acquis.yaml"
    acquis.write_text(f"journalctl_filter: ['--directory={journal.dir}']\nlabels: {{type: syslog}}\n")
    run = Run(tmp_path / "state", "--acquis", str(acquis))
    proc_guard.append(run)
    pid = run.proc.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    [child] = [int(c) for c in children if "journalctl" in Path(f"/proc/{c}/cmdline").read_text()]
    os.kill(pid, signal.SIGKILL)
    run.proc.wait(10)
    wait_for(lambda: not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2])


def test_failing_journalctl_is_reported_and_the_other_sources_run(tmp_path, proc_guard):
    """A journalctl that fails (its directory does not exist) is a warning with its own message, retried later;
    the file source of the same acquisition file still bans."""
    from tests.integration.test_run_live import append, failures

    log = tmp_path / "auth.log"
    log.write_text("")
    acquis = tmp_path / "acquis.yaml"
    acquis.write_text(f"journalctl_filter: ['--directory={tmp_path}/nope']\nlabels: {{type: syslog}}\n---\n"
                      f"filename: {log}\nlabels: {{type: syslog}}\n")
    run = Run(tmp_path / "state", "--acquis", str(acquis))
    proc_guard.append(run)
    append(log, failures("192.0.2.80", 6))
    assert wait_decision(tmp_path / "state", "192.0.2.80")["scenario"] == "synsec/ssh-bf"
    wait_for(lambda: any("exited with 1" in line for line in run.err))
    err = "".join(run.err)
    assert f"warning: {acquis}:1: journalctl---directory={tmp_path}/nope: journalctl: Failed to open" in err
    assert "restarting in 10s" in err and "Traceback" not in err
    assert run.stop()["lines"] == 6
