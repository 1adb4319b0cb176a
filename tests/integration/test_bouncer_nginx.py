"""The nginx bouncer behind a real nginx (Debian nginx-light, auth_request + realip) fed by a real broker (tansu).

nginx includes the shipped `nginx-snippet.conf` (only the bouncer's port changed) and trusts X-Forwarded-For
from 127.0.0.1, so the test fakes client addresses. A ban produced on the decisions topic must turn that
client's 200 into 403 within a second, leave other clients alone, and a tombstone must lift it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from connectors.kafka.follower import DecisionFollower
from connectors.bouncers.nginx import SNIPPET, NginxBouncer
from connectors.kafka.broker import free_port
from synsec.engine.model import Decision
from tests import procutil

pytestmark = pytest.mark.integration

TOPIC = "synsec.decisions"


# -- helpers shared by the bouncer integration tests ------------------------------------------------------

class DecisionsTopic:
    """A real tansu broker with the decisions topic, and a producer of Avro decisions and tombstones."""

    def __init__(self, log_dir: Path, partitions: int = 2):
        from kafka import KafkaProducer
        from kafka.admin import KafkaAdminClient, NewTopic

        from connectors.kafka.broker import LocalBroker
        from synsec.wire.codecs import Codecs
        from synsec.wire.registry import LocalRegistry

        self.broker = LocalBroker(log_dir=log_dir).start()
        try:
            admin = KafkaAdminClient(bootstrap_servers=self.broker.bootstrap)
            admin.create_topics([NewTopic(TOPIC, num_partitions=partitions, replication_factor=1)])
            admin.close()
            self.producer = KafkaProducer(bootstrap_servers=self.broker.bootstrap, linger_ms=0)
        except BaseException:
            self.broker.stop()
            raise
        self.codecs = Codecs(LocalRegistry())

    @property
    def consumer_kwargs(self) -> dict:
        return {"bootstrap_servers": [self.broker.bootstrap]}

    def ban(self, value: str, scope: str = "Ip", seconds: float = 3600, **kw) -> Decision:
        from synsec.wire.records import decision_key, decision_to_record

        d = Decision(origin=kw.pop("origin", "synsec"), scenario=kw.pop("scenario", "crowdsecurity/http-probing"),
                     scope=scope, value=value, type=kw.pop("type", "ban"), duration=seconds,
                     until=time.time() + seconds, id=kw.pop("id", f"dec-{value}"), **kw)
        self.send(decision_key(d), self.codecs.encode("decision", decision_to_record(d)))
        return d

    def tombstone(self, value: str, scope: str = "Ip") -> None:
        self.send(f"{scope}:{value}".encode(), None)

    def send(self, key: bytes, value: bytes | None) -> None:
        self.producer.send(TOPIC, key=key, value=value).get(timeout=10)

    def close(self) -> None:
        self.producer.close(timeout=2)
        self.broker.stop()


def wait_until(predicate, what: str, timeout: float = 10.0, step: float = 0.01):
    """Poll `predicate` until truthy; returns (value, seconds waited); fails the test on timeout."""
    start = time.monotonic()
    while True:
        got = predicate()
        if got:
            return got, time.monotonic() - start
        if time.monotonic() - start > timeout:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


# -- nginx ----------------------------------------------------------------------------------------------

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def nginx_conf(d: Path, server: str) -> Path:
    """d/nginx.conf: an unprivileged, foreground nginx whose files all live in d, serving the `server` block."""
    user = "user root;" if os.geteuid() == 0 else ""
    temps = "\n".join(f"    {name}_temp_path {d}/{name}_temp;" for name in
                      ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = d / "nginx.conf"
    conf.write_text(f"""{user}
daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
{temps}
    server {{
{server}
    }}
}}
""")
    return conf


def nginx_config(d: Path, port: int, bouncer_port: int) -> Path:
    (d / "www").mkdir()
    (d / "www" / "index.html").write_text("hello\n")
    (d / "synsec.conf").write_text(SNIPPET.read_text().replace("127.0.0.1:8081", f"127.0.0.1:{bouncer_port}"))
    return nginx_conf(d, f"""        listen 127.0.0.1:{port};
        real_ip_header X-Forwarded-For;
        set_real_ip_from 127.0.0.1;
        root {d}/www;
        include {d}/synsec.conf;
        location / {{ index index.html; }}""")


@pytest.fixture(scope="module")
def topic(tmp_path_factory):
    t = DecisionsTopic(tmp_path_factory.mktemp("tansu"))
    try:
        yield t
    finally:
        t.close()


@pytest.fixture(scope="module")
def stack(topic, tmp_path_factory):
    """A follower + nginx bouncer on a free port, and nginx in front of it; all stopped at the end (by PID)."""
    if not Path(NGINX).exists():
        pytest.fail("nginx is not installed: apt-get install -y nginx-light (scripts/apt-packages.txt)")
    stop = threading.Event()
    follower = DecisionFollower(topic.consumer_kwargs, TOPIC, poll_timeout_ms=50)
    thread = follower.start(stop)
    bouncer = NginxBouncer(follower, port=free_port(), header="X-Real-IP").start()
    d = tmp_path_factory.mktemp("nginx")
    port = free_port()
    conf = nginx_config(d, port, bouncer.address[1])
    proc = subprocess.Popen([NGINX, "-p", str(d), "-c", str(conf), "-e", str(d / "error.log")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: proc.poll() is not None or _port_open(port), "nginx to listen", 10)
        if proc.poll() is not None:
            pytest.fail(f"nginx exited {proc.returncode}: {proc.stdout.read().decode()}"
                        f"{(d / 'error.log').read_text() if (d / 'error.log').exists() else ''}")
        wait_until(follower.ready.is_set, "the follower to catch up", 10)
        yield f"http://127.0.0.1:{port}/", follower, bouncer
    finally:
        procutil.stop(proc, grace=5)
        bouncer.stop()
        stop.set()
        thread.join(timeout=5)


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def get(url: str, client: str) -> int:
    req = urllib.request.Request(url, headers={"X-Forwarded-For": client})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


# -- tests ----------------------------------------------------------------------------------------------

def test_ban_is_enforced_by_nginx_and_lifted_by_tombstone(stack, topic):
    """A produced ban makes nginx answer 403 to that client only (measured latency); a tombstone restores 200."""
    url, follower, bouncer = stack
    assert get(url, "192.0.2.7") == 200 and get(url, "192.0.2.8") == 200
    start = time.monotonic()
    topic.ban("192.0.2.7")
    _, waited = wait_until(lambda: get(url, "192.0.2.7") == 403, "nginx to deny 192.0.2.7")
    latency = time.monotonic() - start
    print(f"\nnginx bouncer: produce -> 403 enforced in {latency * 1000:.0f} ms")
    assert latency < 2.0
    assert get(url, "192.0.2.8") == 200
    start = time.monotonic()
    topic.tombstone("192.0.2.7")
    wait_until(lambda: get(url, "192.0.2.7") == 200, "nginx to allow 192.0.2.7 again")
    print(f"nginx bouncer: tombstone -> 200 in {(time.monotonic() - start) * 1000:.0f} ms")
    assert bouncer.stats["denied"] >= 1 and bouncer.stats["allowed"] >= 3


def test_ipv6_range_ban(stack, topic):
    """A Range decision over an IPv6 prefix denies a client inside it and not one outside."""
    url, _, _ = stack
    topic.ban("2001:db8:aa::/48", scope="Range")
    wait_until(lambda: get(url, "2001:db8:aa::99") == 403, "nginx to deny inside the v6 range")
    assert get(url, "2001:db8:bb::99") == 200


def test_expiry_lifts_ban_without_tombstone(stack, topic):
    """A short decision stops being enforced once its `until` passes, with no tombstone sent."""
    url, _, _ = stack
    topic.ban("198.51.100.4", seconds=1.5)
    wait_until(lambda: get(url, "198.51.100.4") == 403, "nginx to deny 198.51.100.4")
    wait_until(lambda: get(url, "198.51.100.4") == 200, "the ban to expire", timeout=5)


def test_bouncer_health_and_bad_header(stack):
    """/health says 200 once caught up; /auth without the header is 400 and with a non-address is 400."""
    _, _, bouncer = stack
    base = f"http://127.0.0.1:{bouncer.address[1]}"
    with urllib.request.urlopen(base + "/health", timeout=5) as resp:
        assert resp.status == 200
    for headers in ({}, {"X-Real-IP": "not-an-ip"}):
        req = urllib.request.Request(base + "/auth", headers=headers)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=5)
        assert err.value.code == 400


def test_decisions_before_start_are_known(topic):
    """A follower started after a ban was produced knows it once ready (it reads the topic from the start)."""
    topic.ban("203.0.113.50")
    stop = threading.Event()
    follower = DecisionFollower(topic.consumer_kwargs, TOPIC, poll_timeout_ms=50)
    thread = follower.start(stop)
    try:
        wait_until(follower.ready.is_set, "the follower to catch up")
        assert follower.is_banned("203.0.113.50") is not None
        assert follower.is_banned("203.0.113.51") is None
    finally:
        stop.set()
        thread.join(timeout=5)


def test_ready_only_once_every_batched_decision_is_known(topic):
    """Decisions written in producer batches before the follower starts are all known when it says it is ready
    (tansu 0.6.0's end offsets count batches, not records: the follower checks the fetch's high watermark)."""
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    from synsec.wire.records import decision_key, decision_to_record

    name = "synsec.decisions.batched"
    admin = KafkaAdminClient(bootstrap_servers=topic.broker.bootstrap)
    admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=topic.broker.bootstrap, linger_ms=200, batch_size=1 << 20)
    n = 300
    for i in range(n):
        d = Decision(origin="synsec", scenario="s", scope="Ip", value=f"198.18.{i // 256}.{i % 256}", type="ban",
                     duration=3600, until=time.time() + 3600, id=f"b{i}")
        producer.send(name, key=decision_key(d), value=topic.codecs.encode("decision", decision_to_record(d)))
    producer.flush()
    producer.close(timeout=2)

    follower = DecisionFollower({**topic.consumer_kwargs, "max_poll_records": 50}, name, poll_timeout_ms=50)
    known_when_ready = []

    class Ready(threading.Event):
        def set(self):
            known_when_ready.append(len(follower.active()))
            super().set()

    follower.ready = Ready()
    stop = threading.Event()
    thread = follower.start(stop)
    try:
        wait_until(follower.ready.is_set, "the follower to catch up")
        assert known_when_ready == [n]
    finally:
        stop.set()
        thread.join(timeout=5)


def _raw_auth(port: int, header_line: bytes) -> tuple[int, bytes]:
    """GET /auth with one raw header line (any bytes), straight to the bouncer: (status, body)."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /auth HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + header_line + b"\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def test_hostile_client_addresses_neither_bypass_nor_break_the_bouncer(stack, topic):
    """A banned address spelled another way (IPv4-mapped IPv6, padded, X-Forwarded-For list) is still denied;
    zone ids, Unicode digits, control and non-UTF-8 bytes, huge values are 400 (never 5xx, never allowed);
    the bouncer keeps answering after all of them."""
    url, _, bouncer = stack
    port = bouncer.address[1]
    topic.ban("203.0.113.77")
    wait_until(lambda: get(url, "203.0.113.77") == 403, "nginx to deny 203.0.113.77")
    denied = [b"X-Real-IP: ::ffff:203.0.113.77", b"X-Real-IP:   203.0.113.77  ", b"X-Real-IP: 203.0.113.77, 10.0.0.1",
              b"X-Real-IP: 0:0:0:0:0:ffff:cb00:714d"]
    refused = [b"X-Real-IP: 203.0.113.77%eth0", b"X-Real-IP: fe80::1%eth0", "X-Real-IP: ٢٠٣.0.113.77".encode(),
               b"X-Real-IP: 203.0.113.77\x00", b"X-Real-IP: \xff\xfe203.0.113.77", b"X-Real-IP: " + b"9" * 60000,
               b"X-Real-IP: 203.000.113.077", b"X-Real-IP: 203.0.113.77/32", b"X-Real-IP: ,"]
    for line in denied:
        status, _ = _raw_auth(port, line)
        assert status == 403, (line, status)
    for line in refused:
        status, body = _raw_auth(port, line)
        assert 400 <= status < 500, (line, status, body[:200])
        assert b"Traceback" not in body
    assert _raw_auth(port, b"X-Real-IP: 192.0.2.200")[0] == 204
