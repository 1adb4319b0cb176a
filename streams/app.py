"""`create_app(settings)`: the Faust app of one synsec worker — topics, the bucket table and the agents.

No global app: the CLI builds one `WorkerSettings` at the edge and calls `create_app`. Every topic carries raw
bytes (`value_serializer="raw"`): the agents decode with `synsec.wire.codecs` themselves, so an undecodable message
is theirs to send to the dead-letter topic rather than a crash inside Faust.

The app uses `streams.transport` (direct delivery, batched sends, optionally verified end offsets) and Faust
settings chosen for throughput (measured: docs/kafka.md#speed): offsets are committed on a timer rather than
every N messages (a commit flushes the producer and stalls the fetch loop), and the stream buffer is more than
5 × the records of one poll, which the direct delivery relies on.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust

from synsec.wire.kafka import BrokerSettings
from streams.bucketstore import BucketCodec
from synsec.wire.codecs import Codecs
from streams.metrics import install as install_metrics
from streams.metrics import worker_metrics
from synsec.wire.registry import HttpRegistry, LocalRegistry
from streams.transport import guard_flow_resume, transport_class
from synsec.assembly.build import EngineOptions, build_engine
from topologies import BUCKETS_TABLE, WORKER_AGENTS, Topology

__all__ = ["WorkerSettings", "create_app", "Shell", "run_worker"]

MAX_POLL_RECORDS = 1000
QUIET_LOGGERS = ("aiokafka", "faust", "mode", "kafka")   # per-record debug calls cost ~5 % of a worker


@dataclass(frozen=True)
class WorkerSettings:
    broker: BrokerSettings
    topology: Topology
    engine: EngineOptions
    store: str = "memory://"              # "rocksdb://" in production (pip install synsec[rocksdb])
    data_dir: Path = Path("/tmp/synsec-worker")
    registry_url: str = ""                # Confluent schema registry; "" = ids from schemas/ids.json
    session_timeout: float = 10.0         # tansu makes a join wait half of it: keep it short
    heartbeat_interval: float = 1.0
    marker_interval: float = 1.0         # event-time seconds between event-time markers per routed partition
    idle_advance_s: float = 5.0           # wall seconds without events before a partition read to its end is idle
    hold_max: int = 20_000                # records a buckets-in partition holds for event-time order (streams.ordering)
    agents: tuple[str, ...] = WORKER_AGENTS    # those the topology does not run are skipped (Topology.runs)
    batch_max: int = 500                  # messages an agent handles between two sends
    batch_interval: float = 0.05          # after a batch that was not full, the next starts this much later
    verify_end_offsets: bool = False      # tansu 0.6.0: read changelog ends from a fetch (streams.transport)
    fetch_max_wait_ms: int = 50           # longest a broker may hold an empty fetch (tansu holds it all along)
    commit_interval: float = 1.0          # seconds between offset commits
    web_port: int = 0                     # 0: no Faust web server (it serves /metrics and /health: streams.metrics)
    web_bind: str = "127.0.0.1"
    extra: dict[str, Any] = field(default_factory=dict)   # more faust.App settings


class Shell:
    """What the agents share: the engine (compiled content) and its counter set (`engine.counts`: the engine's
    counts, the agents' own under `worker_agent`), codecs, topics, the bucket table, and the Prometheus families
    over them (`metrics`)."""

    def __init__(self, app: faust.App, settings: WorkerSettings):
        self.app = app
        self.settings = settings
        self.topology = settings.topology
        self.engine, self.content = build_engine(settings.engine)
        registry = HttpRegistry(settings.registry_url) if settings.registry_url else LocalRegistry()
        self.codecs = Codecs(registry)
        self.buckets_state = None         # streams.agents._Buckets when this worker runs the buckets agent
        self.metrics = worker_metrics(self)
        self.topics = {role: app.topic(spec.name, key_type=bytes, value_type=bytes, key_serializer="raw",
                                       value_serializer="raw", partitions=spec.partitions, internal=False)
                       for role, spec in self.topology.topics.items()}
        buckets_in = self.topology.topics["buckets-in"]
        self.buckets_partitions = buckets_in.partitions
        self.parse_routes = self.topology.parse_routes
        # event-time markers come from the partitions of the topic that is routed: raw when parse routes
        self.marker_sources = self.topology.topics["raw" if self.parse_routes else "events"].partitions
        codec = BucketCodec(self.codecs)
        self.table = app.Table(BUCKETS_TABLE, default=None, key_type=bytes, value_type=bytes,
                               partitions=buckets_in.partitions)
        self.table.value_serializer = codec    # the store and the changelog topic are made lazily, after this

    def count(self, name: str, n: int = 1) -> None:
        """An agent's own count, `name` as `agent.counter` (`parse.lines`, `buckets.late`…)."""
        agent, _, counter = name.partition(".")
        self.engine.counts.inc("worker_agent", agent, counter, n=n)

    def concurrency(self, agent: str) -> int:
        spec = self.topology.agents.get(agent)
        return spec.concurrency if spec is not None else 1


class _App(faust.App):
    """faust.App whose transport is `streams.transport`'s (set `transport_cls` before the app starts)."""

    transport_cls: Any = None

    def _new_transport(self):
        return self.transport_cls(self.conf.broker_consumer, self)


def create_app(settings: WorkerSettings) -> faust.App:
    """A Faust app running the agents `settings.agents` of `settings.topology` against `settings.broker`."""
    from streams import agents

    topo = settings.topology
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.getLogger(name).level, logging.INFO))
    settings.data_dir.mkdir(parents=True, exist_ok=True)      # Faust's worker starts in it
    app = _App(
        topo.app_id,
        **settings.broker.faust_kwargs(),
        store=settings.store,
        autodiscover=False,
        datadir=str(settings.data_dir),
        topic_partitions=topo.topics["events"].partitions,
        topic_allow_declare=True,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=settings.heartbeat_interval,
        broker_commit_every=100_000,        # commit on the interval: a commit flushes the producer
        broker_commit_interval=settings.commit_interval,
        broker_max_poll_records=MAX_POLL_RECORDS,
        stream_buffer_maxsize=8 * MAX_POLL_RECORDS,   # > 5 x a poll: direct delivery never blocks
        producer_max_batch_size=256 * 1024,
        producer_linger_ms=0,                  # the agents send whole batches already
        table_standby_replicas=0,
        web_enabled=bool(settings.web_port),
        web_port=settings.web_port or 6066,
        web_bind=settings.web_bind,
        web_router_enabled=False,              # Faust's own pages: table contents, cluster layout, sensors
        web_tables_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        **settings.extra,
    )
    app.transport_cls = transport_class(
        settings.broker.aiokafka_kwargs() if settings.verify_end_offsets else None, settings.fetch_max_wait_ms)
    guard_flow_resume(app)
    shell = Shell(app, settings)
    app.synsec = shell          # for tests and the CLI (status, counters)
    agents.install(app, shell)
    install_metrics(app, shell)
    return app


class _BoundedStop(faust.Worker):
    """faust's Worker whose stop on a signal ends within `stop_timeout` seconds."""

    def __init__(self, app: faust.App, stop_timeout: float, **kwargs):
        super().__init__(app, **kwargs)
        self._stop_timeout = stop_timeout

    def _schedule_shutdown(self, signum) -> None:
        if not self._signal_stop_time and self._stop_timeout > 0:
            threading.Thread(target=self._deadline, args=(signum,), name="stop-deadline", daemon=True).start()
        super()._schedule_shutdown(signum)

    def _deadline(self, signum) -> None:
        threading.Event().wait(self._stop_timeout)
        sys.stderr.write(f"synsec: stop on {getattr(signum, 'name', signum)} did not end within "
                         f"{self._stop_timeout:g} s (broker unreachable?); exiting without committing: the next "
                         "start reads again from the last commit (nothing lost, nothing poured twice)\n")
        sys.stderr.flush()
        os._exit(1)


def run_worker(app: faust.App, loglevel: str, stop_timeout: float) -> None:
    """Run `app` until SIGTERM or SIGINT. When the stop has not ended `stop_timeout` seconds after the signal (the
    broker is gone: aiokafka retries its last fetch and commit for ever), the process exits with status 1, as a
    SIGKILL would end it, which loses nothing (docs/kafka.md, crashes and restarts). 0: wait for ever."""
    sys.argv = [sys.argv[0]]          # faust.Worker parses argv: give it none of ours
    _BoundedStop(app, stop_timeout, loglevel=loglevel, quiet=True).execute_from_commandline()
