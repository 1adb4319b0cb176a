"""`type: counter` — `capacity: -1` (never refuses a pour) and overflows with the count when `duration`, counted
from its first event, has passed (CrowdSec's timed overflow)."""

from __future__ import annotations

from synsec.engine.buckets.kinds import Kind, always_allow

__all__ = ["KIND"]


def check(s) -> list:
    errs = []
    if not s.duration:
        errs.append(("duration", "duration can't be empty or zero for counter"))
    if s.capacity != -1:
        errs.append(("capacity", "counter bucket must have -1 capacity"))
    return errs


KIND = Kind(name="counter", lifetime=lambda capacity, leakspeed: 0.0, allow=always_allow, check=check)
