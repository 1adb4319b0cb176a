"""CAPI v3 between synsec's installation (`connectors.crowd`: its queue, crowd thread and client) and a real
`synsec central` process on loopback: register, login, signals, the grouped decisions/stream and metrics; and a
batch whose answer is lost (a loopback proxy forwards it to central and drops the answer) is sent again by the
installation and counted once by central."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from connectors.crowd.blocklist import StoreTarget
from connectors.crowd.client import CapiClient, register
from connectors.crowd.credentials import Credentials
from connectors.crowd.share import SharePolicy
from connectors.crowd.sync import CrowdOptions, CrowdSync
from synsec.engine.model import Alert, Source
from synsec.engine.profiles import Allowlist
from synsec.store import Store
from tests.hubutil import require_hub
from tests.integration.test_crowd_e2e import Central
from tests.integration.test_run_live import wait_for

pytestmark = [pytest.mark.hub, pytest.mark.integration]

SCEN = "crowdsecurity/http-probing"
ATTACKER, LONER = "91.200.12.9", "91.200.12.77"
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class DroppingProxy:
    """A loopback HTTP proxy in front of central that forwards every request and, for the first `drop` POSTs
    to a signals route, closes the client's connection instead of passing central's answer on."""

    def __init__(self, target_port: int, drop: int = 1):
        self.target_port, self.drop, self.dropped = target_port, drop, 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.sock.close()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(client,), daemon=True).start()

    def _one(self, client: socket.socket) -> None:
        with client:
            request = _read_request(client)
            with socket.create_connection(("127.0.0.1", self.target_port), timeout=10) as up:
                up.sendall(request)
                answer = b""
                while chunk := up.recv(65536):
                    answer += chunk
            if request.startswith(b"POST /v3/signals ") and self.dropped < self.drop:
                self.dropped += 1          # central took the batch; the installation never hears it did
                return
            client.sendall(answer)


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        body += conn.recv(65536)
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:")]
    return b"\r\n".join(lines + [b"Connection: close"]) + b"\r\n\r\n" + body


def _hub_digest() -> str:
    index = json.loads((require_hub()["CROWDSEC_HUB"] / ".index.json").read_text())
    item = index["scenarios"][SCEN]
    return item["versions"][item["version"]]["digest"]


def _alert(ip: str, uuid: str) -> Alert:
    now = time.time()
    return Alert(Scenario=SCEN, Source=Source(Scope="Ip", Value=ip, IP=ip), EventsCount=12, StartAt=now - 6,
                 StopAt=now, UUID=uuid)


def _post(url: str, body, token: str) -> int:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with _DIRECT.open(req, timeout=5) as resp:
        return resp.status


def test_v3_round_trip_and_a_resent_batch_counted_once(tmp_path):
    """Installation A (v3, through a proxy that loses central's first answer to its signals) resends the batch
    with the same ids: central stores each signal once and counts the resend; B reports ATTACKER too; A pulls it
    as a CAPI decision from the grouped v3 stream; a v2 client still pulls it flat; metrics are taken (200)."""
    central = Central(tmp_path / "central", tmp_path / "central.log").start()
    proxy = DroppingProxy(central.port)
    state_a = tmp_path / "a"
    digest = _hub_digest()
    sync = None
    try:
        for name, url in (("inst-a", proxy.url), ("inst-b", central.url), ("inst-c", central.url)):
            assert "registered" in register(url, name, f"{name}-pw", version="v3")
        policy = SharePolicy(machine_id="inst-a", scenarios={SCEN: (digest, "0.2")})
        client_a = CapiClient(Credentials(proxy.url, "inst-a", "inst-a-pw"), [SCEN])
        sync = CrowdSync(state_a, client_a, policy, open_target=lambda: StoreTarget(Store(state_a)),
                         scenarios={SCEN}, allowlist=Allowlist(),
                         opts=CrowdOptions(push_interval=0.2, pull_interval=0.5, retry_base=0.2, retry_max=0.5))
        assert sync.enqueue([_alert(ATTACKER, "a1"), _alert(LONER, "a2")]) == 2
        sync.start()
        wait_for(lambda: sync.queue.pending() == 0, 30)
        assert proxy.dropped == 1 and sync.queue.counters().get("push_failures", 0) >= 1
        con = sqlite3.connect(f"file:{central.state / 'central.db'}?mode=ro", uri=True)
        try:
            rows = con.execute("SELECT value, uuid FROM signals WHERE watcher = 'inst-a' ORDER BY value").fetchall()
        finally:
            con.close()
        assert [v for v, _ in rows] == sorted([ATTACKER, LONER]) and all(u for _, u in rows)    # once each, with its id

        b = CapiClient(Credentials(central.url, "inst-b", "inst-b-pw"), [SCEN])
        b.push([{**policy.signal(_alert(ATTACKER, "b1"), time.time()), "machine_id": "inst-b",
                 "uuid": "b-1", "context": [{"key": "target_uri", "value": "/probe1.php"}]}])
        status = b.crowd_status()
        assert status["signals_resent"] == 2 and status["signals_received"] == 3 and status["listed"] == 1

        def pulled() -> list:
            store = Store(state_a)
            try:
                return [(d["value"], d["scenario"]) for d in store.decisions(origin="CAPI")]
            finally:
                store.close()
        wait_for(lambda: pulled() == [(ATTACKER, SCEN)], 30)

        raw = b._call("GET", "decisions/stream?startup=true")
        assert [(g["scenario"], g["scope"], [d["value"] for d in g["decisions"]]) for g in raw["new"]] == [
            (SCEN, "Ip", [ATTACKER])] and raw["links"] == {"blocklists": [], "allowlists": []}
        old = CapiClient(Credentials(central.url, "inst-c", "inst-c-pw"), [SCEN], version="v2")
        new, _ = old.pull(startup=True)
        assert [(d["value"], d["origin"]) for d in new] == [(ATTACKER, "CAPI")]
        assert _post(central.url + "v3/metrics/", {"apil_version": "synsec", "bouncers": [], "machines": [
            {"name": "inst-b", "version": "synsec"}]}, b.login()) == 200
        log = Path(central.log).read_text()
        for line in ("POST /v3/watchers -> 201", "POST /v3/watchers/login -> 200", "POST /v3/signals -> 200",
                     "GET /v3/decisions/stream -> 200", "POST /v3/metrics/ -> 200", "GET /v2/decisions/stream -> 200"):
            assert line in log, line
    finally:
        if sync is not None:
            sync.stop()
        proxy.close()
        central.stop()
