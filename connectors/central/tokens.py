"""Watcher passwords and login tokens for the central API.

A watcher's password is kept as a salted scrypt hash. A login token is a JWT (HS256) signed with a server secret
that lives in the state dir (`central.secret`, mode 0600, created on first start); it carries the machine id
(`id`) and an expiry (`exp`). CrowdSec's client reads the expiry from the login reply's `expire` (RFC 3339) and
logs in again a minute before it.
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

__all__ = ["TokenError", "load_secret", "issue_token", "verify_token", "hash_password", "check_password"]

_HEADER = {"alg": "HS256", "typ": "JWT"}
_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}


class TokenError(SynsecError):
    """A token that is malformed, badly signed or expired."""


def load_secret(state_dir: Path) -> bytes:
    """The server secret, created (32 random bytes, mode 0600) on first use."""
    path = Path(state_dir) / "central.secret"
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
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


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


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(stored: str, password: str) -> bool:
    try:
        kind, salt, digest = stored.split("$")
    except ValueError:
        return False
    if kind != "scrypt":
        return False
    got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), **_SCRYPT)
    return hmac.compare_digest(got, bytes.fromhex(digest))
