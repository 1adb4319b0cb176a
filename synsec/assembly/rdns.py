"""Reverse DNS for the `reverse_dns` enricher, off the engine's thread (docs/enrichment.md).

`ReverseDNS(ip)` answers from an LRU cache with a TTL (names and misses both cached); on a miss it queues the
IP for a small pool of resolver threads that send at most `rate` lookups a second, each bounded by `timeout`.
With `wait=None` (replay) the caller then waits for that lookup, so a replay's verdicts depend on the DNS
answers only, never on timing; with `wait=S` (live) it waits S seconds at most, then proceeds with no name and a
later event of the IP gets the cached one. Names end with a dot, as Go's net.LookupAddr (CrowdSec) writes them and the hub's lists expect.
"""

from __future__ import annotations

import ipaddress
import os
import queue
import socket
import threading
import time
from collections import OrderedDict

from synsec.engine.counters import CounterSet
from synsec.engine.errors import SynsecError

__all__ = ["ReverseDNS", "parse_dns_server"]


def parse_dns_server(text: str) -> tuple[str, int]:
    """`IP:PORT` (`[v6]:PORT`; the port 53 when left out) as (ip, port); a ValueError names what is wrong."""
    host, port = text, "53"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else "53"
    elif text.count(":") == 1:
        host, port = text.split(":")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{text!r}: expected IP:PORT (an IP address, not a name)") from None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r}: expected a port 1-65535")
    return host, int(port)


class ReverseDNS:
    """The PTR name of an IP, cached, looked up by background threads at a bounded rate."""

    def __init__(self, counts: CounterSet, *, server: tuple[str, int] | None = None, timeout: float = 1.0,
                 rate: float = 20.0, wait: float | None = None, fcrdns: bool = False, ttl: float = 3600.0,
                 negative_ttl: float = 300.0, size: int = 10000, workers: int = 4, max_pending: int = 1024):
        self.counts, self.server, self.timeout, self.rate, self.wait = counts, server, timeout, rate, wait
        self.fcrdns, self.ttl, self.negative_ttl, self.size = fcrdns, ttl, negative_ttl, size
        self.workers, self.max_pending = workers, max_pending
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[float, str]] = OrderedDict()   # ip -> (expiry, name or "")
        self._pending: dict[str, threading.Event] = {}
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._next_slot = 0.0
        self._pid = 0                                    # threads start on first ask (and again after a fork)

    def __call__(self, ip: str) -> str:
        """The name of `ip` with its final dot, or "" (none, not yet known, or not an IP)."""
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            return ""
        if self._pid != os.getpid():
            self._after_fork()
        with self._lock:
            hit = self._cache.get(ip)
            if hit is not None and hit[0] > time.monotonic():
                self._cache.move_to_end(ip)
                self._count("rdns_cache_hits")
                return hit[1]
            self._count("rdns_cache_misses")
            done = self._pending.get(ip)
            if done is None:
                if len(self._pending) >= self.max_pending:
                    self._count("rdns_dropped")
                    return ""
                done = self._pending[ip] = threading.Event()
                self._queue.put(ip)
            ahead = len(self._pending)
        # every lookup ends within its timeout (twice with FCrDNS), after its turn in the rate and the pool
        bound = (ahead / self.workers + 1) * self.timeout * (2 if self.fcrdns else 1) + ahead / self.rate + 1.0
        if self.wait is not None:
            bound = min(bound, self.wait)
        if bound <= 0:
            return ""
        if not done.wait(bound):
            with self._lock:
                self._count("rdns_wait_timeouts")
            return ""
        with self._lock:
            hit = self._cache.get(ip)
        return hit[1] if hit else ""

    def _count(self, name: str) -> None:
        self.counts.inc(name)                            # under self._lock: these names are only counted here

    def _after_fork(self) -> None:
        """This process's own threads, queue and pending lookups (a forked `replay -j` worker inherits none)."""
        self._lock = threading.Lock()
        self._pending, self._queue, self._pid = {}, queue.SimpleQueue(), os.getpid()
        for _ in range(self.workers):
            threading.Thread(target=self._work, name="synsec-rdns", daemon=True).start()

    def _take_slot(self) -> None:
        """Wait for this lookup's turn: at most `rate` lookups a second, evenly spaced."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + 1.0 / self.rate
            self._count("rdns_queries")
            if slot > now:
                self._count("rdns_rate_waits")
        if slot > now:
            time.sleep(slot - now)

    def _work(self) -> None:
        while True:
            ip = self._queue.get()
            self._take_slot()
            try:
                name, outcome = self._resolve(ip)
            except Exception:                # noqa: BLE001 - a resolver thread outlives any one bad answer
                name, outcome = "", "rdns_errors"
            with self._lock:
                self._count(outcome)
                self._cache[ip] = (time.monotonic() + (self.ttl if name else self.negative_ttl), name)
                self._cache.move_to_end(ip)
                while len(self._cache) > self.size:
                    self._cache.popitem(last=False)
                self._pending.pop(ip).set()

    def _resolve(self, ip: str) -> tuple[str, str]:
        """(name or "", outcome counter)."""
        try:
            name = self._ptr(ip)
            if name and self.fcrdns and ip not in self._forward(name, ipaddress.ip_address(ip).version):
                return "", "rdns_fcrdns_failed"
        except _Timeout:
            return "", "rdns_timeouts"
        except _NoName:
            return "", "rdns_nxdomain"
        except _Failed:
            return "", "rdns_errors"
        return (name, "rdns_answered") if name else ("", "rdns_nxdomain")

    def _resolver(self):
        import dns.resolver

        res = dns.resolver.Resolver(configure=False)
        res.nameservers, res.port = [self.server[0]], self.server[1]
        res.timeout = res.lifetime = self.timeout
        return res

    def _ptr(self, ip: str) -> str:
        if self.server is None:
            try:
                return _absolute(socket.gethostbyaddr(ip)[0])
            except socket.herror:
                raise _NoName() from None
            except OSError:
                raise _Failed() from None
        with _dns_errors():
            answer = self._resolver().resolve_address(ip)
            return _absolute(answer[0].target.to_text()) if len(answer) else ""

    def _forward(self, name: str, version: int) -> set[str]:
        """The addresses `name` resolves to, of the IP version asked."""
        if self.server is None:
            try:
                infos = socket.getaddrinfo(name, None, socket.AF_INET if version == 4 else socket.AF_INET6)
            except socket.gaierror:
                raise _NoName() from None
            return {str(ipaddress.ip_address(info[4][0].split("%")[0])) for info in infos}
        with _dns_errors():
            answer = self._resolver().resolve(name, "A" if version == 4 else "AAAA")
            return {str(ipaddress.ip_address(r.address)) for r in answer}


def _absolute(name: str) -> str:
    return name if not name or name.endswith(".") else name + "."


class _Timeout(SynsecError):
    pass


class _NoName(SynsecError):
    pass


class _Failed(SynsecError):
    pass


class _dns_errors:
    """dnspython's exceptions as the outcomes above."""

    def __enter__(self):
        return self

    def __exit__(self, kind, err, tb):
        if kind is None:
            return False
        import dns.exception
        import dns.resolver

        if isinstance(err, (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer)):
            raise _NoName() from None
        if isinstance(err, dns.exception.Timeout):
            raise _Timeout() from None
        if isinstance(err, (dns.exception.DNSException, OSError)):
            raise _Failed() from None
        return False
