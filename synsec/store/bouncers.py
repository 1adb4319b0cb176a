"""Bouncer API keys in the store: only a SHA-256 of each key is kept; the key is shown once, at creation.

A key is 32 random bytes (64 hex characters). Checking a presented key hashes it and compares the hash with
every stored one using `hmac.compare_digest`, so the time taken does not depend on how much of it matched.
Each bouncer row also keeps its last pull (time and change-log sequence) for `/v1/decisions/stream` deltas.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

__all__ = ["BouncerTable", "BouncerRecord", "BOUNCERS_SCHEMA", "hash_key", "match_key", "new_key", "ROLES"]

BOUNCERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS bouncers (
  name TEXT PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE, role TEXT NOT NULL DEFAULT 'bouncer',
  created_at REAL NOT NULL, last_pull REAL, last_seq INTEGER NOT NULL DEFAULT 0, ip_address TEXT,
  user_agent TEXT
);
"""

# `bouncer`: read decisions (LAPI bouncer routes). `machine`: also add/delete decisions and read alerts
# (what ccscli needs over the API; CrowdSec gives that to logged-in machines).
ROLES = ("bouncer", "machine")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def new_key() -> str:
    return secrets.token_hex(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class BouncerRecord:
    name: str
    role: str
    created_at: float
    last_pull: float | None
    last_seq: int
    ip_address: str | None
    user_agent: str | None

    def to_dict(self) -> dict:
        return {"name": self.name, "role": self.role, "created_at": self.created_at,
                "last_pull": self.last_pull, "last_seq": self.last_seq, "ip_address": self.ip_address,
                "user_agent": self.user_agent}


_COLS = "name, role, created_at, last_pull, last_seq, ip_address, user_agent"


class BouncerTable:
    """Mixed into Store: needs `self.db` (sqlite3 connection with BOUNCERS_SCHEMA applied)."""

    def add_bouncer(self, name: str, *, role: str = "bouncer", key: str | None = None,
                    now: float | None = None) -> str:
        """Register a bouncer and return its key (the only time it is available in clear)."""
        if not _NAME.match(name):
            raise ValueError(f"invalid bouncer name {name!r}: 1-64 of letters, digits, . _ @ -")
        if role not in ROLES:
            raise ValueError(f"invalid role {role!r}: one of {', '.join(ROLES)}")
        if key is not None and len(key) < 16:
            raise ValueError("a given key must be at least 16 characters")
        key = key or new_key()
        now = time.time() if now is None else now
        try:
            with self.db:
                self.db.execute("INSERT INTO bouncers(name, key_hash, role, created_at) VALUES (?,?,?,?)",
                                (name, hash_key(key), role, now))
        except Exception as err:  # sqlite3.IntegrityError: name or key already registered
            raise ValueError(f"bouncer {name!r} already exists") from err
        return key

    def delete_bouncer(self, name: str) -> bool:
        with self.db:
            return self.db.execute("DELETE FROM bouncers WHERE name = ?", (name,)).rowcount > 0

    def bouncers(self) -> list[BouncerRecord]:
        return [BouncerRecord(*row) for row in
                self.db.execute(f"SELECT {_COLS} FROM bouncers ORDER BY name").fetchall()]

    def bouncer(self, name: str) -> BouncerRecord | None:
        row = self.db.execute(f"SELECT {_COLS} FROM bouncers WHERE name = ?", (name,)).fetchone()
        return BouncerRecord(*row) if row else None

    def key_hashes(self) -> list[tuple[str, str, str]]:
        """(key_hash, name, role) for every bouncer: what an API process caches to check keys."""
        return self.db.execute("SELECT key_hash, name, role FROM bouncers").fetchall()

    def authenticate(self, key: str) -> BouncerRecord | None:
        name = match_key(key, self.key_hashes())
        return self.bouncer(name[0]) if name else None

    def last_seq(self, name: str) -> int:
        row = self.db.execute("SELECT last_seq FROM bouncers WHERE name = ?", (name,)).fetchone()
        return row[0] if row else 0

    def record_pull(self, name: str, *, seq: int, now: float | None = None, ip_address: str | None = None,
                    user_agent: str | None = None) -> None:
        now = time.time() if now is None else now
        with self.db:
            self.db.execute("UPDATE bouncers SET last_pull = ?, last_seq = ?, ip_address = COALESCE(?, "
                            "ip_address), user_agent = COALESCE(?, user_agent) WHERE name = ?",
                            (now, seq, ip_address, user_agent, name))


def match_key(key: str, hashes: list[tuple[str, str, str]]) -> tuple[str, str] | None:
    """(name, role) of the entry whose hash matches `key`, comparing against all entries in constant time."""
    if not key:
        return None
    presented = hash_key(key).encode("ascii")
    found = None
    for key_hash, name, role in hashes:
        if hmac.compare_digest(presented, key_hash.encode("ascii")) and found is None:
            found = (name, role)
    return found
