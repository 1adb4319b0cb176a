"""The compiled scenario: CrowdSec's `BucketFactory` once its strings are callables and its durations floats.

A `BucketSpec` is frozen and shared by every bucket of a scenario. `build_spec` derives the numbers CrowdSec
computes in `NewLeaky` (bucket lifetime, queue size) so the loader and the tests build specs the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping

from synsec.engine.errors import Where

__all__ = ["BucketSpec", "BayesianCondition", "build_spec", "go_duration"]


@dataclass(frozen=True, slots=True)
class BayesianCondition:
    """One `bayesian_conditions` entry: `condition(evt, queue, leaky) -> bool` and its likelihoods."""

    condition: Callable[..., Any]
    prob_given_evil: float
    prob_given_benign: float
    guillotine: bool = False


@dataclass(frozen=True, slots=True)
class BucketSpec:
    """Everything the hot path needs about one scenario; built once, never changed."""

    name: str
    type: str
    kind: Any                                   # the registered bucket type (see buckets.kinds)
    filter: Callable[..., Any] | None = None    # evt -> bool
    groupby: Callable[..., Any] | None = None   # evt -> str
    distinct: Callable[..., Any] | None = None  # evt -> str
    capacity: int = 0
    leakspeed: float = 0.0
    leakspeed_text: str = "0s"                  # Go's Duration.String() of leakspeed, as CrowdSec prints it
    duration: float = 0.0
    lifetime: float = 0.0                       # CrowdSec Leaky.Duration: idle time before underflow
    timed_overflow: bool = False                # a `duration` makes the timer overflow instead of underflow
    blackhole: float = 0.0
    cache_size: int = 0
    queue_limit: int | None = None              # events kept for the alert (None: all)
    keep_full: bool = False                     # keep Parsed/Enriched of queued events (conditions need them)
    overflow_filter: Callable[..., Any] | None = None   # (queue, signal, leaky) -> bool
    cancel_on: Callable[..., Any] | None = None         # evt -> bool
    condition: Callable[..., Any] | None = None         # (evt, queue, leaky) -> bool
    bayesian_prior: float = 0.0
    bayesian_threshold: float = 0.0
    bayesian_conditions: tuple[BayesianCondition, ...] = ()
    reprocess: bool = False
    scope_type: str = "Ip"
    scope_expr: Callable[..., Any] | None = None        # evt -> str
    labels: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    remediation: bool = False
    scenario_version: str = ""
    scenario_hash: str = ""
    where: Where = field(default_factory=Where)
    id: str = ""            # unique among loaded scenarios: the name, `name#2`... when documents share a name




def go_duration(seconds: float) -> str:
    """Go's `time.Duration.String()`: 10s, 500ms, 1m0s, 1h30m0s, 1.5s, 0s."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    sign, u = ("-", -ns) if ns < 0 else ("", ns)
    if u < 1_000:
        return f"{sign}{u}ns"
    if u < 1_000_000:
        return f"{sign}{_frac(u, 1_000)}µs"
    if u < 1_000_000_000:
        return f"{sign}{_frac(u, 1_000_000)}ms"
    hours, rem = divmod(u, 3_600_000_000_000)
    minutes, rem = divmod(rem, 60_000_000_000)
    out = f"{hours}h" if hours else ""
    if hours or minutes:
        out += f"{minutes}m"
    return f"{sign}{out}{_frac(rem, 1_000_000_000)}s"


def _frac(value: int, unit: int) -> str:
    whole, part = divmod(value, unit)
    if not part:
        return str(whole)
    digits = str(part).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def build_spec(*, name: str, id: str = "", type: str = "leaky", capacity: int = 0, leakspeed: float = 0.0,
               duration: float = 0.0, cache_size: int = 0, labels: Mapping[str, Any] | None = None,
               **options: Any) -> BucketSpec:
    """A BucketSpec with CrowdSec's derived numbers (`NewLeaky`); `options` are the other BucketSpec fields."""
    from synsec.engine.buckets.kinds import KINDS

    kind = KINDS[type]
    lifetime = kind.lifetime(capacity, leakspeed)
    if duration:
        lifetime = duration
    qsize = capacity
    if cache_size > 0 and (cache_size <= capacity or capacity == -1):
        qsize = cache_size
    labels = MappingProxyType(dict(labels or {}))
    keep_full = bool(options.get("condition") or options.get("bayesian_conditions")
                     or options.get("overflow_filter"))
    return BucketSpec(
        name=name, id=id or name, type=type, kind=kind, capacity=capacity, leakspeed=leakspeed,
        leakspeed_text=go_duration(leakspeed), duration=duration, lifetime=lifetime,
        timed_overflow=duration > 0, cache_size=cache_size,
        queue_limit=None if qsize < 0 else qsize + 1,   # CrowdSec's Queue keeps one more than its size
        keep_full=keep_full, labels=labels, remediation=labels.get("remediation") is True, **options)
