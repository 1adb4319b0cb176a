"""`synsec up`: the distributed mode on one machine — local broker, topics, a worker, files tailed into it.

Starts the bundled Kafka-protocol broker (tansu, memory storage) on 127.0.0.1, creates the topology's topics,
runs `synsec worker` against it in a child process, sends the lines of the given files and of the
acquisition files' sources (files, journald, syslog listeners: as `synsec run` reads them) into `synsec.raw`
(as a shipper would) and prints each decision as it lands on `synsec.decisions`. Ctrl-C or SIGTERM (systemd,
`docker stop`) stops everything it started.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from synsec.cli.engine_options import content_dir, engine_argv, engine_options

__all__ = ["up"]


@click.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--type", "log_type", help="Label `type` of the FILES' lines (nginx, syslog, ...).")
@click.option("--acquis", multiple=True, type=click.Path(exists=True),
              help="CrowdSec acquisition file or directory (file, journalctl, syslog sources); repeatable.")
@click.option("--topology", default="single", show_default=True)
@click.option("--port", type=int, default=0, help="Broker port on 127.0.0.1 (default: a free one).")
@click.option("--from-start", is_flag=True, help="Send the files' current content too, not only new lines.")
@click.option("--exit-after-idle", type=float, default=0.0,
              help="Stop after this many seconds without a new line or decision (0: run until Ctrl-C).")
@engine_options
@click.option("--metrics-listen", default="", metavar="HOST:PORT",
              help="The worker's Prometheus metrics on http://HOST:PORT/metrics (`ccscli metrics --url`).")
def up(files, log_type, acquis, topology, port, from_start, exit_after_idle, config_dir, data_dirs, pattern_dirs,
       geoip_city, geoip_asn, dns_server, metrics_listen):
    """Run synsec's distributed mode on this machine: broker, topics, worker, and FILES (and the --acquis
    sources) sent into it."""
    from kafka import KafkaConsumer, KafkaProducer

    from connectors.kafka.admin import ensure_topics
    from connectors.kafka.broker import LocalBroker
    from synsec.wire.kafka import BrokerSettings
    from synsec.engine.errors import LoadError, LoadErrors
    from synsec.runner.acquis import FileSource, load_acquis
    from synsec.engine.counters import CounterSet
    from synsec.runner.sources import Inputs
    from synsec.wire.codecs import Codecs
    from synsec.wire.registry import LocalRegistry
    from topologies import load_topology

    if files and not log_type:
        raise click.BadParameter("FILES need --type (e.g. syslog, nginx)", param_hint="--type")
    if not files and not acquis:
        raise click.UsageError("nothing to read: give FILES --type TYPE and/or --acquis acquis.yaml")
    sources = [FileSource(globs=(str(p),), labels={"type": log_type}) for p in files]
    warnings: list[str] = []
    try:
        for path in acquis:
            sources.extend(load_acquis(path, warnings))
    except (LoadErrors, LoadError) as err:
        raise click.ClickException(str(err)) from None
    for line in warnings:
        click.echo(f"warning: {line}", err=True)
    topo = load_topology(topology)
    config_dir = content_dir(config_dir)        # the worker is given it as --config-dir

    def terminate(_signum, _frame):
        raise KeyboardInterrupt               # SIGTERM (systemd, docker stop) stops what up started, as Ctrl-C

    signal.signal(signal.SIGTERM, terminate)
    broker = LocalBroker(port or None).start()
    worker = inputs = None
    try:
        ensure_topics(BrokerSettings.from_url(broker.url), topo)
        click.echo(f"broker {broker.url} (tansu, pid {broker.pid}); topics of topology {topo.name!r} ready", err=True)
        cmd = [sys.executable, "-m", "synsec.cli.main", "worker", "--broker", broker.url, "--topology", topology,
               "--session-timeout", "6", "--verify-end-offsets", "--idle-advance", "2"]
        cmd += engine_argv(config_dir, data_dirs, pattern_dirs, geoip_city, geoip_asn, dns_server)
        if metrics_listen:
            cmd += ["--metrics-listen", metrics_listen]
        worker = subprocess.Popen(cmd, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                  stdout=sys.stderr)      # our stdout carries only the decisions
        inputs = Inputs(sources, CounterSet(), from_start=from_start,
                        warn=lambda text: click.echo(f"warning: {text}", err=True))
        try:
            inputs.start(time.time())
        except LoadError as err:
            raise click.ClickException(str(err)) from None
        click.echo(f"worker pid {worker.pid}; sending {inputs.describe()} into {topo.topic('raw').name}", err=True)
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=20)
        consumer = KafkaConsumer(topo.topic("decisions").name, bootstrap_servers=broker.bootstrap,
                                 auto_offset_reset="earliest", group_id=None, consumer_timeout_ms=200)
        codecs = Codecs(LocalRegistry())
        last_activity = time.monotonic()
        decisions = 0
        while True:
            lines, _more = inputs.poll(time.time())
            for line in lines:                    # synsec's own envelope (streams/raw.py)
                producer.send(topo.topic("raw").name, json.dumps(
                    {"message": line.Raw, "labels": dict(line.Labels), "src": line.Src, "module": line.Module,
                     **({"time": line.Time} if line.Time else {})}).encode())
            producer.flush()
            for msg in consumer:
                if msg.value is None:
                    click.echo(f"expired/deleted {msg.key.decode()}")
                    continue
                d = codecs.decode("decision", msg.value)
                decisions += 1
                click.echo(f"{d['type']} {d['scope']}:{d['value']} for {d['duration']:.0f}s ({d['scenario']})")
                last_activity = time.monotonic()
            if lines:
                last_activity = time.monotonic()
            if worker.poll() is not None:
                raise click.ClickException(f"the worker exited with {worker.returncode}")
            if exit_after_idle and time.monotonic() - last_activity > exit_after_idle:
                click.echo(f"idle for {exit_after_idle:.0f}s: stopping ({decisions} decision(s))", err=True)
                break
            time.sleep(0.2)
    except KeyboardInterrupt:
        click.echo("stopping", err=True)
    finally:
        if inputs is not None:
            inputs.close()
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(5)
        broker.stop()
