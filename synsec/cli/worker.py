"""`synsec worker`: run the Faust agents of a topology against a Kafka cluster."""

from __future__ import annotations

import os
from pathlib import Path

import click

from synsec.cli.engine_options import content_dir, engine_options
from synsec.cli.output import warn_content
from synsec.cli.topics import broker_options, stop_timeout_option
from synsec.engine.errors import LoadError, LoadErrors
from topologies import WORKER_AGENTS as _AGENTS

__all__ = ["worker", "worker_settings"]


def worker_settings(broker, topology: str, engine_flags: dict, store: str, state_dir, registry_url: str,
                    agents: str, session_timeout: float, marker_interval: float, idle_advance: float,
                    verify_end_offsets: bool = False, batch_max: int = 500, batch_interval: float = 0.05,
                    commit_interval: float = 1.0, metrics_listen: str = "", hold_max: int = 20_000):
    """WorkerSettings from the command line (the CLI edge: nothing below reads the environment).
    `engine_flags`: the `engine_options` values (config_dir, data_dirs, pattern_dirs, geoip_city, geoip_asn,
    dns_server)."""
    from streams.app import WorkerSettings
    from synsec.cli.api import parse_listen
    from synsec.assembly.build import LIVE_RDNS_WAIT, EngineOptions
    from topologies import load_topology

    topo = load_topology(topology)
    names = tuple(a.strip() for a in agents.split(",") if a.strip()) if agents else _AGENTS
    unknown = [a for a in names if a not in _AGENTS]
    if unknown:
        raise click.BadParameter(f"unknown agent(s) {', '.join(unknown)}; known: {', '.join(_AGENTS)}",
                                 param_hint="--agents")
    if agents and "route" in names and topo.parse_routes:
        raise click.BadParameter(f"topology {topo.name!r} routes inline (route: {{inline: true}}): routing runs "
                                 "in the parse agent", param_hint="--agents")
    web_bind, web_port = parse_listen(metrics_listen, "--metrics-listen") if metrics_listen else ("127.0.0.1", 0)
    import time
    return WorkerSettings(
        broker=broker, topology=topo,
        engine=EngineOptions.from_flags(**engine_flags, reference_year=time.gmtime().tm_year,
                                        rdns_wait=LIVE_RDNS_WAIT),
        store=store, data_dir=Path(state_dir), registry_url=registry_url, agents=names,
        session_timeout=session_timeout, marker_interval=marker_interval, idle_advance_s=idle_advance,
        verify_end_offsets=verify_end_offsets, batch_max=batch_max, batch_interval=batch_interval,
        commit_interval=commit_interval, web_bind=web_bind, web_port=web_port, hold_max=hold_max)


def _blocklist_cti(shell, broker, decisions_topic: str) -> None:
    """CrowdsecCTI(ip) in this worker's expressions answers from the decisions topic's CAPI decisions (the
    community blocklist `synsec api --broker` publishes; docs/crowd.md)."""
    from connectors.crowd.kafka import TopicCTI

    content = shell.content
    content.expr_ctx.cti = TopicCTI(broker.kafka_python_kwargs(), decisions_topic, shell.codecs,
                                    {spec.name: dict(spec.labels) for spec in content.scenarios})


def _decision_history(shell, broker, decisions_topic: str) -> None:
    """GetDecisionsCount & co in this worker's profiles answer from the decisions topic (docs/policy.md)."""
    from connectors.kafka.history import TopicHistory

    shell.engine.profiles.history.source = TopicHistory(broker.kafka_python_kwargs(), decisions_topic, shell.codecs)


@click.command()
@broker_options
@click.option("--topology", default="default", show_default=True, help="Topology name or YAML path.")
@engine_options
@click.option("--store", default="memory://", show_default=True,
              help="Faust table store: memory:// (tests, laptops) or rocksdb:// (production).")
@click.option("--state-dir", default=lambda: os.environ.get("SYNSEC_WORKER_DIR", "/tmp/synsec-worker"),
              help="Faust data directory (RocksDB tables, ...).")
@click.option("--registry-url", default="", help="Confluent schema registry URL (default: local schema ids).")
@click.option("--agents", default="", help="Comma-separated agents to run (default: the topology's, and expiry).")
@click.option("--session-timeout", default=10.0, show_default=True, type=float,
              help="Kafka group session timeout (s); tansu makes a join wait half of it.")
@click.option("--marker-interval", "--watermark-interval", "marker_interval", default=1.0, show_default=True,
              type=float, help="Event-time seconds between event-time markers per routed partition "
                               "(--watermark-interval: its former name).")
@click.option("--idle-advance", default=5.0, show_default=True, type=float,
              help="Wall seconds without events before a routed partition read to its end is idle: it no longer "
                   "holds the other sources' markers back.")
@click.option("--hold-max", default=20_000, show_default=True, type=click.IntRange(1),
              help="Most records a buckets-in partition holds for event-time order; past it the oldest are poured "
                   "before the markers pass them (counted buckets.forced, docs/kafka.md).")
@click.option("--verify-end-offsets", "--single-record-batches", "verify_end_offsets", is_flag=True,
              help="Read each changelog partition's end from a fetch before recovering a table: needed with the "
                   "bundled tansu broker, whose end offsets are wrong after batched writes (docs/kafka.md). "
                   "--single-record-batches is its old name.")
@click.option("--batch", "batch_max", default=500, show_default=True, type=click.IntRange(1, 100_000),
              help="Most messages an agent handles between two sends.")
@click.option("--batch-interval", default=0.05, show_default=True, type=click.FloatRange(0, 10),
              help="Seconds from a batch that was not full to the next (fewer, larger batches under a trickle).")
@click.option("--commit-interval", default=1.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds between offset commits. Longer: fewer commits, more to re-read after a crash "
                   "(never a pour twice: routed records carry their origin).")
@click.option("--metrics-listen", default="", metavar="HOST:PORT", envvar="SYNSEC_METRICS_LISTEN", show_envvar=True,
              help="Serve Prometheus metrics on http://HOST:PORT/metrics (and /health), as CrowdSec's "
                   "prometheus listen_addr/listen_port, e.g. 127.0.0.1:6060. Default: off.")
@stop_timeout_option
@click.option("--loglevel", default="warning", show_default=True)
def worker(broker, topology, config_dir, data_dirs, pattern_dirs, geoip_city, geoip_asn, dns_server, store, state_dir,
           registry_url, agents, session_timeout, marker_interval, idle_advance, hold_max, verify_end_offsets,
           batch_max, batch_interval, commit_interval, metrics_listen, stop_timeout, loglevel):
    """Run the synsec agents (parse, route, buckets, profiles, expiry) of a topology on a Kafka cluster."""
    from streams.app import create_app, run_worker

    engine_flags = {"config_dir": content_dir(config_dir), "data_dirs": data_dirs, "pattern_dirs": pattern_dirs,
                    "geoip_city": geoip_city, "geoip_asn": geoip_asn, "dns_server": dns_server}
    settings = worker_settings(broker, topology, engine_flags, store, state_dir, registry_url, agents,
                               session_timeout, marker_interval, idle_advance, verify_end_offsets, batch_max,
                               batch_interval, commit_interval, metrics_listen, hold_max)
    try:
        app = create_app(settings)      # loads the content and the GeoIP databases: their errors are the user's
    except (LoadErrors, LoadError) as err:
        raise click.ClickException(str(err)) from None
    warn_content(app.synsec.content)
    _blocklist_cti(app.synsec, broker, settings.topology.topics["decisions"].name)
    _decision_history(app.synsec, broker, settings.topology.topics["decisions"].name)
    run_worker(app, loglevel, stop_timeout)
