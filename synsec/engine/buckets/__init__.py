"""Scenario buckets (CrowdSec pkg/leakybucket), pure and driven by event time.

YAML → `synsec.content.scenarios.ScenarioSpec` → `BucketSpec` (compiled, frozen) → `BucketState` (small,
serialisable). Transitions `pour`/`tick`/`deadline` are pure; `BucketManager` drives them for every scenario.
"""

from synsec.engine.buckets.alert import Overflow, build_overflow, go_time, runtime_alert
from synsec.engine.buckets.core import deadline, pour, tick
from synsec.engine.buckets.kinds import KINDS, Kind
from synsec.engine.buckets.manager import BucketManager
from synsec.engine.buckets.spec import BayesianCondition, BucketSpec, build_spec, go_duration
from synsec.engine.buckets.state import EMPTY, BucketState

__all__ = [
    "BucketSpec", "BayesianCondition", "build_spec", "go_duration", "BucketState", "EMPTY",
    "pour", "tick", "deadline", "BucketManager", "Overflow", "build_overflow",
    "runtime_alert", "go_time", "KINDS", "Kind",
]
