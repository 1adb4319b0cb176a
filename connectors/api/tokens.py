"""Login tokens of watchers and machines, for `synsec central` (Central API) and `synsec api` (Local API).

A login token is a JWT (HS256) signed with a server secret that lives in the state dir (`central.secret` for
central, `api.secret` for the LAPI; mode 0600, created on first start); it carries the machine id (`id`), its
issue time (`iat`) and an expiry (`exp`). CrowdSec's client reads the expiry from the login reply's `expire`
(RFC 3339) and logs in again a minute before it. Passwords are hashed by `synsec.store.passwords`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from synsec.engine.errors import SynsecError

__all__ = ["TokenError", "load_secret", "issue_token", "verify_token", "login_reply"]

_HEADER = {"alg": "HS256", "typ": "JWT"}


class TokenError(SynsecError):
    """A token that is malformed, badly signed or expired."""


def load_secret(state_dir: Path, name: str = "central.secret") -> bytes:
    """The server secret `name` in the state dir, created (32 random bytes, mode 0600) on first use."""
    path = Path(state_dir) / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        data = path.read_bytes()
        if len(data) < 32:
            raise TokenError(f"{path}: server secret shorter than 32 bytes") from None
        return data
    data = secrets.token_bytes(32)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return data


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or len(text) > 4096 or not all(c.isalnum() or c in "-_" for c in text):
        raise TokenError("malformed token")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:              # binascii.Error: a length no base64 text has (4n + 1)
        raise TokenError("malformed token") from None


def issue_token(secret: bytes, machine_id: str, now: float, ttl: float) -> tuple[str, float]:
    """A signed token for machine_id and its expiry (epoch seconds)."""
    exp = int(now + ttl)
    head = _b64(json.dumps(_HEADER, separators=(",", ":")).encode())
    body = _b64(json.dumps({"id": machine_id, "exp": exp, "iat": int(now)}, separators=(",", ":")).encode())
    sig = _b64(hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig}", float(exp)


def verify_token(secret: bytes, token: str, now: float) -> str:
    """The machine id a valid, unexpired token was issued to; TokenError otherwise."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("malformed token")
    head, body, sig = parts
    want = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(want, _unb64(sig)):
        raise TokenError("bad token signature")
    try:
        header, claims = json.loads(_unb64(head)), json.loads(_unb64(body))
    except ValueError:
        raise TokenError("malformed token") from None
    if header != _HEADER or not isinstance(claims, dict) or not isinstance(claims.get("id"), str) \
            or not isinstance(claims.get("exp"), int):
        raise TokenError("malformed token")
    if claims["exp"] <= now:
        raise TokenError("token expired")
    return claims["id"]


def login_reply(secret: bytes, machine_id: str, now: float, ttl: float) -> dict:
    """The body of a successful login (CrowdSec's `WatcherAuthResponse`): a new token and its expiry."""
    from synsec.engine.model import format_ts

    token, exp = issue_token(secret, machine_id, now, ttl)
    return {"code": 200, "expire": format_ts(exp), "token": token}
