"""Central's window of recently accepted signal ids: a batch an installation sends again (its answer was lost,
or it was killed between sending and noting the answer) is counted once.

A signal is known by (watcher, its id), so one watcher can never suppress another's signals. Its id is its
`uuid`, or for a signal that has none (CrowdSec 1.4.6, v2) a digest of its content (`signal_key`: machine id,
scenario, hash, source scope and value, start/stop/created times, events count), so a 1.4.6 batch sent again
(after a 503, or an answer lost) is dropped like a batch with uuids; two signals of one watcher equal in all of
these are one signal. The window
holds the ids accepted within the last `window` seconds (24 h by default), and at most `max_ids` of them (the
oldest batches go first): memory is bounded (an 8-byte digest per id kept as an int in a set and in its batch's
list: about 90 bytes an id, ~90 MB per million). It is rebuilt at start from the store's signals (`CentralStore.recent_signals`), so a
central that stored a batch and died before answering still knows it.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable

from connectors.central.signals import Signal

__all__ = ["RecentIds", "WINDOW", "MAX_IDS", "signal_key"]

WINDOW = 86400.0
MAX_IDS = 1_000_000


def signal_key(watcher: str, s: Signal) -> int:
    """What a resend of `s` by `watcher` is known by: an 8-byte digest of the watcher and the signal's `uuid`, or
    for a signal without one, of `~` (never in a uuid) and what the installation sent (as parsed: an IPv4-mapped
    address reads as IPv4)."""
    if s.uuid:
        text = f"{watcher}\0{s.uuid}"
    else:
        text = "\0".join((watcher, "~", s.machine_id, s.scenario, s.scenario_hash, s.scope, s.value, s.start_at,
                          s.stop_at, s.created_at, "" if s.events_count is None else str(s.events_count)))
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=8).digest(), "big")


class RecentIds:
    """The ids accepted within `window` seconds, at most `max_ids`; `fresh` keeps a batch's new signals."""

    def __init__(self, window: float = WINDOW, max_ids: int = MAX_IDS):
        self.window, self.max_ids = window, max_ids
        self._ids: set[int] = set()
        self._order: deque[tuple[float, list[int]]] = deque()      # (accepted at, the batch's new keys)
        self.dropped = 0        # signals not counted because their id was in the window

    def __len__(self) -> int:
        return len(self._ids)

    def fresh(self, watcher: str, signals: list[Signal], now: float) -> list[Signal]:
        """The signals of a batch whose id is not in the window (nor earlier in the batch)."""
        self._expire(now)
        out, batch = [], set()
        for s in signals:
            key = signal_key(watcher, s)
            if key in self._ids or key in batch:
                self.dropped += 1
                continue
            batch.add(key)
            out.append(s)
        return out

    def accepted(self, watcher: str, signals: Iterable[Signal], at: float) -> None:
        """Remember the signals central stored (after the store committed them)."""
        keys = []
        for s in signals:
            key = signal_key(watcher, s)
            if key not in self._ids:
                self._ids.add(key)
                keys.append(key)
        if keys:
            self._order.append((at, keys))
        self._expire(at)

    def _expire(self, now: float) -> None:
        """Forget whole batches, oldest first, while the window is too old or holds more than `max_ids`."""
        order, ids = self._order, self._ids
        while order and (len(ids) > self.max_ids or order[0][0] <= now - self.window):
            ids.difference_update(order.popleft()[1])
