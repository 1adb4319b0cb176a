"""The reverse_dns enricher against a DNS server the test starts on loopback (docs/enrichment.md): a good-bot
whitelist on evt.Enriched.reverse_dns spares the crawler and still bans the attacker; the cache, the rate bound
and the timeout are read from the engine's counters."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

dnslib = pytest.importorskip("dnslib")

from synsec.assembly.build import EngineOptions  # noqa: E402
from synsec.assembly.rdns import ReverseDNS, parse_dns_server  # noqa: E402
from synsec.engine.counters import CounterSet  # noqa: E402
from synsec.runner.replay import replay  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
BOT, ATTACKER = "66.249.66.1", "203.0.113.7"
PTR = {BOT: "crawl-66-249-66-1.googlebot.com.", ATTACKER: "host-7.attacker.example."}
FORWARD = {"crawl-66-249-66-1.googlebot.com.": BOT, "host-7.attacker.example.": "203.0.113.99"}  # attacker lies


def blocked_clock() -> float:
    """Wall seconds minus this thread's seconds running or waiting for a CPU (/proc schedstat): its differences
    count only the time the thread was blocked (sleeping, waiting on a socket or an event), so a bound on a stall
    holds however busy the machine is with other work (parallel test workers)."""
    running_ns, runnable_ns, _ = (int(x) for x in
                                  Path(f"/proc/self/task/{threading.get_native_id()}/schedstat").read_text().split())
    return time.monotonic() - (running_ns + runnable_ns) / 1e9


class DNSServer:
    """PTR and A answers over UDP on a free loopback port (answer=False: reads queries, never answers)."""

    def __init__(self, answer: bool = True):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.answer, self.queries, self._stop = answer, [], threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            request = dnslib.DNSRecord.parse(data)
            name = str(request.q.qname)
            self.queries.append((time.monotonic(), name, dnslib.QTYPE[request.q.qtype]))
            if not self.answer:
                continue
            reply = request.reply()
            if request.q.qtype == dnslib.QTYPE.PTR:
                ip = ".".join(reversed(name.split(".")[:4]))
                if ip in PTR:
                    reply.add_answer(dnslib.RR(name, dnslib.QTYPE.PTR, rdata=dnslib.PTR(PTR[ip]), ttl=60))
                else:
                    reply.header.rcode = dnslib.RCODE.NXDOMAIN
            elif request.q.qtype == dnslib.QTYPE.A and name in FORWARD:
                reply.add_answer(dnslib.RR(name, dnslib.QTYPE.A, rdata=dnslib.A(FORWARD[name]), ttl=60))
            else:
                reply.header.rcode = dnslib.RCODE.NXDOMAIN
            self.sock.sendto(reply.pack(), peer)

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def dns_server():
    server = DNSServer()
    yield server
    server.stop()


def _content(tmp_path: Path) -> Path:
    """synsec's content plus CrowdSec's rdns postoverflow and a googlebot whitelist on its answer."""
    cfg = tmp_path / "cfg"
    cfg.mkdir(parents=True)
    for name in ("parsers", "patterns", "scenarios", "data", "profiles.yaml"):
        (cfg / name).symlink_to(REPO / "scenarios" / name)
    (cfg / "postoverflows" / "s00-enrich").mkdir(parents=True)
    (cfg / "postoverflows" / "s01-whitelist").mkdir()
    (cfg / "postoverflows" / "s00-enrich" / "rdns.yaml").write_text(
        "onsuccess: next_stage\nfilter: \"evt.Overflow.Alert.Remediation == true\"\nname: test/rdns\n"
        "description: lookup the source's name on overflows\nstatics:\n  - method: reverse_dns\n"
        "    expression: evt.Overflow.Alert.Source.IP\n  - meta: reverse_dns\n    expression: evt.Enriched.reverse_dns\n")
    (cfg / "postoverflows" / "s01-whitelist" / "googlebot.yaml").write_text(
        "name: test/googlebot\ndescription: googlebot by its rDNS\nwhitelist:\n  reason: good bot\n  expression:\n"
        "    - \"evt.Enriched.reverse_dns endsWith '.googlebot.com.'\"\n")
    return cfg


def _crawl_log(path: Path) -> Path:
    lines = []
    for ip in (BOT, ATTACKER):
        lines += [f'{ip} - - [01/Mar/2024:10:00:{i // 10:02d} +0000] "GET /page-{i}.html HTTP/1.1" 200 512 "-" '
                  f'"Mozilla/5.0"' for i in range(60)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _replay(tmp_path: Path, dns: str, **opts):
    engine_opts = EngineOptions(config_dir=_content(tmp_path), reference_year=2024, dns_server=dns, **opts)
    return replay([str(_crawl_log(tmp_path / "cfg" / "access.log"))], {"type": "nginx"}, engine_opts)


def test_googlebot_whitelisted_by_rdns_attacker_banned(tmp_path, dns_server):
    """The bot's overflow is whitelisted by its PTR name; the attacker is banned, with its name in the alert."""
    result = _replay(tmp_path, dns_server.address)
    banned = {d.value for d in result.decisions}
    assert banned == {ATTACKER}
    assert result.stats["overflows_whitelisted"] == 1
    ptr_queries = [q for q in dns_server.queries if q[2] == "PTR"]
    assert len(ptr_queries) == 2 and result.stats["rdns_answered"] == 2


def test_replay_is_deterministic_and_fcrdns_drops_a_lying_name(tmp_path, dns_server):
    """Two replays give the same bans; with FCrDNS the attacker's name (whose A record is another IP) is dropped."""
    first = _replay(tmp_path / "a", dns_server.address)
    second = _replay(tmp_path / "b", dns_server.address)
    assert [(d.value, d.scenario) for d in first.decisions] == [(d.value, d.scenario) for d in second.decisions]
    checked = _replay(tmp_path / "c", dns_server.address, rdns_fcrdns=True)
    assert {d.value for d in checked.decisions} == {ATTACKER}
    assert checked.stats["rdns_fcrdns_failed"] == 1 and checked.stats["rdns_answered"] == 1


def test_cache_hits_and_rate_bound(dns_server):
    """Repeated IPs are answered from the cache; 10 distinct IPs at 20 lookups/s take at least 0.45 s."""
    counts = CounterSet()
    rdns = ReverseDNS(counts, server=parse_dns_server(dns_server.address), timeout=1.0, rate=20.0)
    ips = [f"198.51.100.{i}" for i in range(10)]
    started = time.monotonic()
    for _ in range(3):
        for ip in ips:
            assert rdns(ip) == ""          # NXDOMAIN, cached as a miss
    assert rdns(BOT) == PTR[BOT] and rdns(BOT) == PTR[BOT]
    assert counts.total("rdns_queries") == 11 and counts.total("rdns_nxdomain") == 10
    assert counts.total("rdns_cache_hits") == 21 and counts.total("rdns_cache_misses") == 11
    arrivals = sorted(t for t, _, _ in dns_server.queries)
    assert arrivals[-1] - arrivals[0] >= 10 / 20.0 - 0.02     # 11 queries, evenly 50 ms apart
    assert time.monotonic() - started >= 0.45 and counts.total("rdns_rate_waits") >= 9


def test_dead_server_times_out_within_the_bound(tmp_path):
    """A server that never answers: each lookup gives up after its timeout, the replay still bans both IPs
    (no name, no whitelist), and it stalls no longer than the two lookups' timeouts."""
    dead = DNSServer(answer=False)
    try:
        started = blocked_clock()
        result = _replay(tmp_path, dead.address, rdns_timeout=0.3)
        stalled = blocked_clock() - started
    finally:
        dead.stop()
    assert {d.value for d in result.decisions} == {BOT, ATTACKER}
    assert result.stats["rdns_timeouts"] == 2 and len(dead.queries) >= 2
    assert stalled < 0.3 * 2 + 3.0


def test_live_mode_waits_briefly_then_proceeds(dns_server):
    """A live wait (0.25 s) gets a prompt answer; against a dead server the event proceeds with no name once
    its wait (0.1 s) is over, long before the lookup's own timeout (0.5 s)."""
    rdns = ReverseDNS(CounterSet(), server=parse_dns_server(dns_server.address), wait=0.25)
    assert rdns(BOT) == PTR[BOT]
    dead = DNSServer(answer=False)
    try:
        counts = CounterSet()
        rdns = ReverseDNS(counts, server=parse_dns_server(dead.address), timeout=0.5, wait=0.1)
        started = blocked_clock()
        assert rdns(BOT) == ""
        assert blocked_clock() - started < 0.3 and counts.total("rdns_wait_timeouts") == 1
    finally:
        dead.stop()


def test_a_forked_process_looks_up_with_its_own_threads(dns_server):
    """After a fork (replay -j workers) the child's lookups run on threads of its own, not its parent's."""
    import os

    rdns = ReverseDNS(CounterSet(), server=parse_dns_server(dns_server.address))
    assert rdns(BOT) == PTR[BOT]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:                                   # the child: one lookup, its answer on the pipe, then out
        try:
            os.write(write, rdns(ATTACKER).encode() or b"-")
        finally:
            os._exit(0)
    os.close(write)
    try:
        answer = os.read(read, 256).decode()
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    assert answer == PTR[ATTACKER]


def test_replay_cli_dns_server_flag(tmp_path, dns_server):
    """`synsec replay --dns-server IP:PORT` asks that server; a bad value is a one-line error, no traceback."""
    import json

    from click.testing import CliRunner

    from synsec.cli.main import cli

    cfg = _content(tmp_path)
    log = _crawl_log(tmp_path / "access.log")
    args = ["replay", str(log), "--type", "nginx", "--config-dir", str(cfg), "--no-store",
            "--reference-time", "2024-03-01T12:00:00Z", "-o", "json"]
    res = CliRunner().invoke(cli, args + ["--dns-server", dns_server.address], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert {d["value"] for d in out["decisions"]} == {ATTACKER} and out["stats"]["rdns_answered"] == 2
    res = CliRunner().invoke(cli, args + ["--dns-server", "dns.example:53"])
    assert res.exit_code != 0 and "--dns-server" in res.output and "expected IP:PORT" in res.output
    assert "Traceback" not in res.output


def test_bad_dns_server_is_a_clear_error():
    with pytest.raises(ValueError, match="expected IP:PORT"):
        parse_dns_server("dns.example:53")
    with pytest.raises(ValueError, match="port 1-65535"):
        parse_dns_server("127.0.0.1:70000")
    assert parse_dns_server("[::1]:5353") == ("::1", 5353) and parse_dns_server("127.0.0.1") == ("127.0.0.1", 53)
