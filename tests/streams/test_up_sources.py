"""`synsec up --acquis`: the acquisition file's sources (here a syslog listener fed by util-linux `logger`) go
into synsec.raw as `synsec run` reads them, and the worker bans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.integration.test_run_syslog import acquis_for, failure, free_port, logger
from tests.procutil import stop
from tests.streams.topology_util import REPO


@pytest.mark.integration
@pytest.mark.slow
def test_synsec_up_with_a_syslog_acquisition_bans(tmp_path):
    """6 sshd failures sent over TCP to the listener an --acquis file declares → `ban Ip:…` on stdout; SIGTERM
    stops up, its broker and its worker (exit 0)."""
    port = free_port()
    acquis = acquis_for(tmp_path, port)
    proc = subprocess.Popen([sys.executable, "-m", "synsec.cli.main", "up", "--acquis", str(acquis), "--no-api",
                             "--state-dir", str(tmp_path / "state")],
                            cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)})
    out: list[str] = []
    err: list[str] = []
    for stream, sink in ((proc.stdout, out), (proc.stderr, err)):
        threading.Thread(target=lambda s=stream, k=sink: k.extend(iter(s.readline, "")), daemon=True).start()
    try:
        end = time.monotonic() + 60
        while not any("sending " in line for line in err):
            assert proc.poll() is None and time.monotonic() < end, "".join(err)[-2000:]
            time.sleep(0.1)
        assert f"syslog on udp://127.0.0.1:{port} tcp://127.0.0.1:{port}" in "".join(err)
        for i in range(6):
            logger(port, "--tcp", "--octet-count", "--rfc5424", message=failure("192.0.2.120", i))
        while not any(line.startswith("ban Ip:192.0.2.120") for line in out):
            assert proc.poll() is None and time.monotonic() < end, "".join(err)[-2000:]
            time.sleep(0.1)
        children = [int(c) for c in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
        assert len(children) == 2                               # tansu and the worker (--no-api)
        proc.send_signal(signal.SIGTERM)                        # as systemd or `docker stop` would
        assert proc.wait(60) == 0, "".join(err)[-2000:]
        for child in children:                                  # nothing left behind
            assert not Path(f"/proc/{child}").exists() or Path(f"/proc/{child}/stat").read_text().split()[2] == "Z"
    finally:
        stop(proc, signal.SIGINT, grace=30)
