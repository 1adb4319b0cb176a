"""`make bench-api`, nginx part: the nginx bouncer with N decisions on the topic, and produce → 403 enforcement.

`NginxStack` starts, each on a free loopback port and each stopped by its PID: a tansu broker with the default
topology's topics, `synsec bouncer nginx` in its own process following `synsec.decisions`, and Debian's nginx
with the shipped `nginx-snippet.conf` (auth_request) in front of a static location, trusting X-Forwarded-For from
127.0.0.1 so a client can pose as any address. Decisions are written as the worker's profiles agent writes them:
key `scope:value`, value the Avro `decision` record in Confluent wire format (`synsec.wire.codecs.Codecs` over
`LocalRegistry`), `until` = now + duration.
"""

from __future__ import annotations

import ipaddress
import random
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from topologies import load_topology

__all__ = ["NginxStack", "NGINX", "enforcement_latencies", "fresh_ips", "status"]

ROOT = Path(__file__).resolve().parent.parent
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
TOPIC = load_topology("default").topics["decisions"].name


def status(url: str, headers: dict[str, str], timeout: float = 5.0) -> int:
    """The HTTP status of GET `url` (connection errors are raised)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def _wait(predicate, what: str, proc: subprocess.Popen | None = None, timeout: float = 60.0) -> float:
    """Poll until `predicate()` is truthy; seconds waited. SystemExit on timeout or when `proc` exits."""
    t0 = time.perf_counter()
    while True:
        try:
            if predicate():
                return time.perf_counter() - t0
        except (urllib.error.URLError, ConnectionError):
            pass
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"{what}: {proc.args[0]} exited with {proc.returncode}")
        if time.perf_counter() - t0 > timeout:
            raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.005)


def stop(proc: subprocess.Popen | None) -> None:
    """Terminate a process this bench started (by its Popen), kill it after 10 s."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class NginxStack:
    """tansu + `synsec bouncer nginx` + nginx under `work`; `bouncer_url` is the bouncer's /auth, `nginx_url`
    nginx's static location. Use as a context manager: everything started is stopped on exit."""

    def __init__(self, work: Path):
        self.work = work
        self.broker = self.producer = self.codecs = None
        self.bouncer: subprocess.Popen | None = None
        self.nginx: subprocess.Popen | None = None
        self.bouncer_url = self.nginx_url = ""

    def __enter__(self) -> "NginxStack":
        from kafka import KafkaProducer

        from connectors.kafka.admin import ensure_topics
        from connectors.kafka.broker import LocalBroker
        from synsec.wire.kafka import BrokerSettings
        from synsec.wire.codecs import Codecs
        from synsec.wire.registry import LocalRegistry
        from topologies import load_topology

        self.broker = LocalBroker(log_dir=self.work / "tansu").start()
        ensure_topics(BrokerSettings.from_url(self.broker.url), load_topology("default"))
        self.producer = KafkaProducer(bootstrap_servers=self.broker.bootstrap, linger_ms=20,
                                      batch_size=1 << 20, max_request_size=8 << 20)
        self.codecs = Codecs(LocalRegistry())
        return self

    def __exit__(self, *exc) -> None:
        stop(self.nginx)
        stop(self.bouncer)
        if self.producer is not None:
            self.producer.close(timeout=5)
        if self.broker is not None:
            self.broker.stop()

    def send(self, decision, now: float):
        """Produce one decision as the profiles agent does (until = now + duration); returns the send future."""
        from synsec.engine.decisions import taken
        from synsec.wire.records import decision_key, decision_to_record

        decision = taken(decision, now)
        value = self.codecs.encode("decision", decision_to_record(decision))
        return self.producer.send(TOPIC, key=decision_key(decision), value=value)

    def load(self, decisions, probes: list[str]) -> tuple[float, dict[int, str]]:
        """Produce every decision; (seconds, {partition: probe address of the last decision written there})."""
        t0 = time.perf_counter()
        now = time.time()
        futures = [self.send(d, now) for d in decisions]
        self.producer.flush()
        last = {f.get(30).partition: probe for f, probe in zip(futures, probes)}
        return time.perf_counter() - t0, last

    def start_bouncer(self, last: dict[int, str]) -> float:
        """`synsec bouncer nginx` in its own process; seconds until it denies the last decision of every
        partition (so it holds all of them: a partition is read in order)."""
        from connectors.kafka.broker import free_port

        port = free_port()
        self.bouncer_url = f"http://127.0.0.1:{port}/auth"
        t0 = time.perf_counter()
        self.bouncer = subprocess.Popen(
            [sys.executable, "-m", "synsec.cli.main", "bouncer", "nginx", "--broker", self.broker.url,
             "--listen", f"127.0.0.1:{port}"], cwd=ROOT, stdin=subprocess.DEVNULL,
            stdout=open(self.work / "bouncer.log", "wb"), stderr=subprocess.STDOUT)
        _wait(lambda: status(f"http://127.0.0.1:{port}/health", {}) == 200, "the bouncer to catch up", self.bouncer)
        for probe in last.values():
            _wait(lambda: status(self.bouncer_url, {"X-Real-IP": probe}) == 403, f"the bouncer to deny {probe}",
                  self.bouncer, timeout=120)
        return time.perf_counter() - t0

    def start_nginx(self) -> None:
        """nginx (tests' config: shipped snippet, realip from 127.0.0.1, static index) on a free port."""
        from connectors.kafka.broker import free_port
        from tests.integration.test_bouncer_nginx import nginx_config

        d = self.work / "nginx"
        d.mkdir()
        port = free_port()
        conf = nginx_config(d, port, int(self.bouncer_url.split(":")[2].split("/")[0]))
        text = conf.read_text()
        assert "worker_connections 64;" in text, "tests' nginx_config changed: update the bench"
        conf.write_text(text.replace("worker_connections 64;", "worker_connections 4096;"))  # client + upstream
        self.nginx_url = f"http://127.0.0.1:{port}/"
        self.nginx = subprocess.Popen([NGINX, "-p", str(d), "-c", str(conf), "-e", str(d / "error.log")],
                                      stdin=subprocess.DEVNULL, stdout=open(d / "stdout.log", "wb"),
                                      stderr=subprocess.STDOUT)
        _wait(lambda: status(self.nginx_url, {"X-Forwarded-For": "192.0.2.1"}) in (200, 403), "nginx", self.nginx)


def fresh_ips(count: int, rng: random.Random, taken: set[str]) -> list[str]:
    """`count` distinct addresses of 198.18.0.0/15 (RFC 2544 benchmarking) not in `taken`."""
    net = ipaddress.ip_network("198.18.0.0/15")
    out: set[str] = set()
    while len(out) < count:
        ip = str(net.network_address + rng.randrange(net.num_addresses))
        if ip not in taken:
            out.add(ip)
    return sorted(out)


def enforcement_latencies(stack: NginxStack, ips: list[str], timeout: float = 5.0) -> tuple[list[float], int]:
    """For each ip: check nginx serves it (200), produce a ban, poll nginx as that client until 403.
    Returns (produce → 403 seconds for each ip nginx served, ips skipped because already covered)."""
    from synsec.engine.model import Decision

    lat, skipped = [], 0
    for ip in ips:
        client = {"X-Forwarded-For": ip}
        if status(stack.nginx_url, client) != 200:
            skipped += 1                     # inside one of the loaded ranges: not a fresh address
            continue
        d = Decision(origin="synsec", scenario="bench/enforce", scope="Ip", value=ip, type="ban",
                     duration=3600, until=0.0, id=f"bench-{ip}")
        t0 = time.perf_counter()
        stack.send(d, time.time()).get(10)
        while status(stack.nginx_url, client) != 403:
            if time.perf_counter() - t0 > timeout:
                raise SystemExit(f"nginx did not deny {ip} within {timeout:.0f}s of the produce")
            time.sleep(0.002)
        lat.append(time.perf_counter() - t0)
    return lat, skipped
