"""rsyslog (Debian's rsyslogd + omkafka) → synsec.raw → the worker topology → a decision on synsec.decisions.

Runs the shipped `connectors/shippers/rsyslog/synsec.conf` unchanged except for the broker address, the two
watched paths (temp files) and `freshStartTail` (off, so a line appended while imfile starts is not skipped).
omkafka loads the librdkafka 2.x from the confluent-kafka wheel: Debian's 2.0.2 cannot talk to tansu.
Every process is started here with `subprocess.Popen` and stopped by its PID.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.procutil import stop

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "connectors" / "shippers" / "rsyslog" / "synsec.conf"
SAMPLE = ROOT / "scenarios" / "samples" / "auth-demo.log"
BANNED = "192.0.2.15"                 # 8 failed root logins in 8 s: synsec/ssh-bf (see `synsec replay`)
WAIT = 90.0


def _wheel_librdkafka(into: Path) -> Path:
    """A directory holding the confluent-kafka wheel's librdkafka as librdkafka.so.1 (for LD_LIBRARY_PATH)."""
    import confluent_kafka

    found = glob.glob(str(Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs" / "librdkafka-*.so.1"))
    if not found:
        pytest.fail("the confluent-kafka wheel has no bundled librdkafka (confluent_kafka.libs/librdkafka-*.so.1)")
    into.mkdir(parents=True, exist_ok=True)
    shutil.copy(found[0], into / "librdkafka.so.1")
    return into


def render_conf(bootstrap: str, auth_log: Path, nginx_log: Path) -> str:
    """The shipped config with the broker and the watched files of this test."""
    text = CONF.read_text()
    for old, new in (('broker=["127.0.0.1:9092"]', f'broker=["{bootstrap}"]'),
                     ('file="/var/log/auth.log"', f'file="{auth_log}"'),
                     ('file="/var/log/nginx/access.log"', f'file="{nginx_log}"'),
                     ('freshStartTail="on"', 'freshStartTail="off"')):
        assert old in text, f"{CONF} no longer contains {old!r}"
        text = text.replace(old, new)
    return text


@contextmanager
def running_worker(tmp_path: Path):
    """tansu + the single topology's topics + `synsec worker`; yields (bootstrap, [Popen]) and stops all by PID.

    Append processes you start to the list: they are checked still alive at the end, then stopped first."""
    from connectors.kafka.admin import ensure_topics
    from connectors.kafka.broker import LocalBroker
    from synsec.wire.kafka import BrokerSettings
    from topologies import load_topology

    procs: list[subprocess.Popen] = []
    broker = LocalBroker(log_dir=tmp_path / "tansu").start()
    try:
        ensure_topics(BrokerSettings.from_url(broker.url), load_topology("single"))
        procs.append(subprocess.Popen(
            [str(Path(sys.executable).parent / "synsec"), "worker", "--broker", broker.url, "--topology", "single",
             "--session-timeout", "6", "--state-dir", str(tmp_path / "state")],
            stdout=open(tmp_path / "worker.log", "wb"), stderr=subprocess.STDOUT, cwd=ROOT))
        yield broker.bootstrap, procs
        for proc in procs:
            assert proc.poll() is None, f"{proc.args[0]} exited early with {proc.returncode}"
    finally:
        for proc in reversed(procs):
            stop(proc)
        broker.stop()


@pytest.fixture
def pipeline(tmp_path):
    """running_worker + rsyslogd tailing tmp_path/auth.log; yields (bootstrap, auth_log, tmp_path)."""
    rsyslogd = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
    if not os.path.exists(rsyslogd) or not glob.glob("/usr/lib/*/rsyslog/omkafka.so"):
        pytest.fail("needs Debian's rsyslog and rsyslog-kafka (scripts/apt-packages.txt)")
    with running_worker(tmp_path) as (bootstrap, procs):
        auth_log, nginx_log = tmp_path / "auth.log", tmp_path / "access.log"
        auth_log.touch()
        nginx_log.touch()
        work = tmp_path / "rsyslog"
        work.mkdir()
        (work / "synsec.conf").write_text(render_conf(bootstrap, auth_log, nginx_log))
        (work / "main.conf").write_text(f'global(workDirectory="{work}")\ninclude(file="{work}/synsec.conf")\n')
        env = {**os.environ, "LD_LIBRARY_PATH": str(_wheel_librdkafka(tmp_path / "lib"))}
        check = subprocess.run([rsyslogd, "-N1", "-f", str(work / "main.conf")], env=env,
                               capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stderr
        procs.append(subprocess.Popen([rsyslogd, "-n", "-f", str(work / "main.conf"), "-i",
                                       str(work / "rsyslogd.pid")], env=env,
                                      stdout=open(tmp_path / "rsyslog.log", "wb"), stderr=subprocess.STDOUT))
        yield bootstrap, auth_log, tmp_path


def assert_ban(bootstrap: str, start: float, *logs: Path) -> float:
    """Wait (up to WAIT s from `start`) for synsec/ssh-bf's ban of BANNED; return the seconds it took."""
    seen = _decisions(bootstrap, start + WAIT, BANNED)
    latency = time.monotonic() - start
    ours = [d for d in seen if d["value"] == BANNED]
    tails = "".join(f"\n--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in logs if p.exists())
    assert ours, f"no decision for {BANNED} within {WAIT:.0f} s (saw {seen}){tails}"
    assert ours[0]["type"] == "ban" and ours[0]["scenario"] == "synsec/ssh-bf", ours[0]
    return latency


def _decisions(bootstrap: str, deadline: float, want: str) -> list[dict]:
    from kafka import KafkaConsumer

    from synsec.wire.codecs import Codecs
    from synsec.wire.registry import LocalRegistry

    codecs = Codecs(LocalRegistry())
    seen: list[dict] = []
    consumer = KafkaConsumer("synsec.decisions", bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=1000)
    try:
        while time.monotonic() < deadline:
            for msg in consumer:
                if msg.value is not None:
                    seen.append(codecs.decode("decision", msg.value))
            if any(d["value"] == want for d in seen):
                break
    finally:
        consumer.close()
    return seen


def test_rsyslog_omkafka_lines_reach_a_decision(pipeline):
    """Auth-log lines appended to a file rsyslog tails become a ban decision for the brute-forcing IP."""
    bootstrap, auth_log, tmp_path = pipeline
    time.sleep(1.0)                                   # let rsyslogd load imfile/omkafka (freshStartTail is off)
    start = time.monotonic()
    with open(auth_log, "a") as f:
        f.write(SAMPLE.read_text())
    latency = assert_ban(bootstrap, start, tmp_path / "rsyslog.log", tmp_path / "worker.log")
    print(f"\nrsyslog line -> decision for {BANNED}: {latency:.1f} s")
    first = first_raw(bootstrap)
    doc = json.loads(first)
    assert doc == {"msg": SAMPLE.read_text().splitlines()[0], "hostname": socket.gethostname().split(".")[0],
                   "labels": {"type": "syslog"}}, first                   # rsyslog sends the short host name


def first_raw(bootstrap: str) -> bytes:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer("synsec.raw", bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=5000)
    try:
        return next(iter(consumer)).value
    finally:
        consumer.close()
