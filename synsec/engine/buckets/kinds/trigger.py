"""`type: trigger` — overflows on its first pour (CrowdSec `Trigger.OnBucketPour`): count 1, start = stop."""

from __future__ import annotations

from synsec.engine.buckets.kinds import Kind, always_allow

__all__ = ["KIND"]


def check(s) -> list:
    if s.capacity not in (None, 0):
        return [("capacity", "trigger bucket must have 0 capacity")]
    return []


KIND = Kind(name="trigger", lifetime=lambda capacity, leakspeed: 0.0, allow=always_allow, check=check,
            instant=True)
