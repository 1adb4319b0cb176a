"""`synsec run` as a real process on temp log files and a temp state dir: decisions land in the embedded store
(read back with `ccscli decisions list`), rotation and copytruncate keep being followed, a restart resumes
without re-reading, idle wall time ends a counter, and acquisition errors name file, line and field."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CCSCLI = [sys.executable, "-c", "from synsec.cli.ccscli import main; main()"]
DEADLINE = 60.0        # bound of the condition waits (each returns once it holds): room for busy parallel workers


class Run:
    """`synsec run ARGS -o json` in a child process; stdout/stderr collected by threads."""

    def __init__(self, state: Path, *args: str):
        cmd = [sys.executable, "-m", "synsec.cli.main", "run", *args, "--state-dir", str(state), "-o", "json",
               "--poll-interval", "0.05"]
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=lambda s=stream, k=sink: k.extend(iter(s.readline, "")), daemon=True).start()
        try:
            wait_for(lambda: any(line.startswith("tailing ") for line in self.err) or self.proc.poll() is not None)
            assert self.proc.poll() is None, "".join(self.err)
        except BaseException:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(5)
            raise

    def objects(self) -> list[dict]:
        return [json.loads(line) for line in list(self.out)]

    def stop(self) -> dict:
        """SIGTERM: exit 0 with the summary as the last JSON line."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            assert self.proc.wait(15) == 0, "".join(self.err)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(5)
        wait_for(lambda: self.out and "stats" in json.loads(self.out[-1]))
        return json.loads(self.out[-1])["stats"]


def wait_for(pred, timeout: float = DEADLINE) -> None:
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise AssertionError(f"not true after {timeout}s")
        time.sleep(0.05)


def failures(ip: str, n: int, start_port: int = 40000) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return "".join(f"{stamp} bastion sshd[2000]: Failed password for root from {ip} port {start_port + i} ssh2\n"
                   for i in range(n))


def append(path: Path, text: str) -> None:
    with path.open("a") as fh:
        fh.write(text)


def stored_decisions(state: Path) -> dict[str, dict]:
    """{value: decision} from `ccscli decisions list -o json` on the same state dir."""
    res = subprocess.run([*CCSCLI, "--state-dir", str(state), "decisions", "list", "-o", "json"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    return {d["value"]: d for d in json.loads(res.stdout or "[]")}


def wait_decision(state: Path, ip: str) -> dict:
    found: dict = {}
    wait_for(lambda: found.update(stored_decisions(state)) or ip in found)
    return found[ip]


@pytest.fixture
def proc_guard():
    runs: list[Run] = []
    yield runs
    for run in runs:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait(5)


def test_acquis_glob_file_appearing_later_leads_to_a_stored_decision(tmp_path, proc_guard):
    """A file created after start that matches an acquis glob is read; 6 fast failures → a ban in the store;
    at exit the run's counters are added to the store's metrics (ccscli metrics)."""
    logs = tmp_path / "logs"
    logs.mkdir()
    acquis = tmp_path / "acquis.yaml"
    acquis.write_text(f"source: file\nfilenames: ['{logs}/*.log']\nlabels:\n  type: syslog\n")
    run = Run(tmp_path / "state", "--acquis", str(acquis))
    proc_guard.append(run)
    append(logs / "auth.log", failures("192.0.2.10", 6))
    decision = wait_decision(tmp_path / "state", "192.0.2.10")
    assert decision["scenario"] == "synsec/ssh-bf" and decision["type"] == "ban"
    wait_for(lambda: any("decision" in o for o in run.objects()))
    stats = run.stop()
    assert stats["lines"] == 6 and stats["alerts"] >= 1 and stats["decisions"] >= 1
    kinds = [next(iter(o)) for o in run.objects()]
    assert kinds[0] == "alert" and "decision" in kinds and kinds[-1] == "stats"
    res = subprocess.run([*CCSCLI, "--state-dir", str(tmp_path / "state"), "metrics", "-o", "json"],
                         capture_output=True, text=True, timeout=30)
    acquisition = json.loads(res.stdout)["acquisition"]
    assert [(a["source"], a["lines_read"]) for a in acquisition] == [(str(logs / "auth.log"), 6)]


def test_rotation_keeps_following(tmp_path, proc_guard):
    """3 failures before a rename rotation and 3 in the new file fill one bucket: the rotation is followed."""
    log = tmp_path / "auth.log"
    log.write_text("")
    run = Run(tmp_path / "state", "-f", str(log), "--type", "syslog")
    proc_guard.append(run)
    append(log, failures("198.51.100.5", 3))
    log.rename(tmp_path / "auth.log.1")
    log.write_text(failures("198.51.100.5", 3, 41000))
    wait_decision(tmp_path / "state", "198.51.100.5")
    stats = run.stop()
    assert stats["lines"] == 6 and stats["rotations"] == 1


def test_copytruncate_keeps_following(tmp_path, proc_guard):
    """After copytruncate, the lines written into the emptied file are read from its start."""
    log = tmp_path / "auth.log"
    log.write_text("")
    run = Run(tmp_path / "state", "-f", str(log), "--type", "syslog")
    proc_guard.append(run)
    append(log, failures("203.0.113.8", 6) + "".join(
        f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%S+00:00} bastion sshd[1]: Accepted publickey for alice "
        f"from 192.0.2.200 port {p} ssh2\n" for p in range(20)))
    wait_decision(tmp_path / "state", "203.0.113.8")            # read: the file is now longer than what follows
    shutil.copy(log, tmp_path / "auth.log.1")
    with log.open("r+") as fh:
        fh.truncate(0)
    append(log, failures("203.0.113.9", 6))
    wait_decision(tmp_path / "state", "203.0.113.9")
    stats = run.stop()
    assert stats["truncations"] == 1 and stats["lines"] == 32


def test_restart_resumes_without_rereading(tmp_path, proc_guard):
    """Lines written while stopped are read after a restart, old ones are not: no duplicate alert, and the
    half-full bucket of the first run overflows in the second."""
    log, state = tmp_path / "auth.log", tmp_path / "state"
    log.write_text("")
    first = Run(state, "-f", str(log), "--type", "syslog")
    proc_guard.append(first)
    append(log, failures("192.0.2.44", 6) + failures("192.0.2.55", 3))
    wait_decision(state, "192.0.2.44")
    assert first.stop()["lines"] == 9
    append(log, failures("192.0.2.55", 3, 42000))               # written while synsec is down
    second = Run(state, "-f", str(log), "--type", "syslog")
    proc_guard.append(second)
    wait_decision(state, "192.0.2.55")
    stats = second.stop()
    assert stats["lines"] == 3
    alerts = [o["alert"] for o in second.objects() if "alert" in o]
    assert [a["source"]["value"] for a in alerts] == ["192.0.2.55"] and alerts[0]["events_count"] == 6
    res = subprocess.run([*CCSCLI, "--state-dir", str(state), "alerts", "list", "-o", "json"], capture_output=True,
                         text=True, timeout=30)
    values = [a["source"]["value"] for a in json.loads(res.stdout)]
    assert sorted(values) == ["192.0.2.44", "192.0.2.55"], values


def test_idle_wall_clock_ends_a_counter(tmp_path, proc_guard):
    """One failure and then silence: a 1s counter overflows by the wall clock alone, and its ban is stored."""
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    for name in ("parsers", "patterns", "postoverflows", "data", "profiles.yaml"):
        (cfg / name).symlink_to(REPO / "scenarios" / name)
    (cfg / "scenarios").mkdir()
    (cfg / "scenarios" / "count.yaml").write_text(
        "type: counter\nname: test/ssh-count\ndescription: one-second counter\nfilter: \"evt.Meta.log_type == 'ssh_failed-auth'\"\n"
        "groupby: evt.Meta.source_ip\ncapacity: -1\nduration: 1s\nlabels:\n  remediation: true\n")
    log = tmp_path / "auth.log"
    log.write_text("")
    run = Run(tmp_path / "state", "-f", str(log), "--type", "syslog", "--config-dir", str(cfg), "--lateness", "0")
    proc_guard.append(run)
    append(log, failures("192.0.2.77", 1))
    assert wait_decision(tmp_path / "state", "192.0.2.77")["scenario"] == "test/ssh-count"
    assert run.stop()["lines"] == 1


def test_acquis_errors_name_file_line_and_field(tmp_path):
    """A bad acquis.yaml stops `synsec run` before reading, with every error as path:line: field."""
    acquis = tmp_path / "acquis.yaml"
    acquis.write_text("filename: /var/log/auth.log\nlabels: {type: syslog}\n---\nsource: syslog\n"
                      "listen_port: 0\nlabels: {type: syslog}\n---\n"
                      "filename: /x.log\nlabels: {type: x}\nmode: follow\n")
    res = subprocess.run([sys.executable, "-m", "synsec.cli.main", "run", "--acquis", str(acquis), "--state-dir",
                          str(tmp_path / "state")], capture_output=True, text=True, timeout=30)
    assert res.returncode != 0
    assert f"{acquis}:5: listen_port: 0: expected a port 1-65535" in res.stderr
    assert f"{acquis}:10: mode: 'follow': expected one of tail, cat" in res.stderr
    assert not (tmp_path / "state").exists()
