"""Runtime state of one bucket: a small immutable record that serialises to a plain dict.

A bucket is *active* while `count > 0`. After an overflow (or a cancel, or an underflow) a bucket whose key is
blackholed stays as a *dormant* record holding only `bh_until`, so that the blackhole lives with the key (and so
in the same Kafka partition and changelogged table as the bucket). The leak is computed lazily from `tat`
(see kinds/leaky.py), never by a clock.

Queue entries are `(ts, meta, sources, extra)`:
  - `meta`: the event's Meta map (None for an overflow event without Meta: CrowdSec leaves it out of Alert.Events)
  - `sources`: a tuple of source tuples `(scope, value, ip, range, as_number, as_name, cn, lat, lon)`, or a str
    saying why the event has no valid source (the alert then fails, as CrowdSec's NewAlert does)
  - `extra`: `(parsed, enriched)` when the scenario's expressions look at the queue, else None.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["BucketState", "EMPTY"]


class BucketState(NamedTuple):
    """What a changelogged table stores per (scenario, key)."""

    first_ts: float = 0.0
    last_ts: float = 0.0
    tat: float = 0.0                  # leaky: theoretical arrival time of the token bucket (GCRA form)
    count: int = 0                    # CrowdSec Total_count: events poured (distinct duplicates excluded)
    queue: tuple = ()                 # the last `queue_limit` entries, for the alert
    distinct: frozenset = frozenset()  # values of `distinct` already poured
    bh_until: float = 0.0             # blackhole: overflows of this key before this time are discarded
    flags: int = 0                    # bayesian: guillotine bits

    @property
    def active(self) -> bool:
        return self.count > 0

    def to_dict(self) -> dict:
        """Plain JSON-able dict (for a Faust table or a dump)."""
        return {
            "first_ts": self.first_ts, "last_ts": self.last_ts, "tat": self.tat, "count": self.count,
            "queue": [[ts, None if meta is None else dict(meta),
                       srcs if isinstance(srcs, str) else [list(s) for s in srcs],
                       None if extra is None else [dict(extra[0]), dict(extra[1])]]
                      for ts, meta, srcs, extra in self.queue],
            "distinct": sorted(self.distinct), "bh_until": self.bh_until, "flags": self.flags,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "BucketState":
        queue = tuple(
            (ts, meta, srcs if isinstance(srcs, str) else tuple(tuple(s) for s in srcs),
             None if extra is None else (extra[0], extra[1]))
            for ts, meta, srcs, extra in d.get("queue", ()))
        return cls(d.get("first_ts", 0.0), d.get("last_ts", 0.0), d.get("tat", 0.0), d.get("count", 0),
                   queue, frozenset(d.get("distinct", ())), d.get("bh_until", 0.0), d.get("flags", 0))


EMPTY = BucketState()
