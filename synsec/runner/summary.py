"""The end-of-run summary of `synsec replay` and `synsec run`: one function, one set of keys.

The engine's counts (`Engine.stats`, its counter set `ctx.counters` as `parser_*`/`profiles_*`, the buckets'
per-scenario counts), the input reader's (`InputStats`: bytes, too_long, invalid_utf8, binary), the tailer's
(`InputCounters`: the tailer's opened, rotations, truncations, resumed, and transform errors, journal
restarts, refused TCP connections; 0 for a replay) and the run's cost."""

from __future__ import annotations

import resource
import time

from synsec.engine.pipeline import counter_stats
from synsec.runner.inputs import InputStats
from synsec.runner.sources import InputCounters
from synsec.runner.tail import TailCounters

__all__ = ["run_summary", "started"]


def started() -> tuple[float, float]:
    """The start mark `run_summary` measures wall and CPU time from."""
    return time.perf_counter(), time.process_time()


def run_summary(engine, inputs: InputStats, since: tuple[float, float], *, files: int,
                tail: InputCounters | TailCounters | None = None, interrupted: bool = False, workers: int = 1) -> dict:
    """The stats of a run of `engine` over what `inputs` counted since `since` (`started()`)."""
    wall = time.perf_counter() - since[0]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    stats = engine.stats.as_dict()
    stats.update({
        **inputs.errors(), "bytes": inputs.bytes, "wall_s": round(wall, 3),
        "cpu_s": round(time.process_time() - since[1], 3),
        "lines_per_s": round(stats["lines"] / wall, 1) if wall > 0 else 0.0,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "children_cpu_s": round(children.ru_utime + children.ru_stime, 3),
        "live_buckets": len(engine.buckets.live_buckets()), "files": files,
        **(tail or InputCounters(TailCounters())).as_dict(), "interrupted": interrupted, "workers": workers,
    })
    stats.update(counter_stats(engine.ctx.counters))
    stats["buckets"] = {name: dict(c) for name, c in engine.buckets.stats.items() if any(c.values())}
    return stats
