"""The worker's Prometheus endpoint (`synsec worker --metrics-listen`): CrowdSec's `cscli metrics` families.

Every family is the counter set's (`synsec.engine.counters`: the table of names and families) over the shell's
engine's `CounterSet`, which every engine of the worker counts into — the parse agent's, the routing manager's
(filter/groupby errors) and the engine of every buckets-in partition (`synsec.assembly.build.split_engine`) — and
the agents' own counts (`worker_agent`: `synsec_worker_agent_total{agent,counter}`, `Shell.count`); the parse
agent counts raw records over `max_line_bytes` as `too_long`. The buckets agent drops its partitions' engines
on every rebalance and rebuilds them from the table: their counts are already in the shell's set, so the
counters never go down. Two gauges are computed at each scrape: `synsec_buckets{scenario}` (live buckets, summed
over the partitions' managers, which count them as buckets come and go: never a walk of the table) and
`synsec_worker_buckets_held` (records the buckets agent holds for event-time order). A scrape costs
O(partitions × scenarios).
"""

from __future__ import annotations

import faust

from synsec.metrics import CONTENT_TYPE, Counters
from synsec.assembly.metrics import register_engine

__all__ = ["HELD", "WORKER_SCOPES", "worker_metrics", "install"]

HELD = "synsec_worker_buckets_held"
WORKER_SCOPES = ("engine", "enrich", "input", "worker")


def worker_metrics(shell) -> Counters:
    """The worker's families over `shell` (read at each render)."""

    def managers() -> list:
        out = [shell.engine.buckets]
        state = shell.buckets_state
        if state is not None:
            out += [p.engine.buckets for p in list(state.partitions.values())]
        return out

    counters = register_engine(Counters(), shell.engine, managers=managers, scopes=WORKER_SCOPES)
    counters.gauge(HELD, "Routed records the buckets agent holds for event-time order (streams.ordering).", (),
                   lambda: [((), shell.buckets_state.held())] if shell.buckets_state is not None else [])
    return counters


def install(app: faust.App, shell) -> None:
    """With a web port, `GET /metrics` and `GET /health` on Faust's web server."""
    if not shell.settings.web_port:
        return

    @app.page("/metrics")
    async def metrics(self, request):
        """Prometheus text (exposition format 0.0.4)."""
        return self.bytes(shell.metrics.render().encode(), headers={"Content-Type": CONTENT_TYPE})

    @app.page("/health")
    async def health(self, request):
        return self.json({"status": "up"})
