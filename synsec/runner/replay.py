"""`synsec replay`: cold logs through the engine in one process (CrowdSec's `-dsn file://` forensic mode)."""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass, field
from typing import Callable

from synsec.engine.model import Alert, Decision, Line
from synsec.engine.pipeline import Output
from synsec.runner.build import EngineOptions, build_engine
from synsec.runner.inputs import InputStats, iter_lines

__all__ = ["ReplayResult", "replay"]


@dataclass
class ReplayResult:
    alerts: list[Alert] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    interrupted: bool = False

    def to_dict(self) -> dict:
        return {"alerts": [a.to_dict() for a in self.alerts],
                "decisions": [d.to_dict() for d in self.decisions], "stats": self.stats}


def replay(paths: list[str], labels: dict, opts: EngineOptions, *, reference_ts: float | None = None,
           progress: Callable[[int, int], None] | None = None, engine_and_content=None) -> ReplayResult:
    """Replay files; Ctrl-C stops reading and still returns everything found so far."""
    engine, _content = engine_and_content or build_engine(opts)
    ref_ts = time.time() if reference_ts is None else reference_ts
    inputs = InputStats()
    result = Output()
    interrupted = False
    started, cpu0 = time.perf_counter(), time.process_time()
    try:
        for n, (src, text) in enumerate(iter_lines(paths, inputs), 1):
            out = engine.process_line(Line(text, src, labels), ref_ts if engine.last_ts == 0.0 else 0.0)
            if out.alerts:
                result.extend(out)
            if progress is not None and n % 4096 == 0:
                progress(n, inputs.bytes)
    except KeyboardInterrupt:
        interrupted = True
    result.extend(engine.finish())
    wall = time.perf_counter() - started
    stats = engine.stats.as_dict()
    stats.update({
        "too_long": inputs.too_long, "invalid_utf8": inputs.invalid_utf8, "binary": inputs.binary,
        "bytes": inputs.bytes, "wall_s": round(wall, 3), "cpu_s": round(time.process_time() - cpu0, 3),
        "lines_per_s": round(stats["lines"] / wall, 1) if wall > 0 else 0.0,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "live_buckets": engine.buckets.live_buckets() if hasattr(engine.buckets, "live_buckets") else None,
        "interrupted": interrupted,
    })
    stats.update({f"parser_{k}": v for k, v in engine.ctx.counters.items()})
    return ReplayResult(result.alerts, result.decisions, stats, interrupted)
