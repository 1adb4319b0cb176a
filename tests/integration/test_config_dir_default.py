"""One config directory read by default: replay, run, worker, up and ccscli load the content installed in
$SYNSEC_CONFIG_DIR once it holds some, fall back to synsec's own content while it is empty, obey --config-dir,
and say on stderr which directory they read."""

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
from click.testing import CliRunner

from synsec.cli.ccscli import ccscli
from synsec.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "scenarios" / "samples" / "auth-demo.log"
MARK = "test/config-dir-only"
TRIGGER = f"""type: trigger
name: {MARK}
description: "any failed ssh authentication (only in the test's config directory)"
filter: "evt.Meta.log_type == 'ssh_failed-auth'"
groupby: evt.Meta.source_ip
labels:
  remediation: true
"""


@pytest.fixture
def config(tmp_path, monkeypatch) -> Path:
    """$SYNSEC_CONFIG_DIR holding synsec's ssh parsers and one scenario synsec does not ship."""
    cfg = tmp_path / "config"
    for rel in ("parsers/s00-raw/syslog-logs.yaml", "parsers/s01-parse/sshd-logs.yaml",
                "parsers/s02-enrich/dateparse-enrich.yaml"):
        (cfg / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "scenarios" / rel, cfg / rel)
    (cfg / "scenarios").mkdir()
    (cfg / "scenarios" / "config-dir-only.yaml").write_text(TRIGGER)
    monkeypatch.setenv("SYNSEC_CONFIG_DIR", str(cfg))
    return cfg


def replay(*flags: str) -> tuple[set, str]:
    res = CliRunner().invoke(cli, ["replay", "--type", "syslog", "--no-store", "-o", "json", *flags, str(SAMPLE)])
    assert res.exit_code == 0, res.output
    return {a["scenario"] for a in json.loads(res.stdout)["alerts"]}, res.stderr


def test_replay_reads_the_config_dir_once_it_holds_content(config):
    """replay loads $SYNSEC_CONFIG_DIR's installed scenario (not synsec's own) and says so on stderr."""
    found, err = replay()
    assert found == {MARK}, found
    assert f"content: {config} (config directory)" in err


def test_replay_falls_back_to_synsec_content_while_the_config_dir_is_empty(tmp_path, monkeypatch):
    """A config dir without installed content (absent, or only a hub index) leaves synsec's own content running."""
    (tmp_path / "config" / "hub").mkdir(parents=True)
    (tmp_path / "config" / "hub" / ".index.json").write_text("{}")
    monkeypatch.setenv("SYNSEC_CONFIG_DIR", str(tmp_path / "config"))
    found, err = replay()
    assert "synsec/ssh-bf" in found and MARK not in found
    assert f"content: {REPO / 'scenarios'} (synsec's own content: nothing installed in {tmp_path / 'config'})" in err


def test_config_dir_flag_wins(config):
    """--config-dir names the content whatever $SYNSEC_CONFIG_DIR holds."""
    found, err = replay("--config-dir", str(REPO / "scenarios"))
    assert "synsec/ssh-bf" in found and MARK not in found
    assert f"content: {REPO / 'scenarios'} (--config-dir)" in err


def test_ccscli_reads_the_config_dir(config):
    """ccscli scenarios list and explain show the config dir's content; lint checks it."""
    res = CliRunner().invoke(ccscli, ["scenarios", "list", "-o", "json"])
    assert res.exit_code == 0, res.output
    assert [r["name"] for r in json.loads(res.stdout)] == [MARK]
    assert f"content: {config} (config directory)" in res.stderr
    line = "Mar  1 10:00:00 bastion sshd[4000]: Failed password for root from 192.0.2.15 port 50000 ssh2"
    res = CliRunner().invoke(ccscli, ["explain", "--type", "syslog", "--log", line, "-o", "json"])
    assert res.exit_code == 0, res.output
    assert [b["scenario"] for b in json.loads(res.stdout)[0]["buckets"]] == [MARK]


def _broken(config: Path) -> Path:
    bad = config / "scenarios" / "config-dir-only.yaml"
    bad.write_text(TRIGGER + "no_such_key: 1\n")
    return bad


def test_worker_reads_the_config_dir(config):
    """synsec worker loads the config dir's content before any broker call: its broken scenario stops it (exit 1)
    with an error naming that file."""
    bad = _broken(config)
    res = CliRunner().invoke(cli, ["worker", "--broker", "kafka://127.0.0.1:9"])
    assert res.exit_code == 1, res.output
    assert str(bad) in res.output and "no_such_key" in res.output
    assert f"content: {config} (config directory)" in res.stderr


def _collect(proc) -> tuple[list, list]:
    out, err = [], []
    for stream, sink in ((proc.stdout, out), (proc.stderr, err)):
        threading.Thread(target=lambda s=stream, k=sink: k.extend(iter(s.readline, "")), daemon=True).start()
    return out, err


def _wait(pred, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, f"not true after {timeout}s"
        time.sleep(0.05)


def test_run_reads_the_config_dir(config, tmp_path):
    """synsec run (a real process) says which content it reads and raises the config dir's scenario."""
    log = tmp_path / "auth.log"
    log.write_text("")
    proc = subprocess.Popen([sys.executable, "-m", "synsec.cli.main", "run", "-f", str(log), "--type", "syslog",
                             "--state-dir", str(tmp_path / "state"), "--no-store", "-o", "json",
                             "--poll-interval", "0.05"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        out, err = _collect(proc)
        _wait(lambda: any(line.startswith("tailing ") for line in err) or proc.poll() is not None)
        assert f"content: {config} (config directory)\n" in err, err
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        with log.open("a") as fh:
            fh.write(f"{stamp} bastion sshd[2000]: Failed password for root from 192.0.2.77 port 40000 ssh2\n")
        _wait(lambda: any('"alert"' in line for line in out))
        alert = json.loads(next(line for line in out if '"alert"' in line))["alert"]
        assert alert["scenario"] == MARK
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0, "".join(err)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


@pytest.mark.integration
def test_up_gives_its_worker_the_config_dir(config, tmp_path):
    """synsec up resolves the config dir and starts its worker on it: the worker stops on the config dir's broken
    scenario, naming the file, and up stops its broker and exits 1."""
    bad = _broken(config)
    log = tmp_path / "auth.log"
    log.write_text("")
    proc = subprocess.run([sys.executable, "-m", "synsec.cli.main", "up", str(log), "--type", "syslog",
                           "--exit-after-idle", "30", "--no-api"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert f"content: {config} (config directory)" in proc.stderr
    assert str(bad) in proc.stderr and "the worker exited with 1" in proc.stderr
