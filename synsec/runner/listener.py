"""The syslog data source of `synsec run`: a UDP and TCP listener polled without blocking.

As CrowdSec's syslog data source: each message is parsed as RFC 5424, else RFC 3164; the line handed to the
parsers is `TIME HOST APP[PID]: MESSAGE` (`synsec.runner.syslog.syslog_line`), so the stock
`crowdsecurity/syslog-logs` parser and the service parsers after it work unchanged; `evt.Line.Src` is the
sender's address and `evt.Line.Module` is `syslog`. A message longer than `max_message_len` (UDP datagram or
TCP frame) is counted `too_long` and dropped; one that is not syslog (or has no app name) is counted
`unreadable`. TCP connections are bounded in number (`MAX_CONNECTIONS`) and each holds at most one message.
"""

from __future__ import annotations

import socket
from typing import Callable

from synsec.engine.errors import LoadError
from synsec.engine.model import Line
from synsec.runner.acquis import SyslogSource
from synsec.engine.counters import CounterSet
from synsec.runner.syslog import Framer, parse_message, syslog_line

__all__ = ["SyslogListener", "MAX_CONNECTIONS"]

MAX_CONNECTIONS = 256
_BATCH = 2000                   # datagrams (or TCP reads) taken per poll before yielding to other inputs
_RCVBUF = 1 << 20
_TCP_BUDGET = 1 << 20           # bytes read from one connection per poll


class _Conn:
    __slots__ = ("sock", "peer", "framer")

    def __init__(self, sock: socket.socket, peer: str, limit: int):
        self.sock, self.peer, self.framer = sock, peer, Framer(limit)


class SyslogListener:
    def __init__(self, source: SyslogSource, counts: CounterSet, warn: Callable[[str], None] = lambda _m: None):
        self.source = source
        self.counts = counts
        self.warn = warn
        self.udp: socket.socket | None = None
        self.tcp: socket.socket | None = None
        self.conns: list[_Conn] = []

    @property
    def addresses(self) -> list[str]:
        """`proto://addr:port` of each bound socket."""
        out = []
        for proto, sock in (("udp", self.udp), ("tcp", self.tcp)):
            if sock is not None:
                host, port = sock.getsockname()[:2]
                out.append(f"{proto}://{host}:{port}")
        return out

    def start(self, now: float) -> None:
        """Bind the sockets; a failure (address in use, no permission) is a LoadError naming the source."""
        family = socket.AF_INET6 if ":" in self.source.addr else socket.AF_INET
        try:
            if "udp" in self.source.protocols:
                self.udp = socket.socket(family, socket.SOCK_DGRAM)
                self.udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
                self.udp.bind((self.source.addr, self.source.port))
                self.udp.setblocking(False)
            if "tcp" in self.source.protocols:
                self.tcp = socket.socket(family, socket.SOCK_STREAM)
                self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                self.tcp.bind((self.source.addr, self.source.port))
                self.tcp.listen(64)
                self.tcp.setblocking(False)
        except OSError as err:
            self.close()
            raise LoadError(self.source.where.child("listen_port"),
                            f"cannot listen on {self.source.addr}:{self.source.port}: {err.strerror or err}") from None

    def poll(self, now: float) -> tuple[list[Line], bool]:
        out: list[Line] = []
        more = False
        if self.udp is not None:
            more |= self._poll_udp(now, out)
        if self.tcp is not None:
            self._accept()
            more |= self._poll_tcp(now, out)
        return out, more

    def _poll_udp(self, now: float, out: list[Line]) -> bool:
        limit = self.source.max_message_len
        for _ in range(_BATCH):
            try:
                data, peer = self.udp.recvfrom(min(limit + 1, 65536))      # no datagram is larger
            except (BlockingIOError, InterruptedError):
                return False
            except OSError:
                continue                                   # e.g. an ICMP error reported on the socket
            self.counts.inc("bytes", peer[0], n=len(data))
            if len(data) > limit:
                self.counts.inc("too_long")
                continue
            self._message(data, peer[0], now, out)
        return True

    def _accept(self) -> None:
        for _ in range(64):
            try:
                sock, peer = self.tcp.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if len(self.conns) >= MAX_CONNECTIONS:
                self.counts.inc("tcp_refused")
                sock.close()
                continue
            sock.setblocking(False)
            self.conns.append(_Conn(sock, peer[0], self.source.max_message_len))

    def _poll_tcp(self, now: float, out: list[Line]) -> bool:
        """Read each connection until it has nothing waiting or `_TCP_BUDGET` bytes (then True: more waits)."""
        more = False
        for conn in list(self.conns):
            budget = _TCP_BUDGET
            while budget > 0:
                try:
                    data = conn.sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    data = b""
                if not data:
                    for message in conn.framer.flush():
                        self._message(message, conn.peer, now, out)
                    self._drop(conn)
                    break
                budget -= len(data)
                self.counts.inc("bytes", conn.peer, n=len(data))
                before = conn.framer.too_long
                for message in conn.framer.feed(data):
                    self._message(message, conn.peer, now, out)
                if conn.framer.too_long > before:
                    self.counts.inc("too_long", n=conn.framer.too_long - before)
                if conn.framer.bad:                      # not syslog framing: nothing more can be read from it
                    self.counts.inc("unreadable")
                    self._drop(conn)
                    break
            more |= budget <= 0
        return more

    def fds(self) -> list:
        """The sockets to wait on (`Inputs.wait`)."""
        return [s for s in (self.udp, self.tcp, *(c.sock for c in self.conns)) if s is not None]

    def _message(self, data: bytes, peer: str, now: float, out: list[Line]) -> None:
        msg = parse_message(data, now)
        if msg is None:
            self.counts.inc("unreadable")
            return
        ts = msg.ts if msg.ts is not None else now
        out.append(Line(syslog_line(ts, msg.host, msg.app, msg.procid, msg.message), peer, self.source.labels,
                        "syslog", ts))

    def _drop(self, conn: _Conn) -> None:
        conn.sock.close()
        self.conns.remove(conn)

    def close(self) -> None:
        for conn in list(self.conns):
            self._drop(conn)
        for sock in (self.udp, self.tcp):
            if sock is not None:
                sock.close()
        self.udp = self.tcp = None
