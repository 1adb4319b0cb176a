"""Machines (CrowdSec's log processors, "watchers") in the store: each logs in to `synsec api` with a machine id
and a password kept only as a salted scrypt hash (`synsec.store.passwords`).

A machine added with `ccscli machines add` is validated; one that registered itself (`POST /v1/watchers`,
off unless `synsec api --allow-registration`) is not, and cannot log in until `ccscli machines validate`.
Each row also keeps what CrowdSec's `cscli machines list` shows: the scenarios sent at the last login, the
last login, push and heartbeat times, the client address and its User-Agent.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass

from synsec.store.passwords import check_password, hash_password

__all__ = ["MachineTable", "MachineRecord", "MACHINES_SCHEMA", "check_machine_id", "check_password_text"]

MACHINES_SCHEMA = """
CREATE TABLE IF NOT EXISTS machines (
  machine_id TEXT PRIMARY KEY, password_hash TEXT NOT NULL, is_validated INTEGER NOT NULL DEFAULT 0,
  created_at REAL NOT NULL, updated_at REAL NOT NULL, last_login REAL, last_push REAL, last_heartbeat REAL,
  ip_address TEXT, user_agent TEXT, scenarios TEXT NOT NULL DEFAULT ''
);
"""

_MACHINE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}")
_MAX_PASSWORD = 256
_COLS = ("machine_id", "is_validated", "created_at", "updated_at", "last_login", "last_push", "last_heartbeat",
         "ip_address", "user_agent", "scenarios")


def check_machine_id(machine_id: object) -> str:
    """A machine id: 1-128 of letters, digits, `_ . @ -`, starting with a letter or digit (ValueError otherwise)."""
    if not isinstance(machine_id, str) or not _MACHINE_ID.fullmatch(machine_id):
        raise ValueError("machine_id must be 1-128 characters of A-Z a-z 0-9 _ . @ - (starting with a letter "
                         "or digit)")
    return machine_id


def check_password_text(password: object) -> str:
    """A password as a machine gives it: a string of 1-256 characters (ValueError otherwise)."""
    if not isinstance(password, str) or not 1 <= len(password) <= _MAX_PASSWORD:
        raise ValueError(f"password must be a string of 1-{_MAX_PASSWORD} characters")
    return password


@dataclass(frozen=True)
class MachineRecord:
    machine_id: str
    is_validated: bool
    created_at: float
    updated_at: float
    last_login: float | None
    last_push: float | None
    last_heartbeat: float | None
    ip_address: str | None
    user_agent: str | None
    scenarios: str

    def to_dict(self) -> dict:
        return asdict(self)

    def last_seen(self) -> float:
        """The newest of its heartbeat, push, login and creation (what `machines prune` measures)."""
        return max(t for t in (self.last_heartbeat, self.last_push, self.last_login, self.created_at) if t)


class MachineTable:
    """Mixed into Store: needs `self.db` (sqlite3 connection with MACHINES_SCHEMA applied)."""

    def add_machine(self, machine_id: str, password: str, *, validated: bool = True, force: bool = False,
                    now: float | None = None, ip_address: str | None = None) -> None:
        """Register a machine (ValueError if the id is taken, unless `force` replaces its password)."""
        check_machine_id(machine_id)
        stored = hash_password(check_password_text(password))
        now = time.time() if now is None else now
        with self.db:
            if force:
                self.db.execute("DELETE FROM machines WHERE machine_id = ?", (machine_id,))
            elif self.db.execute("SELECT 1 FROM machines WHERE machine_id = ?", (machine_id,)).fetchone():
                raise ValueError(f"machine {machine_id!r} already exists")
            self.db.execute("INSERT INTO machines(machine_id, password_hash, is_validated, created_at, updated_at, "
                            "ip_address) VALUES (?,?,?,?,?,?)", (machine_id, stored, int(validated), now, now,
                                                                 ip_address))

    def check_machine(self, machine_id: str, password: str) -> MachineRecord | None:
        """The machine if `password` is its password (validated or not), else None."""
        row = self.db.execute("SELECT password_hash FROM machines WHERE machine_id = ?", (machine_id,)).fetchone()
        if row is None or not check_password(row[0], password):
            return None
        return self.machine(machine_id)

    def machine(self, machine_id: str) -> MachineRecord | None:
        row = self.db.execute(f"SELECT {', '.join(_COLS)} FROM machines WHERE machine_id = ?",
                              (machine_id,)).fetchone()
        return _record(row) if row else None

    def machines(self) -> list[MachineRecord]:
        return [_record(r) for r in self.db.execute(f"SELECT {', '.join(_COLS)} FROM machines ORDER BY machine_id")]

    def validate_machine(self, machine_id: str, now: float | None = None) -> bool:
        with self.db:
            return self.db.execute("UPDATE machines SET is_validated = 1, updated_at = ? WHERE machine_id = ?",
                                   (time.time() if now is None else now, machine_id)).rowcount > 0

    def delete_machine(self, machine_id: str) -> bool:
        with self.db:
            return self.db.execute("DELETE FROM machines WHERE machine_id = ?", (machine_id,)).rowcount > 0

    def machine_seen(self, machine_id: str, what: str, now: float, *, ip_address: str | None = None,
                     user_agent: str | None = None, scenarios: list[str] | None = None) -> None:
        """Record a login, push or heartbeat (`what`) with the client's address and User-Agent."""
        col = {"login": "last_login", "push": "last_push", "heartbeat": "last_heartbeat"}[what]
        sets, args = [f"{col} = ?", "ip_address = COALESCE(?, ip_address)", "user_agent = COALESCE(?, user_agent)"], \
            [now, ip_address, user_agent]
        if scenarios is not None:
            sets.append("scenarios = ?")
            args.append(",".join(scenarios))
        with self.db:
            self.db.execute(f"UPDATE machines SET {', '.join(sets)} WHERE machine_id = ?", [*args, machine_id])


def _record(row) -> MachineRecord:
    values = dict(zip(_COLS, row))
    values["is_validated"] = bool(values["is_validated"])
    return MachineRecord(**values)
