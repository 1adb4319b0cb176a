"""Failed-authentication throttling per client address, in bounded memory.

A client address (an IPv6 address counts as its /64, which one host usually holds whole) that fails
`limit` key checks within `window` seconds is refused with 429 and `Retry-After` until that window ends,
whatever key it then presents — so a key cannot be guessed at line rate. A success does not reset the
count (a holder of one bouncer key could otherwise reset it while guessing a machine key). At most
`max_clients` addresses are tracked: the least recently failing is forgotten first.
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict

__all__ = ["AuthThrottle"]


def _client_key(remote: str | None) -> str:
    if not remote:
        return ""
    try:
        ip = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return remote[:64]
    if ip.version == 6 and not ip.ipv4_mapped:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip)


class AuthThrottle:
    def __init__(self, limit: int = 30, window: float = 60.0, max_clients: int = 10_000):
        if limit < 1 or window <= 0 or max_clients < 1:
            raise ValueError("limit and max_clients must be >= 1, window > 0")
        self.limit, self.window, self.max_clients = limit, window, max_clients
        self._fails: OrderedDict[str, tuple[float, int]] = OrderedDict()   # key -> (window start, failures)
        self.refused = 0

    def retry_after(self, remote: str | None, now: float) -> int:
        """Seconds the client must wait (0: it may try a key now)."""
        entry = self._fails.get(_client_key(remote))
        if entry is None:
            return 0
        start, count = entry
        left = start + self.window - now
        if left <= 0 or count < self.limit:
            return 0
        self.refused += 1
        return max(1, math.ceil(left))

    def failed(self, remote: str | None, now: float) -> None:
        """Count one failed key check from this client."""
        key = _client_key(remote)
        start, count = self._fails.pop(key, (now, 0))
        if now - start >= self.window:
            start, count = now, 0
        self._fails[key] = (start, count + 1)
        while len(self._fails) > self.max_clients:
            self._fails.popitem(last=False)

    def __len__(self) -> int:
        return len(self._fails)
