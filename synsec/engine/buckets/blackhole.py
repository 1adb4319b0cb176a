"""`blackhole` (CrowdSec `Blackhole`): after an overflow that went through, further overflows of the same
key are discarded until `overflow time + blackhole`. A discarded overflow does not extend it. The expiry is
kept in the key's own state (a dormant record once the bucket is gone)."""

from __future__ import annotations

__all__ = ["blackholed", "until"]


def blackholed(state, ovflw_ts: float) -> bool:
    """CrowdSec: `element.expiration.After(leaky.Ovflw_ts)`."""
    return state.bh_until > ovflw_ts


def until(spec, ovflw_ts: float) -> float:
    return ovflw_ts + spec.blackhole
