"""`type: conditional` — every pour is kept; after each pour `condition` (over `evt`, `queue`, `leaky`) decides
whether to overflow (CrowdSec `ConditionalOverflow.AfterBucketPour`). Underflows after `leakspeed` idle."""

from __future__ import annotations

from synsec.engine.buckets.kinds import Kind, always_allow
from synsec.engine.buckets.views import leaky_view

__all__ = ["KIND"]


def after_pour(spec, state, event, key):
    leaky = leaky_view(spec, state, key)
    try:
        ret = spec.condition(event, leaky.Queue, leaky)
    except Exception:       # CrowdSec logs "unable to run conditional filter" and keeps the bucket
        return False, state.flags
    return ret is True, state.flags


def check(s) -> list:
    errs = []
    if not s.condition:
        errs.append(("condition", "conditional bucket must have a condition"))
    if not s.leakspeed:
        errs.append(("leakspeed", "leakspeed can't be empty or zero for conditional bucket"))
    return errs


KIND = Kind(name="conditional", lifetime=lambda capacity, leakspeed: leakspeed, allow=always_allow,
            check=check, after_pour=after_pour)
