"""`overflow_filter` (CrowdSec `OverflowFilter`): an expression over `queue`, `signal` (the RuntimeAlert) and
`leaky`; when it returns false the overflow is discarded. A failing or non-boolean filter lets it through."""

from __future__ import annotations

from synsec.engine.buckets.alert import runtime_alert
from synsec.engine.buckets.views import leaky_view

__all__ = ["passes"]


def passes(spec, state, ovf, key: str, ovflw_ts: float) -> bool:
    leaky = leaky_view(spec, state, key, ovflw_ts)
    signal = runtime_alert(ovf) if ovf.alerts else None
    try:
        ret = spec.overflow_filter(leaky.Queue, signal, leaky)
    except Exception:
        return True
    return ret is not False
