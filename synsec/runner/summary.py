"""The end-of-run summary of `synsec replay` and `synsec run`: one function, one set of keys.

Every counter of the run's counter set (`engine.counts`, `synsec.engine.counters.CounterSet.summary`: the
engine's counts, the line readers' and the tailer's, each under its one name; `sources` and `buckets` per source
and per scenario), then the run's cost and shape."""

from __future__ import annotations

import resource
import time

__all__ = ["run_summary", "started"]


def started() -> tuple[float, float]:
    """The start mark `run_summary` measures wall and CPU time from."""
    return time.perf_counter(), time.process_time()


def run_summary(engine, since: tuple[float, float], *, files: int, interrupted: bool = False,
                workers: int = 1) -> dict:
    """The counts of a run of `engine` (its counter set, which the readers count into too) and what the run
    cost since `since` (`started()`)."""
    wall = time.perf_counter() - since[0]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    stats = engine.counts.summary()
    stats.update({
        "wall_s": round(wall, 3), "cpu_s": round(time.process_time() - since[1], 3),
        "lines_per_s": round(stats["lines"] / wall, 1) if wall > 0 else 0.0,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "children_cpu_s": round(children.ru_utime + children.ru_stime, 3),
        "live_buckets": len(engine.buckets.live_buckets()), "files": files, "interrupted": interrupted,
        "workers": workers,
    })
    return stats
