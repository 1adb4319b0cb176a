"""Bucket types: a YAML `type:` name → a small module (CrowdSec `leaky`, `trigger`, `counter`, `conditional`,
`bayesian`). Each module builds one `Kind`; the pour/tick logic in buckets.core is shared."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["Kind", "KINDS", "always_allow"]


@dataclass(frozen=True, slots=True)
class Kind:
    """How one bucket type differs from the others."""

    name: str
    lifetime: Callable[[int, float], float]          # (capacity, leakspeed) -> idle seconds before underflow
    allow: Callable[..., tuple]                      # (spec, state, t) -> (tat, allowed)
    check: Callable[[Any], list]                     # (ScenarioSpec) -> [(field, message)] load errors
    after_pour: Callable[..., tuple] | None = None   # (spec, state, event, key) -> (overflow?, flags)
    instant: bool = False                            # trigger: every pour overflows


def always_allow(spec, state, t):
    """CrowdSec `rate.AlwaysFull`: the limiter of buckets with capacity -1."""
    return state.tat, True


def _registry() -> dict[str, Kind]:
    from synsec.engine.buckets.kinds import bayesian, conditional, counter, leaky, trigger
    return {k.name: k for k in (leaky.KIND, trigger.KIND, counter.KIND, conditional.KIND, bayesian.KIND)}


KINDS: dict[str, Kind] = _registry()
