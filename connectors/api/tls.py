"""HTTPS for `synsec api`, and client certificates as credentials (CrowdSec's LAPI mTLS).

`server_context(cert, key, client_ca)` is the listening socket's TLS context: TLS 1.2 or newer; with a client
CA, a client certificate is verified when one is given (CrowdSec's `VerifyClientCertIfGiven`), and a request
without one authenticates as before (key, password, token). `CertRoles` reads a verified client certificate:
its organizational unit says its role — `agent-ou` a machine, `bouncer-ou` a bouncer (CrowdSec's
`agents_allowed_ou`/`bouncers_allowed_ou`) — and its common name who it is.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

__all__ = ["server_context", "CertRoles"]


def server_context(cert: str, key: str, client_ca: str | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    if client_ca:
        ctx.load_verify_locations(client_ca)
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


@dataclass(frozen=True)
class CertRoles:
    agents_ou: tuple[str, ...] = ("agent-ou",)
    bouncers_ou: tuple[str, ...] = ("bouncer-ou",)

    def identify(self, peercert: dict | None) -> tuple[str, str] | None:
        """(role `machine` or `bouncer`, common name) of a verified client certificate; None without one, or
        for one whose OU is neither (it then authenticates nothing)."""
        if not peercert:
            return None
        fields = [pair for rdn in peercert.get("subject", ()) for pair in rdn]
        ous = {v for k, v in fields if k == "organizationalUnitName"}
        cn = next((v for k, v in fields if k == "commonName"), "")
        if not cn:
            return None
        if ous & set(self.agents_ou):
            return "machine", cn
        if ous & set(self.bouncers_ou):
            return "bouncer", cn
        return None
