"""Bouncer API keys in the store: each key is kept only as a salted hash; the key is shown once, at creation.

A generated key is 32 random bytes (64 hex characters); a key given with `ccscli bouncers add -k` must be
32-256 characters of `A-Z a-z 0-9 . _ ~ + / = -`. A row holds `key_id` (the first 8 hex characters of the
key's SHA-256: finds the row in one lookup, says nothing useful about a high-entropy key) and `key_hash`,
`hmac-sha256$SALT$DIGEST` with a random 16-byte salt per key. Checking a presented key costs one SHA-256
and one HMAC per row with its key id (almost always one), compared with `hmac.compare_digest`. Rows written
before salting hold the plain SHA-256 hex: they keep verifying, and `upgrade_key` rewrites one salted the
first time its key is presented. Each bouncer row also keeps its last pull (time and change-log sequence)
for `/v1/decisions/stream` deltas.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass

__all__ = ["BouncerTable", "BouncerRecord", "BOUNCERS_SCHEMA", "KeyIndex", "KeyRow", "hash_key", "key_id",
           "verify_key", "check_given_key", "new_key", "ROLES"]

BOUNCERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS bouncers (
  name TEXT PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE, role TEXT NOT NULL DEFAULT 'bouncer',
  created_at REAL NOT NULL, last_pull REAL, last_seq INTEGER NOT NULL DEFAULT 0, ip_address TEXT,
  user_agent TEXT, key_id TEXT
);
"""
BOUNCERS_INDEX = "CREATE INDEX IF NOT EXISTS bouncers_key_id ON bouncers(key_id);"

# `bouncer`: read decisions (LAPI bouncer routes). `machine`: also add/delete decisions and read alerts
# (what ccscli needs over the API; CrowdSec gives that to logged-in machines).
ROLES = ("bouncer", "machine")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_GIVEN_KEY = re.compile(r"[A-Za-z0-9._~+/=-]{32,256}")
_PRESENTED = re.compile(r"[\x21-\x7e]{1,512}")   # printable ASCII: anything else matches no key, unhashed
_SCHEME = "hmac-sha256"
_LEGACY = re.compile(r"[0-9a-f]{64}")

# (key_id, key_hash, name, role) as the table holds them
KeyRow = tuple[str, str, str, str]


def new_key() -> str:
    return secrets.token_hex(32)


def check_given_key(key: str) -> str:
    """A key chosen by a person: 32-256 characters of A-Z a-z 0-9 . _ ~ + / = - (ValueError otherwise)."""
    if not _GIVEN_KEY.fullmatch(key):
        raise ValueError("a given key must be 32-256 characters of A-Z a-z 0-9 . _ ~ + / = - "
                         "(or let ccscli generate one)")
    return key


def key_id(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]


def hash_key(key: str, salt: bytes | None = None) -> str:
    """`hmac-sha256$SALT$DIGEST` (hex) of `key` with a fresh random salt unless one is given."""
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hmac.new(salt, key.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{_SCHEME}${salt.hex()}${digest}"


def verify_key(key: str, stored: str) -> bool:
    """Whether `key` matches a stored hash (salted, or a plain SHA-256 from before salting)."""
    if _LEGACY.fullmatch(stored):
        return hmac.compare_digest(hashlib.sha256(key.encode("utf-8")).hexdigest(), stored)
    scheme, _, rest = stored.partition("$")
    salt_hex, _, digest = rest.partition("$")
    if scheme != _SCHEME:
        return False
    try:
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    return hmac.compare_digest(hash_key(key, salt), stored)


class KeyIndex:
    """Key rows by key id, for checking a presented key with one hash lookup."""

    def __init__(self, rows: list[KeyRow] = ()):
        self._by_id: dict[str, list[KeyRow]] = defaultdict(list)
        for row in rows:
            self._by_id[row[0]].append(row)

    def match(self, key: str) -> tuple[str, str, bool] | None:
        """(name, role, legacy) of the bouncer whose key this is; legacy: its row is an unsalted hash."""
        if not isinstance(key, str) or not _PRESENTED.fullmatch(key):
            return None
        for _, stored, name, role in self._by_id.get(key_id(key), ()):
            if verify_key(key, stored):
                return name, role, bool(_LEGACY.fullmatch(stored))
        return None


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
        key = new_key() if key is None else check_given_key(key)
        now = time.time() if now is None else now
        if KeyIndex(self.key_rows()).match(key) is not None:
            raise ValueError("this key is already registered for another bouncer")
        try:
            with self.db:
                self.db.execute("INSERT INTO bouncers(name, key_hash, key_id, role, created_at) VALUES "
                                "(?,?,?,?,?)", (name, hash_key(key), key_id(key), role, now))
        except Exception as err:  # sqlite3.IntegrityError: name already registered
            raise ValueError(f"bouncer {name!r} already exists") from err
        return key

    def upgrade_key(self, name: str, key: str) -> None:
        """Rewrite a bouncer's unsalted (pre-salting) hash as a salted one, once its key has been verified."""
        with self.db:
            self.db.execute("UPDATE bouncers SET key_hash = ?, key_id = ? WHERE name = ?",
                            (hash_key(key), key_id(key), name))

    def delete_bouncer(self, name: str) -> bool:
        with self.db:
            return self.db.execute("DELETE FROM bouncers WHERE name = ?", (name,)).rowcount > 0

    def bouncers(self) -> list[BouncerRecord]:
        return [BouncerRecord(*row) for row in
                self.db.execute(f"SELECT {_COLS} FROM bouncers ORDER BY name").fetchall()]

    def bouncer(self, name: str) -> BouncerRecord | None:
        row = self.db.execute(f"SELECT {_COLS} FROM bouncers WHERE name = ?", (name,)).fetchone()
        return BouncerRecord(*row) if row else None

    def key_rows(self) -> list[KeyRow]:
        """(key_id, key_hash, name, role) for every bouncer: what an API process caches to check keys."""
        return self.db.execute("SELECT key_id, key_hash, name, role FROM bouncers").fetchall()

    def authenticate(self, key: str) -> BouncerRecord | None:
        found = KeyIndex(self.key_rows()).match(key)
        return self.bouncer(found[0]) if found else None

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
