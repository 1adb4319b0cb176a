"""`source: syslog`: `synsec run` as a syslog server on a loopback port, fed by real senders — util-linux
`logger` (RFC 5424 over TCP with octet counting, RFC 3164 over UDP), raw sockets (newline framing, an oversize
datagram, garbage) and Debian's rsyslogd forwarding a log file with omfwd — each ending in an sshd ban. The
rsyslog case runs the unmodified CrowdSec hub (crowdsecurity/syslog-logs + sshd, Debian's profiles), which
reads the lines the listener writes as it reads CrowdSec's. Every process is started here and stopped by its
PID."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.test_run_live import Run, append, failures, proc_guard, wait_decision, wait_for  # noqa: F401
from tests.procutil import stop

pytestmark = [pytest.mark.integration]


def free_port() -> int:
    """A port free for both TCP and UDP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise AssertionError("no free port")


def acquis_for(tmp_path: Path, port: int, extra: str = "") -> Path:
    acquis = tmp_path / "acquis.yaml"
    acquis.write_text(f"source: syslog\nlisten_addr: 127.0.0.1\nlisten_port: {port}\nmax_message_len: 1024\n"
                      f"labels:\n  type: syslog\n{extra}")
    return acquis


def logger(port: int, *args: str, message: str) -> None:
    res = subprocess.run(["logger", "-n", "127.0.0.1", "-P", str(port), "-t", "sshd", *args, message],
                         capture_output=True, text=True, timeout=10)
    assert res.returncode == 0, res.stderr


def failure(ip: str, i: int) -> str:
    return f"Failed password for root from {ip} port {40000 + i} ssh2"


def test_syslog_listener_bans_from_logger_and_raw_sockets(tmp_path, proc_guard):
    """RFC 5424 over TCP (octet counted) and RFC 3164 over UDP from `logger`, and newline-framed RFC 3164
    over a raw TCP socket, each give a ban, as does the file source of the same acquisition file; an oversize
    datagram is counted too_long, garbage unreadable."""
    if shutil.which("logger") is None:
        pytest.fail("needs util-linux logger")
    port = free_port()
    state = tmp_path / "state"
    log = tmp_path / "auth.log"
    log.write_text("")
    run = Run(state, "--acquis", str(acquis_for(tmp_path, port, f"---\nfilename: {log}\nlabels: {{type: syslog}}\n")))
    proc_guard.append(run)
    assert f"1 file(s), syslog on udp://127.0.0.1:{port} tcp://127.0.0.1:{port}" in "".join(run.err)
    append(log, failures("192.0.2.103", 6))                     # the file source of the same acquis.yaml
    for i in range(6):
        logger(port, "--tcp", "--octet-count", "--rfc5424", "-i", message=failure("192.0.2.100", i))
        logger(port, "--udp", "--rfc3164", message=failure("192.0.2.101", i))
    stamp = time.strftime("%b %e %H:%M:%S", time.gmtime())
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"".join(f"<38>{stamp} web1 sshd[77]: {failure('192.0.2.102', i)}\n".encode()
                              for i in range(6)))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(b"<38>" + b"x" * 5000, ("127.0.0.1", port))              # over max_message_len: dropped
        udp.sendto(b"not syslog at all", ("127.0.0.1", port))
    for ip in ("192.0.2.100", "192.0.2.101", "192.0.2.102", "192.0.2.103"):
        assert wait_decision(state, ip)["scenario"] == "synsec/ssh-bf"
    stats = run.stop()
    assert stats["lines"] == 24 and stats["parsed"] == 24
    assert stats["too_long"] == 1 and stats["unreadable"] == 1


def test_port_in_use_is_a_clear_error(tmp_path):
    """A listen port another process holds stops `synsec run` with path:line: listen_port, no traceback."""
    import sys

    from tests.integration.test_run_live import REPO

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        acquis = acquis_for(tmp_path, port, "protocol: udp\n")
        res = subprocess.run([sys.executable, "-m", "synsec.cli.main", "run", "--acquis", str(acquis),
                              "--state-dir", str(tmp_path / "state")], cwd=REPO, capture_output=True, text=True,
                             timeout=30)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert f"{acquis}:1: listen_port: cannot listen on 127.0.0.1:{port}: Address already in use" in res.stderr


@pytest.fixture(scope="module")
def hub_sshd(tmp_path_factory) -> tuple[Path, Path]:
    from tests.hubutil import crowdsec_ref, hub_root, require_hub

    paths = require_hub()
    work = tmp_path_factory.mktemp("hubsshd")
    crowdsec_ref().build_config(work, paths, ["crowdsecurity/linux", "crowdsecurity/sshd"], "http://127.0.0.1:9/")
    profiles = hub_root() / "etc" / "crowdsec" / "profiles.yaml"         # Debian's stock profiles: bans
    (work / "cfg" / "profiles.yaml").write_text(profiles.read_text())
    return work / "cfg", work / "data"


def test_rsyslog_forwarding_to_the_listener_bans_with_hub_content(tmp_path, proc_guard, hub_sshd):
    """rsyslogd tails an auth log (imfile, tag sshd[2000]:) and forwards it (omfwd, TCP octet-counted and
    UDP); `synsec run` on the CrowdSec hub's sshd collection and Debian's stock profiles bans the brute force
    of each relay."""
    rsyslogd = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
    if not os.path.exists(rsyslogd):
        pytest.fail("needs rsyslog (scripts/apt-packages.txt)")
    cfg, data = hub_sshd
    port = free_port()
    state = tmp_path / "state"
    run = Run(state, "--acquis", str(acquis_for(tmp_path, port)), "--config-dir", str(cfg), "--data-dir", str(data))
    proc_guard.append(run)
    work = tmp_path / "rsyslog"
    work.mkdir()
    tcp_log, udp_log = work / "tcp-auth.log", work / "udp-auth.log"
    tcp_log.write_text("")
    udp_log.write_text("")
    conf = work / "rsyslog.conf"
    conf.write_text(f"""global(workDirectory="{work}")
module(load="imfile" PollingInterval="1")
input(type="imfile" File="{tcp_log}" Tag="sshd[2000]:" ruleset="tcp")
input(type="imfile" File="{udp_log}" Tag="sshd[2001]:" ruleset="udp")
ruleset(name="tcp") {{ action(type="omfwd" target="127.0.0.1" port="{port}" protocol="tcp"
                             TCP_Framing="octet-counted") }}
ruleset(name="udp") {{ action(type="omfwd" target="127.0.0.1" port="{port}" protocol="udp") }}
""")
    check = subprocess.run([rsyslogd, "-N1", "-f", str(conf)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    proc = subprocess.Popen([rsyslogd, "-n", "-f", str(conf), "-i", str(work / "rsyslogd.pid")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(1.5)                                   # imfile starts at the files' end
        for log, ip in ((tcp_log, "192.0.2.110"), (udp_log, "192.0.2.111")):
            with log.open("a") as fh:
                fh.write("".join(failure(ip, i) + "\n" for i in range(6)))
        for ip in ("192.0.2.110", "192.0.2.111"):
            assert wait_decision(state, ip)["scenario"] == "crowdsecurity/ssh-bf"
    finally:
        stop(proc)
    stats = run.stop()
    assert stats["lines"] == 12 and stats["parsed"] == 12 and stats["unreadable"] == 0
