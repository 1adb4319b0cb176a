"""`synsec up` runs the installation's API beside its worker (a bouncer pulls what it decides) and, with `--central`,
a one-machine crowd on the same bundled broker: central (health: broker up) and a curation worker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from connectors.kafka.broker import free_port
from tests.procutil import stop
from tests.streams.topology_util import REPO, read_lines, replay_reference

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get(url: str, key: str | None = None):
    """The JSON answer of a GET, None when the server does not answer (yet)."""
    req = urllib.request.Request(url, headers={"X-Api-Key": key} if key else {})
    try:
        with OPENER.open(req, timeout=5) as resp:
            return json.loads(resp.read())
    except OSError:
        return None


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_up_serves_its_decisions_to_a_bouncer_and_runs_central(tmp_path):
    """`synsec up FILE --from-start --central …`: a ban is printed and served by the API to a key made with
    `ccscli bouncers add` on the API's state dir; central says it is up with its broker up; the installation
    registered with it; SIGTERM stops up and its five children (broker, worker, central, curation, API)."""
    sample = REPO / "scenarios" / "samples" / "auth-demo.log"
    _, decisions, _ = replay_reference(read_lines(sample), "syslog")
    banned = sorted(value for scope, value, kind, _s in decisions if scope == "Ip" and kind == "ban")
    assert banned
    state = tmp_path / "state"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO), "SYNSEC_STATE_DIR": str(tmp_path / "x")}
    made = subprocess.run([sys.executable, "-c", "from synsec.cli.ccscli import main; main()", "--state-dir",
                           str(state), "bouncers", "add", "fw", "-o", "raw"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)        # the ccscli entry point
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    api, central = free_port(), free_port()
    proc = subprocess.Popen([sys.executable, "-m", "synsec.cli.main", "up", str(sample), "--type", "syslog",
                             "--from-start", "--api-listen", f"127.0.0.1:{api}", "--state-dir", str(state),
                             "--central", f"127.0.0.1:{central}"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out: list[str] = []
    err: list[str] = []
    for stream, sink in ((proc.stdout, out), (proc.stderr, err)):
        threading.Thread(target=lambda s=stream, k=sink: k.extend(iter(s.readline, "")), daemon=True).start()

    def until(check, what: str, seconds: float = 120.0):
        end = time.monotonic() + seconds
        while not (got := check()):
            assert proc.poll() is None, f"up exited with {proc.returncode} waiting for {what}:\n{''.join(err)[-3000:]}"
            assert time.monotonic() < end, f"no {what} in {seconds:g} s:\n{''.join(err)[-3000:]}"
            time.sleep(0.2)
        return got

    try:
        until(lambda: any(line.startswith(f"ban Ip:{banned[0]} ") for line in out), "ban printed")
        served = until(lambda: _get(f"http://127.0.0.1:{api}/v1/decisions?ip={banned[0]}", key), "decision served")
        assert {(d["value"], d["type"], d["origin"]) for d in served} == {(banned[0], "ban", "synsec")}
        assert _get(f"http://127.0.0.1:{api}/v1/decisions?ip={banned[0]}", "not-" + key) is None   # a 403
        assert until(lambda: _get(f"http://127.0.0.1:{central}/health") == {"status": "up", "broker": "up"},
                     "central up with its broker")
        creds = (state / "online_api_credentials.yaml").read_text()
        assert f"http://127.0.0.1:{central}/" in creds, creds
        children = _children(proc.pid)
        assert len(children) == 5, (children, "".join(err)[-2000:])
        proc.send_signal(signal.SIGTERM)                        # as systemd or `docker stop` would
        assert proc.wait(90) == 0, "".join(err)[-3000:]
        assert all(_gone(c) for c in children)
    finally:
        stop(proc, signal.SIGINT, grace=60)
