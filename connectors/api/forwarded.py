"""The client address of a request behind reverse proxies: X-Forwarded-For read right to left through trusted hops.

CrowdSec's `trusted_proxies` semantics: the TCP peer is the client unless it is a trusted proxy; then each
X-Forwarded-For entry, from the right, is the hop before it, and the first address that is not a trusted proxy
is the client. A header from an untrusted peer is ignored (anyone can forge it). An unreadable entry stops the
walk at the last trusted hop, so garbage never names a client: the proxy does.

`client_middleware` applies it to a whole aiohttp app (`synsec api`, `synsec central`): every handler reads the
client in `request.remote` — the auth-failure throttle, a machine's recorded address, a watcher's cohort.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from connectors.api.model import IPNetwork, parse_ip, parse_network

__all__ = ["TrustedProxies", "parse_trusted_proxies", "client_middleware"]

HEADER = "X-Forwarded-For"


def parse_trusted_proxies(items: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDR ranges or addresses, comma-separated or one an item; ValueError naming the bad one."""
    out = []
    for item in items:
        for text in (t.strip() for t in item.split(",")):
            if not text:
                continue
            try:
                out.append(parse_network(text if "/" in text else f"{text}/{128 if ':' in text else 32}"))
            except ValueError as err:
                raise ValueError(f"trusted proxy {text!r} is not an address or CIDR range: {err}") from None
    return tuple(out)


class TrustedProxies:
    """Which peers may say who their client is (`client` gives the address to use for a request)."""

    def __init__(self, networks: Iterable[IPNetwork] = ()):
        self.networks = tuple(networks)

    def trusted(self, address: str) -> bool:
        try:
            ip = parse_ip(address)
        except ValueError:
            return False
        return any(ip.version == n.version and ip in n for n in self.networks)

    def client(self, peer: str | None, forwarded: Iterable[str] = ()) -> str | None:
        """The client behind `peer` given the request's X-Forwarded-For header values (in order)."""
        if peer is None or not self.networks or not self.trusted(peer):
            return peer
        hops = [h.strip() for value in forwarded for h in value.split(",")]
        current = peer
        for hop in reversed(hops):
            try:
                current = str(parse_ip(hop[1:-1] if hop.startswith("[") and hop.endswith("]") else hop))
            except ValueError:
                return current
            if not self.trusted(current):
                return current
        return current


def client_middleware(proxies: TrustedProxies):
    """An aiohttp middleware (put it first) giving every handler the request's client as `request.remote`."""
    @web.middleware
    async def client_address(request: web.Request, handler) -> web.StreamResponse:
        client = proxies.client(request.remote, request.headers.getall(HEADER, ()))
        if client != request.remote:
            request = request.clone(remote=client)
        return await handler(request)
    return client_address
