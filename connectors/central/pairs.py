"""The collusion rule's memory (connectors/central/curation.py, docs/crowd.md step 8): which reporters co-founded
which listings in which epoch, and which pairs the rule joined. Pure data, no I/O."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["Pairs", "forget_epochs", "PAIR_SEP"]

PAIR_SEP = "\x00"        # between the two names of a pair in its record's key (no reporter name holds it)


class Pairs:
    """Co-founding reporters: pair (two names, sorted) -> {(epoch, listed address)}, the pairs that founded in
    each epoch, and the pairs the collusion rule joined (with the epoch it did)."""

    def __init__(self):
        self.seen: dict[tuple[str, str], set[tuple[int, str]]] = {}
        self.joined: dict[tuple[str, str], int] = {}
        self.by_epoch: dict[int, set[tuple[str, str]]] = {}
        self.partners: dict[str, set[tuple[str, str]]] = {}     # reporter -> its pairs with co-foundings
        self.last = -1                      # the newest epoch with a co-founding
        self.changed: set[tuple[str, str]] = set()     # records to save (`Changed`)
        self.published: set[tuple[str, str]] = set()   # co-foundings to share (`pair_changes`)

    def add(self, pair: tuple[str, str], epoch: int, value: str, keep: int) -> None:
        """`pair` co-founded `value` in `epoch`; its co-foundings older than `keep` epochs are dropped."""
        seen = {x for x in self.seen.get(pair, ()) if x[0] > epoch - keep}
        seen.add((epoch, value))
        self.seen[pair] = seen
        self.by_epoch.setdefault(epoch, set()).add(pair)
        for name in pair:
            self.partners.setdefault(name, set()).add(pair)
        self.last = max(self.last, epoch)
        self.changed.add(pair)
        self.published.add(pair)

    def founded(self, epoch: int) -> Iterable[tuple[str, str]]:
        return self.by_epoch.get(epoch, ())

    def forget(self, before: int) -> None:
        """Drop the index of the epochs before `before` (now and then: when it has doubled)."""
        forget_epochs(self, before)

    def shared(self, pair: tuple[str, str], first: int, last: int) -> int:
        """How many listings `pair` co-founded in epochs `first`..`last`."""
        return sum(1 for e, _ in self.seen.get(pair, ()) if first <= e <= last)

    def founded_by(self, name: str, first: int, last: int) -> int:
        """How many listings `name` co-founded (with anyone) in epochs `first`..`last`."""
        return len({x for pair in self.partners.get(name, ()) for x in self.seen.get(pair, ())
                    if first <= x[0] <= last})

    def sweep(self, horizon: int) -> None:
        """Forget co-foundings before `horizon` (a joined pair is kept: it says who is one cohort)."""
        for epoch in [e for e in self.by_epoch if e < horizon]:
            del self.by_epoch[epoch]
        for pair, seen in list(self.seen.items()):
            if seen and max(seen)[0] < horizon:
                del self.seen[pair]
                for name in pair:
                    self.partners[name].discard(pair)
                self.changed.add(pair)
                self.published.add(pair)

    def record(self, pair: tuple[str, str]) -> list | None:
        """[epoch joined or None, [[epoch, address]…]]; None once nothing is left of it."""
        seen, joined = self.seen.get(pair), self.joined.get(pair)
        if not seen and joined is None:
            return None
        return [joined, sorted([e, v] for e, v in seen or ())]

    def load(self, pair: tuple[str, str], rec: list) -> None:
        joined, seen = rec
        if joined is not None:
            self.joined[pair] = joined
        if seen:
            self.seen[pair] = {(e, v) for e, v in seen}
            for name in pair:
                self.partners.setdefault(name, set()).add(pair)
            for e, _ in seen:
                self.by_epoch.setdefault(e, set()).add(pair)
                self.last = max(self.last, e)


def forget_epochs(owner, before: int) -> None:
    """`owner.by_epoch` without the epochs before `before`, once it has twice the entries of the last time."""
    if len(owner.by_epoch) > getattr(owner, "_index_limit", 1024):
        for epoch in [e for e in owner.by_epoch if e < before]:
            del owner.by_epoch[epoch]
        owner._index_limit = max(1024, 2 * len(owner.by_epoch))
