"""`synsec worker`: run the Faust agents of a topology against a Kafka cluster."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from synsec.cli.topics import broker_options

__all__ = ["worker", "worker_settings"]

_AGENTS = ("parse", "route", "buckets", "profiles", "expiry")


def worker_settings(broker, topology: str, config_dir, data_dirs, store: str, state_dir, registry_url: str,
                    agents: str, session_timeout: float, watermark_interval: float, idle_advance: float,
                    single_record_batches: bool = False):
    """WorkerSettings from the command line (the CLI edge: nothing below reads the environment)."""
    from streams.app import WorkerSettings
    from synsec.runner.build import EngineOptions
    from topologies import load_topology

    names = tuple(a.strip() for a in agents.split(",") if a.strip())
    unknown = [a for a in names if a not in _AGENTS]
    if unknown:
        raise click.BadParameter(f"unknown agent(s) {', '.join(unknown)}; known: {', '.join(_AGENTS)}",
                                 param_hint="--agents")
    import time
    return WorkerSettings(
        broker=broker, topology=load_topology(topology),
        engine=EngineOptions(config_dir=Path(config_dir) if config_dir else None,
                             data_dirs=tuple(Path(d) for d in data_dirs),
                             reference_year=time.gmtime().tm_year),
        store=store, data_dir=Path(state_dir), registry_url=registry_url, agents=names,
        session_timeout=session_timeout, watermark_interval=watermark_interval, idle_advance_s=idle_advance,
        # tansu 0.6.0 reports a partition's end as the last batch's base offset + 1: Faust's table recovery
        # stops there. One record per produce batch keeps that figure right (slower; tansu only).
        extra={"producer_max_batch_size": 1, "producer_linger_ms": 0} if single_record_batches else {})


@click.command()
@broker_options
@click.option("--topology", default="default", show_default=True, help="Topology name or YAML path.")
@click.option("--config-dir", type=click.Path(file_okay=False, exists=True), help="CrowdSec-layout content.")
@click.option("--data-dir", "data_dirs", multiple=True, type=click.Path(file_okay=False, exists=True))
@click.option("--store", default="memory://", show_default=True,
              help="Faust table store: memory:// (tests, laptops) or rocksdb:// (production).")
@click.option("--state-dir", default=lambda: os.environ.get("SYNSEC_WORKER_DIR", "/tmp/synsec-worker"),
              help="Faust data directory (RocksDB tables, ...).")
@click.option("--registry-url", default="", help="Confluent schema registry URL (default: local schema ids).")
@click.option("--agents", default=",".join(_AGENTS), show_default=True, help="Comma-separated agents to run.")
@click.option("--session-timeout", default=10.0, show_default=True, type=float,
              help="Kafka group session timeout (s); tansu makes a join wait half of it.")
@click.option("--watermark-interval", default=1.0, show_default=True, type=float,
              help="Event-time seconds between watermark markers per events partition.")
@click.option("--idle-advance", default=5.0, show_default=True, type=float,
              help="Wall seconds without events before an idle events partition follows the others.")
@click.option("--single-record-batches", is_flag=True,
              help="One record per produce request: needed with the bundled tansu broker (end offsets).")
@click.option("--loglevel", default="warning", show_default=True)
def worker(broker, topology, config_dir, data_dirs, store, state_dir, registry_url, agents, session_timeout,
           watermark_interval, idle_advance, single_record_batches, loglevel):
    """Run the synsec agents (parse, route, buckets, profiles, expiry) of a topology on a Kafka cluster."""
    import faust

    from streams.app import create_app

    settings = worker_settings(broker, topology, config_dir, data_dirs, store, state_dir, registry_url, agents,
                               session_timeout, watermark_interval, idle_advance, single_record_batches)
    app = create_app(settings)
    sys.argv = [sys.argv[0]]          # faust.Worker parses argv: give it none of ours
    faust.Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()
