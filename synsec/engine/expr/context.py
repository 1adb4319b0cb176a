"""What compiled expressions may read besides their parameters: data files, the stash, the decision history.

The content loader fills `files` (data files of type string: name -> lines), `regexps` (type regexp) and
`maps` (type map) before compiling. Nothing here reads a clock: the stash measures TTLs in event time, which
the engine advances with `ExprContext.advance(ts)` before evaluating an event's expressions.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

from ..cti import EMPTY, SmokeItem
from ..history import DecisionHistory

__all__ = ["ExprContext", "Stash"]


def _no_cti(ip: str) -> SmokeItem:
    return EMPTY


class Stash:
    """CrowdSec's stash: named LRU caches of string values with a TTL counted in event time.

    A parser writes an entry before the event's own time is known (dateparse runs in a later stage), so the
    TTL first counts from the clock (the previous event's time); `stamp(ts)`, once the event's time is known,
    makes the entries written since count from that time instead (a log that jumps forward in time does not
    expire what its own line just stored)."""

    _MAX_FRESH = 4096      # entries awaiting their stamp (more: the rest keep counting from the clock)

    def __init__(self) -> None:
        self.now = 0.0
        self._caches: dict[str, OrderedDict[str, tuple[str, float | None]]] = {}
        self._limits: dict[str, tuple[float | None, int]] = {}
        self._fresh: list[tuple[OrderedDict, str, float]] = []

    def configure(self, name: str, ttl: float | None = None, size: int = 1000) -> None:
        """Declare a cache (a parser node's `stash:` entry): default TTL in seconds and maximum size."""
        self._limits[name] = (ttl, max(1, size))
        self._caches.setdefault(name, OrderedDict())

    def advance(self, now: float) -> None:
        """Move the stash's clock to event time `now` (never backwards)."""
        if now > self.now:
            self.now = now

    def set(self, name: str, key: str, value: str, ttl: float | None = None) -> None:
        default_ttl, size = self._limits.get(name, (None, 1000))
        ttl = default_ttl if ttl is None else ttl
        cache = self._caches.setdefault(name, OrderedDict())
        cache[key] = (value, None if not ttl else self.now + ttl)
        if ttl and len(self._fresh) < self._MAX_FRESH:
            self._fresh.append((cache, key, ttl))
        cache.move_to_end(key)
        while len(cache) > size:
            cache.popitem(last=False)

    def stamp(self, ts: float) -> None:
        """The entries written since the last stamp expire `ttl` after event time `ts` (never before `now`)."""
        if not self._fresh:
            return
        start = max(self.now, ts)
        for cache, key, ttl in self._fresh:
            entry = cache.get(key)
            if entry is not None:
                cache[key] = (entry[0], start + ttl)
        self._fresh.clear()

    def get(self, name: str, key: str) -> str:
        """The value, or "" when absent or expired (CrowdSec returns an empty string)."""
        cache = self._caches.get(name)
        if cache is None:
            return ""
        entry = cache.get(key)
        if entry is None:
            return ""
        value, expires = entry
        if expires is not None and expires <= self.now:
            del cache[key]
            return ""
        return value


@dataclass
class ExprContext:
    """Load-time data (files, regexps) and run-time services (stash, decision counts, CTI) for expressions."""

    files: dict[str, list[str]] = field(default_factory=dict)
    regexps: dict[str, list[str]] = field(default_factory=dict)
    maps: dict[str, Any] = field(default_factory=dict)     # type map: name -> helpers_filemap.FileMap
    stash: Stash = field(default_factory=Stash)
    history: DecisionHistory = field(default_factory=DecisionHistory)   # GetDecisionsCount & co (the profiles')
    cti: Callable[[str], SmokeItem] = _no_cti       # CrowdsecCTI(ip): set by the runner (the local blocklist)
    helpers: dict[str, Any] = field(default_factory=dict)   # name -> registry.Helper: functions only expressions
                                                            # compiled with this context may call (hubtest's basename)

    def advance(self, ts: float) -> None:
        """Set event time for TTL bookkeeping (call with the event's `ts`)."""
        self.stash.advance(ts)

    def stamp(self, ts: float) -> None:
        """The time of the event just parsed: stash entries its parsers wrote count their TTL from it."""
        self.stash.stamp(ts)

    @property
    def now(self) -> float:
        """The newest event time given to `advance` (TimeNow's value)."""
        return self.stash.now
