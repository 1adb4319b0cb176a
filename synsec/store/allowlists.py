"""Allowlists in the store, as CrowdSec 1.7's (`cscli allowlists`): named lists of IP and CIDR items, each with
an optional expiry and comment. A value is allowlisted when a live item holds it or it holds a live item
(CrowdSec's `IsAllowlistedBy`: a range overlapping an allowlisted address is allowlisted too).

Items are kept with the start and end of their range as fixed-width hex (8 digits for IPv4, 32 for IPv6): the
items holding a value are found by the value's address masked to each prefix length (at most 129 indexed
lookups), those it holds by one indexed range scan, whatever the size of the lists. An IPv4-mapped IPv6 address is its IPv4
address. `AllowlistReader` is the read-only side the engine's profiles, the crowd's pull and the API use: it
opens its own connection per thread.
"""

from __future__ import annotations

import ipaddress
import re
import sqlite3
import threading
from pathlib import Path

from synsec.engine.errors import SynsecError
from synsec.engine.history import target
from synsec.engine.profiles import AllowEntry

__all__ = ["AllowlistTable", "AllowlistReader", "ALLOWLISTS_SCHEMA", "check_allowlist_name", "allowlist_item",
           "MAX_ITEMS", "AllowlistError"]

ALLOWLISTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS allowlists (
  name TEXT PRIMARY KEY, description TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL, updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS allowlist_items (
  list TEXT NOT NULL, value TEXT NOT NULL, version INTEGER NOT NULL, start TEXT NOT NULL, end TEXT NOT NULL,
  expires_at REAL, comment TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL, PRIMARY KEY (list, value)
);
CREATE INDEX IF NOT EXISTS allowlist_items_range ON allowlist_items(version, start, end);
"""

MAX_ITEMS = 100_000          # items one list may hold (and one `add` may give)
_MAX_COMMENT = 256
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_LIVE = "(expires_at IS NULL OR expires_at > ?)"
_COLS = "SELECT list, value, comment, expires_at FROM allowlist_items"


class AllowlistError(SynsecError, ValueError):
    """A bad allowlist name, item, comment or size; or an unknown or existing list."""


def check_allowlist_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise AllowlistError(f"invalid allowlist name {str(name)[:70]!r}: 1-64 of A-Z a-z 0-9 _ . - (starting "
                             "with a letter or digit)")
    return name


def allowlist_item(value: object):
    """The network of an item or of a value to check: an IP or a CIDR (host bits allowed: 192.0.2.7/24 is
    192.0.2.0/24; no zone such as %eth0); AllowlistError otherwise."""
    net = target(value) if isinstance(value, str) and len(value) <= 64 and "%" not in value else None
    if net is None:
        raise AllowlistError(f"invalid IP or CIDR {str(value)[:70]!r}")
    return net


def _text(net) -> str:
    return str(net.network_address) if net.num_addresses == 1 else str(net)


def _bounds(net) -> tuple[int, str, str]:
    width = 8 if net.version == 4 else 32
    return (net.version, format(int(net.network_address), f"0{width}x"),
            format(int(net.broadcast_address), f"0{width}x"))


def _holding(db: sqlite3.Connection, net, now: float, limit: int = 20) -> list:
    """Live items that hold `net`: an item holding it starts at its address masked to the item's prefix, so the
    distinct masked starts (at most 129) are looked up in the (version, start, end) index."""
    version, _start, end = _bounds(net)
    bits, width, addr = (32, 8, int(net.network_address)) if version == 4 else (128, 32, int(net.network_address))
    full = (1 << bits) - 1
    starts = sorted({format(addr & (full ^ ((1 << (bits - p)) - 1)), f"0{width}x") for p in range(net.prefixlen + 1)})
    return db.execute(f"{_COLS} WHERE version = ? AND start IN ({','.join('?' * len(starts))}) AND end >= ? AND "
                      f"{_LIVE} ORDER BY list, value LIMIT ?", (version, *starts, end, now, limit)).fetchall()


def _matches(db: sqlite3.Connection, value: str, now: float) -> list[tuple[str, str, str, float | None]]:
    """Live items holding `value` or held by it (CrowdSec's IsAllowlistedBy), at most 20 of each."""
    try:
        net = allowlist_item(value)
    except AllowlistError:
        return []
    rows = _holding(db, net, now)
    if net.num_addresses > 1:
        version, start, end = _bounds(net)
        rows += db.execute(f"{_COLS} WHERE version = ? AND start >= ? AND start <= ? AND end <= ? AND {_LIVE} "
                           "ORDER BY start LIMIT 20", (version, start, end, end, now)).fetchall()
    return sorted(set(rows))


def _reason(row) -> str:
    name, value, comment, _ = row
    return f"{name}: {value}" + (f" ({comment})" if comment else "")


class AllowlistTable:
    """Mixed into `synsec.store.Store` (its `db`)."""

    def create_allowlist(self, name: str, description: str, now: float) -> None:
        check_allowlist_name(name)
        try:
            with self.db:
                self.db.execute("INSERT INTO allowlists(name, description, created_at, updated_at) VALUES "
                                "(?, ?, ?, ?)", (name, description[:_MAX_COMMENT], now, now))
        except sqlite3.IntegrityError:
            raise AllowlistError(f"allowlist {name!r} already exists") from None

    def delete_allowlist(self, name: str) -> None:
        self._known(name)
        with self.db:
            self.db.execute("DELETE FROM allowlist_items WHERE list = ?", (name,))
            self.db.execute("DELETE FROM allowlists WHERE name = ?", (name,))

    def add_allowlist_items(self, name: str, values: list[str], now: float, *, expires_at: float | None = None,
                            comment: str = "") -> int:
        """Add (or renew) items; every value is checked first: nothing is added unless all are valid."""
        self._known(name)
        if len(comment) > _MAX_COMMENT:
            raise AllowlistError(f"comment longer than {_MAX_COMMENT} characters")
        if len(values) > MAX_ITEMS:
            raise AllowlistError(f"{len(values)} items at once: at most {MAX_ITEMS}")
        nets = [allowlist_item(v) for v in values]
        held = self.db.execute("SELECT COUNT(*) FROM allowlist_items WHERE list = ?", (name,)).fetchone()[0]
        if held + len(nets) > MAX_ITEMS:
            raise AllowlistError(f"allowlist {name!r} would hold more than {MAX_ITEMS} items")
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO allowlist_items(list, value, version, start, end, expires_at, comment, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(name, _text(n), *_bounds(n), expires_at, comment, now) for n in nets])
            self.db.execute("UPDATE allowlists SET updated_at = ? WHERE name = ?", (now, name))
        return len(nets)

    def remove_allowlist_items(self, name: str, values: list[str], now: float) -> int:
        self._known(name)
        texts = [_text(allowlist_item(v)) for v in values]
        with self.db:
            n = sum(self.db.execute("DELETE FROM allowlist_items WHERE list = ? AND value = ?", (name, t)).rowcount
                    for t in texts)
            self.db.execute("UPDATE allowlists SET updated_at = ? WHERE name = ?", (now, name))
        return n

    def allowlists(self, now: float, *, with_items: bool = False) -> list[dict]:
        """Every list (name order) with its live item count, and its live items when asked."""
        rows = self.db.execute("SELECT name, description, created_at, updated_at FROM allowlists ORDER BY name")
        return [self._list(r, now, with_items) for r in rows.fetchall()]

    def allowlist(self, name: str, now: float, *, with_items: bool = True) -> dict | None:
        row = self.db.execute("SELECT name, description, created_at, updated_at FROM allowlists WHERE name = ?",
                              (name,)).fetchone()
        return self._list(row, now, with_items) if row else None

    def allowlisted_by(self, value: str, now: float) -> list[str]:
        """Why `value` is allowlisted ("list: item (comment)"); [] when it is not, or is no IP or CIDR."""
        return [_reason(r) for r in _matches(self.db, value, now)]

    def apply_allowlists_to_decisions(self, now: float) -> int:
        """Delete the active Ip and Range decisions an allowlist item holds (as `cscli allowlists add` does), so
        bouncers drop them at their next pull; how many."""
        rows = self.db.execute("SELECT id, value FROM decisions WHERE deleted_at IS NULL AND until > ? AND "
                               "lower(scope) IN ('ip', 'range')", (now,)).fetchall()
        gone = []
        for did, value in rows:
            net = target(value) if isinstance(value, str) else None
            if net is not None and _holding(self.db, net, now, 1):
                gone.append(did)
        with self.db:
            for i in range(0, len(gone), 500):
                chunk = gone[i:i + 500]
                self.db.execute(f"UPDATE decisions SET deleted_at = ? WHERE deleted_at IS NULL AND id IN "
                                f"({','.join('?' * len(chunk))})", (now, *chunk))
        return len(gone)

    def _list(self, row, now: float, with_items: bool) -> dict:
        name, description, created, updated = row
        items = self.db.execute("SELECT value, comment, expires_at, created_at FROM allowlist_items WHERE list = ? "
                                "AND (expires_at IS NULL OR expires_at > ?) ORDER BY version, start, value",
                                (name, now)).fetchall()
        out = {"name": name, "description": description, "created_at": created, "updated_at": updated,
               "size": len(items)}
        if with_items:
            out["items"] = [{"value": v, "description": c, "expiration": e, "created_at": t} for v, c, e, t in items]
        return out

    def _known(self, name: str) -> None:
        check_allowlist_name(name)
        if self.db.execute("SELECT 1 FROM allowlists WHERE name = ?", (name,)).fetchone() is None:
            raise AllowlistError(f"allowlist {name!r} not found")


class AllowlistReader:
    """The store's allowlists, read-only, from any thread (one connection each): an engine allowlist source
    (`match`) and the answer of a check (`allowlisted_by`)."""

    def __init__(self, db_path: str | Path):
        self.path = str(db_path)
        self._local = threading.local()

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        return db

    def allowlisted_by(self, value: str, now: float) -> list[str]:
        return [_reason(r) for r in _matches(self._db(), value, now)]

    def match(self, value: str, now: float) -> AllowEntry | None:
        """The first live item over `value` (as the engine's `Allowlist.match`), or None."""
        rows = _matches(self._db(), value, now)
        if not rows:
            return None
        return AllowEntry(ipaddress.ip_network(rows[0][1], strict=False), rows[0][3], _reason(rows[0]))
