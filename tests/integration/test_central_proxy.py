"""`synsec central --trusted-proxies` behind a real nginx (Debian nginx-light) reverse proxy.

nginx on a free loopback port forwards to a real `synsec central` process and appends the client address to
X-Forwarded-For. Clients connect from distinct loopback addresses (127.1.0.5, 127.2.0.5, …: distinct /24s), so
central must see each client's own address — not nginx's — to place watchers in cohorts, and a header forged by
a client, or sent by a peer that is not a trusted proxy, must change nothing.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connectors.kafka.broker import free_port
from tests.integration.test_bouncer_nginx import NGINX, nginx_conf
from tests.procutil import stop

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SCENARIO, DIGEST = "crowdsecurity/http-probing", "ab" * 32
ATTACKER = "45.13.227.7"


def _wait(pred, what: str, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def call(port: int, method: str, path: str, body=None, source: str = "127.0.0.1", token: str | None = None,
         forwarded: str | None = None, key: str | None = None) -> tuple[int, dict]:
    """One request to 127.0.0.1:port from the loopback address `source` (`key`: an X-Api-Key)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    headers = {"Content-Type": "application/json", **({"X-Api-Key": key} if key else {})}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()


@pytest.fixture
def stack(tmp_path):
    """central (trusting 127.0.0.1) and nginx in front of it, on free loopback ports; stopped by PID."""
    index = tmp_path / "index.json"
    index.write_text(json.dumps({"scenarios": {SCENARIO: {
        "path": f"scenarios/{SCENARIO}.yaml", "version": "0.1", "labels": {"service": "http"},
        "content": base64.b64encode(b"type: leaky\n").decode(),
        "versions": {"0.1": {"digest": DIGEST, "deprecated": False}}}},
        "parsers": {}, "collections": {}, "postoverflows": {}}))
    cport = free_port()
    with behind_nginx(tmp_path, ["central", "--listen", f"127.0.0.1:{cport}", "--state-dir", str(tmp_path / "state"),
                                 "--hub-index", str(index), "--trusted-proxies", "127.0.0.1/32"], cport) as nport:
        yield cport, nport, tmp_path / "state" / "central.db"


@contextlib.contextmanager
def behind_nginx(tmp_path: Path, synsec_args: list[str], port: int):
    """`synsec SYNSEC_ARGS` (serving on 127.0.0.1:`port`, its output in tmp_path/synsec.log) and nginx in front of
    it on a free loopback port, appending the client to X-Forwarded-For; yields nginx's port; stops both by PID."""
    if not Path(NGINX).exists():
        pytest.fail("nginx is not installed: apt-get install -y nginx-light (scripts/apt-packages.txt)")
    nport = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    log = tmp_path / "synsec.log"
    procs = [subprocess.Popen([sys.executable, "-m", "synsec.cli.main", *synsec_args], cwd=REPO, env=env,
                              stdout=open(log, "wb"), stderr=subprocess.STDOUT)]
    d = tmp_path / "nginx"
    d.mkdir()
    conf = nginx_conf(d, f"""        listen 127.0.0.1:{nport};
        location / {{
            proxy_pass http://127.0.0.1:{port};
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}""")
    try:
        _wait(lambda: _listening(port) or procs[0].poll() is not None, f"synsec {synsec_args[0]} to listen")
        assert procs[0].poll() is None, log.read_text()
        procs.append(subprocess.Popen([NGINX, "-p", str(d), "-c", str(conf), "-e", str(d / "error.log")],
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
        _wait(lambda: _listening(nport) or procs[1].poll() is not None, "nginx to listen")
        assert procs[1].poll() is None, procs[1].stdout.read().decode()
        yield nport
    finally:
        for p in reversed(procs):
            stop(p)


def _register(port: int, name: str, source: str, forwarded: str | None = None) -> str:
    cred = {"machine_id": name, "password": "pw-" + name}
    assert call(port, "POST", "/v2/watchers", cred, source, forwarded=forwarded)[0] == 201
    status, body = call(port, "POST", "/v2/watchers/login", cred, source)
    assert status == 200, body
    return body["token"]


def _registered_from(db: Path) -> dict[str, str]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return dict(con.execute("SELECT machine_id, registered_from FROM watchers"))
    finally:
        con.close()


def test_central_behind_nginx_sees_each_client_and_ignores_forged_headers(stack):
    """Through nginx, three clients from three /24s register as three cohorts and list an attacker together (the
    shipped rules: 3 cohorts); a client's own X-Forwarded-For (left of nginx's hop) and a header sent straight
    to central by an untrusted peer are ignored: each watcher is recorded at its real address."""
    cport, nport, db = stack
    tokens = [_register(nport, f"w{i}", f"127.{i}.0.5") for i in (1, 2, 3)]
    _register(nport, "forger", "127.4.0.5", forwarded="127.1.0.9")       # nginx appends 127.4.0.5
    _register(cport, "direct", "127.5.0.5", forwarded="127.1.0.9")       # straight to central: not a proxy
    assert _registered_from(db) == {"w1": "127.1.0.5", "w2": "127.2.0.5", "w3": "127.3.0.5",
                                    "forger": "127.4.0.5", "direct": "127.5.0.5"}
    signal = {"scenario": SCENARIO, "scenario_hash": DIGEST, "scenario_version": "0.1",
              "source": {"scope": "Ip", "value": ATTACKER},
              "start_at": "2026-12-02T10:00:00Z", "stop_at": "2026-12-02T10:00:05Z"}
    for i, token in enumerate(tokens):
        assert call(nport, "POST", "/v2/signals", [signal], f"127.{i + 1}.0.5", token)[0] == 200
    status, stream = call(nport, "GET", "/v2/decisions/stream?startup=true", token=tokens[0])
    assert status == 200 and [d["value"] for d in stream["new"]] == [ATTACKER]
    status, st = call(nport, "GET", "/v2/crowd/status", token=tokens[0])
    assert status == 200 and st["cohorts"] == 5 and st["listed"] == 1
