"""Passwords of machines (`synsec api`) and watchers (`synsec central`): kept only as a salted scrypt hash
(`scrypt$SALT$DIGEST`, hex; N=2^14, r=8, p=1: about 50 ms and 16 MiB per check, so a stolen store is slow to
guess from and an online guesser is throttled anyway)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["hash_password", "check_password", "new_password"]

_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}


def new_password() -> str:
    """A random password (`ccscli machines add --auto`): 32 random bytes, URL-safe text."""
    return secrets.token_urlsafe(32)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(stored: str, password: str) -> bool:
    """Whether `password` matches `stored` (False for a malformed stored value, never an exception)."""
    try:
        kind, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), **_SCRYPT)
        return hmac.compare_digest(got, bytes.fromhex(digest))
    except (ValueError, UnicodeEncodeError):
        return False
