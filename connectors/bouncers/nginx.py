"""The nginx bouncer: an `auth_request` endpoint answering from a DecisionFollower's active set.

nginx sends a subrequest for every client request (see `nginx-snippet.conf`); the bouncer reads the client
address from a header nginx sets (`X-Real-IP: $remote_addr` by default) and answers
    GET /auth    204 (allowed) | 403 (an active Ip/Range decision covers the address) | 400 (no usable address,
                 which nginx turns into a 500: a misconfiguration shows at once instead of letting all through)
    GET /health  200 once the follower has read the topic up to its end, 503 before
A ThreadingHTTPServer (stdlib) is enough: a lookup is a few dict probes under a lock.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from connectors.api.model import target_of

__all__ = ["NginxBouncer", "SNIPPET", "client_ip"]

log = logging.getLogger(__name__)

SNIPPET = Path(__file__).with_name("nginx-snippet.conf")


def client_ip(headers, header: str) -> str | None:
    """The client address from `header`; for X-Forwarded-For the left-most entry (the original client)."""
    raw = headers.get(header)
    if not raw:
        return None
    first = raw.split(",")[0].strip()
    return first or None


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0]
        bouncer = self.server.bouncer
        if path == "/auth":
            status, body = bouncer.decide(self.headers)
        elif path == "/health":
            ready = bouncer.follower.ready.is_set()
            status, body = (200, b"ok\n") if ready else (503, b"catching up with the decisions topic\n")
        else:
            status, body = 404, b"not found\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)) if status != 204 else "0")
        self.end_headers()
        if status != 204:
            self.wfile.write(body)

    def log_message(self, fmt: str, *args) -> None:
        log.debug("%s " + fmt, self.client_address[0], *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog is 5: under load nginx's per-request connections overflowed it, the
    # kernel dropped SYNs, retries came a second later (p99 1 s) and past proxy_connect_timeout nginx gave 500s
    # (bench/api.py found it). 1024 absorbs bursts; the kernel caps it at net.core.somaxconn.
    request_queue_size = 1024
    bouncer: "NginxBouncer"

    def handle_error(self, request, client_address) -> None:
        import sys

        err = sys.exc_info()[1]
        if isinstance(err, (ConnectionResetError, BrokenPipeError)):
            log.debug("%s closed the connection", client_address[0])   # nginx dropping a spare connection
            return
        log.exception("nginx bouncer: error serving %s", client_address[0])


class NginxBouncer:
    """`follower`: a DecisionFollower (started by the caller). `header`: where nginx puts the client address."""

    def __init__(self, follower, host: str = "127.0.0.1", port: int = 8081, header: str = "X-Real-IP"):
        self.follower = follower
        self.header = header
        self.stats = {"allowed": 0, "denied": 0, "bad_request": 0}
        self._lock = threading.Lock()
        self._server = _Server((host, port), _Handler)
        self._server.bouncer = self
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self._server.server_address[:2]

    def decide(self, headers) -> tuple[int, bytes]:
        ip = client_ip(headers, self.header)
        if ip is None:
            return self._count("bad_request", 400, f"no {self.header} header\n".encode())
        if target_of("Ip", ip.strip()) is None:      # the API's reading: no zone id, mapped IPv6 as IPv4
            return self._count("bad_request", 400, f"{self.header}: {ip[:64]!r} is not an address\n".encode())
        d = self.follower.is_banned(ip)
        if d is None:
            return self._count("allowed", 204, b"")
        return self._count("denied", 403, f"{d.type} {d.scope}:{d.value} ({d.scenario})\n".encode())

    def _count(self, what: str, status: int, body: bytes) -> tuple[int, bytes]:
        with self._lock:
            self.stats[what] += 1
        return status, body

    def start(self) -> "NginxBouncer":
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="nginx-bouncer", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

