"""`synsec bouncer …` as real processes against a real broker: the firewall dry run prints the nftables script
for a produced ban, the nginx bouncer answers 403 for it; both stop cleanly on SIGINT (sent to their PID)."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from connectors.kafka.broker import free_port
from tests import procutil
from tests.integration.test_bouncer_nginx import wait_until
from tests.integration.test_bouncer_nginx import topic  # noqa: F401  (the module-scoped broker fixture)

pytestmark = pytest.mark.integration

SYNSEC = [sys.executable, "-m", "synsec.cli.main", "bouncer"]


def start(args: list[str], out: Path) -> subprocess.Popen:
    return subprocess.Popen([*SYNSEC, *args], stdout=out.open("w"), stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen) -> int:
    """SIGINT: the bouncer's exit status; the test fails if it had to be killed after 15 s."""
    code = procutil.stop(proc, signal.SIGINT, grace=15)
    if code == -signal.SIGKILL:
        pytest.fail("bouncer did not stop on SIGINT")
    return code


def test_firewall_dry_run_prints_script(topic, tmp_path):
    """The dry run prints the table setup, then an `add element … timeout` for a produced ban."""
    out = tmp_path / "out.txt"
    proc = start(["firewall", "--broker", topic.broker.url, "--dry-run"], out)
    try:
        wait_until(lambda: "add table inet synsec" in out.read_text(), "the setup script", timeout=20)
        topic.ban("192.0.2.91")
        wait_until(lambda: "add element inet synsec blocklist4 { 192.0.2.91 timeout" in out.read_text(),
                   "the add element line", timeout=20)
    finally:
        assert stop(proc) == 0, out.read_text()


def test_nginx_bouncer_command_answers(topic, tmp_path):
    """`synsec bouncer nginx --listen` answers 403 for a banned X-Real-IP and 204 for another."""
    out = tmp_path / "out.txt"
    port = free_port()
    proc = start(["nginx", "--broker", topic.broker.url, "--listen", f"127.0.0.1:{port}"], out)

    def status(ip: str) -> int | None:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/auth", headers={"X-Real-IP": ip})
        try:
            with urllib.request.urlopen(req, timeout=2) as resp:
                return resp.status
        except urllib.error.HTTPError as err:
            return err.code
        except OSError:
            return None

    try:
        topic.ban("192.0.2.92")
        wait_until(lambda: status("192.0.2.92") == 403, "the CLI bouncer to deny", timeout=20)
        assert status("192.0.2.93") == 204
    finally:
        assert stop(proc) == 0, out.read_text()
