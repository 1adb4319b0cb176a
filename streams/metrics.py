"""The worker's Prometheus endpoint (`synsec worker --metrics-listen`): CrowdSec's `cscli metrics` families.

    synsec_acquisition_lines_read_total{source}, synsec_parser_hits_ok/ko_total{source}, …   parse agent
    synsec_bucket_poured/overflowed/underflowed_total{scenario}, synsec_buckets{scenario}     buckets agent
    synsec_alerts_total{scenario}, synsec_decisions_total{origin,scenario,type}               buckets, profiles
    synsec_parser_errors_total{kind}, synsec_profile_errors_total{kind},
    synsec_alerts_allowlisted_total            the engine's counter set (`ctx.counters`): parse, profiles
    synsec_overflows_whitelisted_total         postoverflow whitelists, buckets agent
    synsec_acquisition_line_errors_total{kind=too_long}   raw records over max_line_bytes, parse agent
    synsec_worker_agent_total{agent,counter}     the agents' own counts (`Shell.count`: parse.lines, …)
    synsec_worker_buckets_held                   records the buckets agent holds for event-time order

The engine families are `synsec.assembly.metrics.register_engine`'s, read at each scrape: per-source counts
from the shell's engine (the parse agent's), per-scenario counts summed over the shell's manager (routing
only: it counts filter/groupby errors, never a pour) and the manager of every buckets-in partition this
worker holds. A scrape costs O(partitions × scenarios): the live-bucket gauge is counted by the managers as
buckets come and go, never by walking the table.

The buckets agent drops its partitions' engines on every rebalance and rebuilds them from the table; it keeps
what the dropped engines counted (`_Buckets.retired`, `retired_whitelisted`), so the counters never go down.
"""

from __future__ import annotations

import faust

from synsec.metrics import CONTENT_TYPE, Counters
from synsec.assembly.metrics import declare_outputs, register_engine

__all__ = ["AGENT_COUNTS", "HELD", "worker_metrics", "install"]

AGENT_COUNTS = "synsec_worker_agent_total"
HELD = "synsec_worker_buckets_held"


class _Retired:
    """The bucket counts of dropped engines (`_Buckets.retired`), shaped as a manager for `register_engine`."""

    def __init__(self, stats: dict[str, dict[str, int]]) -> None:
        self.stats = stats

    @staticmethod
    def live_by_scenario() -> dict[str, int]:
        return {}                         # a dropped engine's buckets live on in another engine (or worker)


def worker_metrics(shell) -> Counters:
    """The worker's families over `shell` (read at each render; `Shell.on_outputs` counts alerts/decisions)."""

    def managers() -> list:
        out = [shell.engine.buckets]
        state = shell.buckets_state
        if state is not None:
            out += [p.engine.buckets for p in state.partitions.values()]
            out.append(_Retired(state.retired))
        return out

    def whitelisted() -> int:              # postoverflows run where the buckets overflow: the buckets agent
        state = shell.buckets_state
        if state is None:
            return shell.engine.stats.overflows_whitelisted
        return state.retired_whitelisted + sum(p.engine.stats.overflows_whitelisted
                                               for p in list(state.partitions.values()))

    counters = declare_outputs(register_engine(
        Counters(), shell.engine, managers=managers, overflows_whitelisted=whitelisted,
        line_errors=lambda: {"too_long": shell.counters.get("parse.too_long", 0)}))
    counters.collect(AGENT_COUNTS, "The worker agents' own counts (messages, batches, dead letters, markers…).",
                     ("agent", "counter"),
                     lambda: [(tuple(name.partition(".")[::2]), n) for name, n in list(shell.counters.items())],
                     "counter")
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
