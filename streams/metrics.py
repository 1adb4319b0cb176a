"""The worker's Prometheus endpoint (`synsec worker --metrics-listen`): CrowdSec's `cscli metrics` families.

    synsec_acquisition_lines_read_total{source}, synsec_parser_hits_ok/ko_total{source}, …   parse agent
    synsec_bucket_poured/overflowed/underflowed_total{scenario}, synsec_buckets{scenario}     buckets agent
    synsec_alerts_total{scenario}, synsec_decisions_total{origin,scenario,type}               buckets, profiles
    synsec_worker_agent_total{agent,counter}     the agents' own counts (`Shell.count`: parse.lines, …)

The engine families are `synsec.runner.metrics.register_engine`'s, read at each scrape: per-source counts
from the shell's engine (the parse agent's), per-scenario counts summed over the shell's manager (routing
only: it counts filter/groupby errors, never a pour) and the manager of every buckets-in partition this
worker holds. A scrape costs O(partitions × scenarios): the live-bucket gauge is counted by the managers as
buckets come and go, never by walking the table.

The buckets agent drops its partitions' engines on every rebalance and rebuilds them from the table; their
counts would go with them and the counters would go down. `RetainedPartitions` takes the place of its
partition map and keeps what the dropped engines counted.
"""

from __future__ import annotations

import faust

from synsec.metrics import CONTENT_TYPE, Counters
from synsec.runner.metrics import declare_outputs, register_engine

__all__ = ["AGENT_COUNTS", "RetainedPartitions", "worker_metrics", "install"]

AGENT_COUNTS = "synsec_worker_agent_total"


class _Retired:
    """The summed `BucketManager.stats` of dropped engines, shaped as a manager for `register_engine`."""

    def __init__(self) -> None:
        self.stats: dict[str, dict[str, int]] = {}

    def add(self, stats: dict[str, dict[str, int]]) -> None:
        for scenario, counts in stats.items():
            acc = self.stats.setdefault(scenario, {})
            for name, n in counts.items():
                acc[name] = acc.get(name, 0) + n

    @staticmethod
    def live_by_scenario() -> dict[str, int]:
        return {}                         # a dropped engine's buckets live on in another engine (or worker)


class RetainedPartitions(dict):
    """buckets-in partition -> its engine (`streams.agents._Partition`); `clear()` (a rebalance) keeps the
    bucket counts of the engines it drops in `retired`."""

    def __init__(self) -> None:
        super().__init__()
        self.retired = _Retired()

    def clear(self) -> None:
        for part in self.values():
            self.retired.add(part.engine.buckets.stats)
        super().clear()

    def __delitem__(self, partition) -> None:
        self.retired.add(self[partition].engine.buckets.stats)
        super().__delitem__(partition)

    def pop(self, partition, *default):
        if partition in self:
            self.retired.add(self[partition].engine.buckets.stats)
        return super().pop(partition, *default)


def worker_metrics(shell) -> Counters:
    """The worker's families over `shell` (read at each render; `Shell.on_outputs` counts alerts/decisions)."""

    def managers() -> list:
        out = [shell.engine.buckets]
        state = shell.buckets_state
        if state is not None:
            out += [p.engine.buckets for p in state.partitions.values()]
            retired = getattr(state.partitions, "retired", None)
            if retired is not None:
                out.append(retired)
        return out

    counters = declare_outputs(register_engine(Counters(), shell.engine, managers=managers))
    counters.collect(AGENT_COUNTS, "The worker agents' own counts (messages, batches, dead letters, markers…).",
                     ("agent", "counter"),
                     lambda: [(tuple(name.partition(".")[::2]), n) for name, n in list(shell.counters.items())],
                     "counter")
    return counters


def install(app: faust.App, shell) -> None:
    """After the agents: keep the buckets' counts across rebalances; with a web port, `GET /metrics` and
    `GET /health` on Faust's web server."""
    if shell.buckets_state is not None:
        shell.buckets_state.partitions = RetainedPartitions()
    if not shell.settings.web_port:
        return

    @app.page("/metrics")
    async def metrics(self, request):
        """Prometheus text (exposition format 0.0.4)."""
        return self.bytes(shell.metrics.render().encode(), headers={"Content-Type": CONTENT_TYPE})

    @app.page("/health")
    async def health(self, request):
        return self.json({"status": "up"})
