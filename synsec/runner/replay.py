"""`synsec replay`: cold logs through the engine in one process (CrowdSec's `-dsn file://` forensic mode)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from synsec.engine.model import Alert, Decision, Line
from synsec.engine.pipeline import Output
from synsec.assembly.build import EngineOptions, build_engine
from synsec.runner.inputs import iter_lines
from synsec.runner.summary import run_summary, started
from synsec.assembly.metrics import run_samples

__all__ = ["ReplayResult", "replay"]


@dataclass
class ReplayResult:
    alerts: list[Alert] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    interrupted: bool = False
    metrics: list = field(default_factory=list)    # synsec.metrics.Sample counters, for the store

    def to_dict(self) -> dict:
        return {"alerts": [a.to_dict() for a in self.alerts],
                "decisions": [d.to_dict() for d in self.decisions], "stats": self.stats}


def _single(engine, lines, labels, ref_ts, result, progress) -> None:
    for n, (src, text) in enumerate(lines, 1):
        out = engine.process(Line(text, src, labels), ref_ts if engine.last_event_time == 0.0 else 0.0)
        if out.alerts:
            result.extend(out)
        if progress is not None and n % 4096 == 0:
            progress(n, engine.counts.total("bytes"))


def _parallel(engine, lines, labels, ref_ts, result, progress, opts, workers) -> None:
    from synsec.runner.parallel import merge_counts, parallel_events

    n = 0
    for events, chunk in parallel_events(lines, labels, opts, workers, ref_ts):
        merge_counts(engine, chunk)
        for item, routes in events:     # an event that entered no bucket comes as its time only
            if routes:
                out = engine.pour(item, routes)
            elif item > engine.last_event_time:      # (one of the newest time waits with its ties)
                out = engine.advance(item)
            else:
                continue
            if out.alerts:
                result.extend(out)
        n += sum(chunk.get("lines", {}).values())
        if progress is not None:
            progress(n, engine.counts.total("bytes"))


def replay(paths: list[str], labels: dict, opts: EngineOptions, *, reference_ts: float | None = None,
           progress: Callable[[int, int], None] | None = None, engine_and_content=None,
           workers: int = 1) -> ReplayResult:
    """Replay files; Ctrl-C stops reading and still returns everything found so far.

    With workers > 1, parsing and routing run in that many processes and pouring in this one."""
    engine, _content = engine_and_content or build_engine(opts)
    ref_ts = time.time() if reference_ts is None else reference_ts
    result = Output()
    interrupted = False
    since = started()
    try:
        lines = iter_lines(paths, engine.counts)       # the readers count into the engine's set
        if workers > 1:
            _parallel(engine, lines, labels, ref_ts, result, progress, opts, workers)
        else:
            _single(engine, lines, labels, ref_ts, result, progress)
    except KeyboardInterrupt:
        interrupted = True
    result.extend(engine.finish())
    stats = run_summary(engine, since, files=len(paths), interrupted=interrupted, workers=workers)
    return ReplayResult(result.alerts, result.decisions, stats, interrupted, run_samples(engine.counts))
