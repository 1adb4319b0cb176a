"""`type: leaky` — a token bucket of `capacity` tokens, one leaking back every `leakspeed`.

CrowdSec uses golang.org/x/time/rate (burst = capacity, one token per leakspeed, starting full) and overflows
when `Allow()` refuses a pour. The same limiter is kept here in its GCRA form: `tat` is the time at which the
bucket would be full again, so tokens(t) = capacity - max(0, tat - t) / leakspeed, and a pour at `t` is allowed
iff tat - t <= (capacity - 1) * leakspeed. One float of state, no clock. An event older than the bucket's last
pour is taken at the last pour's time (x/time/rate leaks nothing for it either).
"""

from __future__ import annotations

from synsec.engine.buckets.kinds import Kind

__all__ = ["KIND", "allow"]


def allow(spec, state, t):
    if state.count:
        if t < state.last_ts:
            t = state.last_ts
        tat = state.tat if state.tat > t else t
    else:
        tat = t
    if tat - t <= (spec.capacity - 1) * spec.leakspeed:
        return tat + spec.leakspeed, True
    return tat, False


def lifetime(capacity: int, leakspeed: float) -> float:
    """CrowdSec: `Duration = (capacity+1) * leakspeed` when both are set."""
    return (capacity + 1) * leakspeed if capacity > 0 and leakspeed else 0.0


def check(s) -> list:
    errs = []
    if s.capacity is None or s.capacity <= 0:
        errs.append(("capacity", f"bad capacity for leaky '{s.capacity}': must be a positive integer"))
    if not s.leakspeed:
        errs.append(("leakspeed", "leakspeed can't be empty or zero for leaky"))
    return errs


KIND = Kind(name="leaky", lifetime=lifetime, allow=allow, check=check)
