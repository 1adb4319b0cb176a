"""`synsec up`: the distributed mode on one machine — local broker, topics, a worker, the API, files tailed into it.

Starts the bundled Kafka-protocol broker (tansu, memory storage) on 127.0.0.1, creates the topology's topics,
runs `synsec worker` and `synsec api --broker` (the installation's LAPI for bouncers and ccscli, and its member
of the crowd when its state dir holds Central API credentials; `--no-api`: none) against it in child processes,
sends the lines of the given files and of the acquisition files' sources (files, journald, syslog listeners: as
`synsec run` reads them) into `synsec.raw` (as a shipper would) and prints each decision as it lands on
`synsec.decisions`. `--central HOST:PORT` also runs a one-machine crowd on the same broker: `synsec central
--broker` and one `synsec curation` worker (and registers the installation with it when it has no credentials
yet). Ctrl-C or SIGTERM (systemd, `docker stop`) stops everything it started, each child by its PID.
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

from synsec.cli.api import format_listen, parse_listen
from synsec.cli.engine_options import content_dir, engine_argv, engine_options

__all__ = ["up"]

SYNSEC = [sys.executable, "-m", "synsec.cli.main"]


class Children:
    """The child processes up started, by name, stopped in the reverse order of their start (SIGTERM, then
    SIGKILL after a grace period), each by its own PID."""

    def __init__(self):
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, cmd: list[str]) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                stdout=sys.stderr)      # up's stdout carries only the decisions
        self.procs.append((name, proc))
        return proc

    def check(self) -> None:
        """ClickException when a child exited."""
        for name, proc in self.procs:
            if proc.poll() is not None:
                raise click.ClickException(f"the {name} exited with {proc.returncode}")

    def stop(self) -> None:
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _name, proc in reversed(self.procs):
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _url(host: str, port: int) -> str:
    """The http:// URL of a server listening on host:port, as a client on this machine reaches it."""
    return f"http://{format_listen({'0.0.0.0': '127.0.0.1', '::': '::1'}.get(host, host), port)}/"


def _start_crowd(children: Children, broker, topology: str, listen: tuple[str, int], state_dir: Path,
                 config_dir: Path) -> str:
    """`synsec central --broker` on `listen` and one `synsec curation` worker, with the hub index of the config
    dir when it has one; central's URL."""
    from synsec.hub.install import INDEX

    index = config_dir / INDEX
    common = ["--broker", broker.url, "--topology", topology, *(["--hub-index", str(index)] if index.is_file() else [])]
    host, port = listen
    central = children.start("central", [*SYNSEC, "central", "--listen", format_listen(host, port),
                                         "--state-dir", str(state_dir / "central"), *common])
    children.start("curation worker", [*SYNSEC, "curation", *common, "--state-dir", str(state_dir / "curation"),
                                       "--session-timeout", "6", "--verify-end-offsets"])
    click.echo(f"central {_url(host, port)} (pid {central.pid}) and its curation worker on the same broker", err=True)
    return _url(host, port)


def _join(children: Children, url: str, state_dir: Path, timeout: float = 60.0) -> None:
    """Register the installation with its own central when its state dir holds no Central API credentials yet
    (as `ccscli capi register --url URL` does), once central answers."""
    import secrets
    import urllib.request

    from connectors.crowd.client import CapiError, register
    from connectors.crowd.credentials import Credentials, credentials_path, save_credentials

    path = credentials_path(state_dir)
    if path.exists():
        click.echo(f"crowd: the API uses the credentials in {path}", err=True)
        return
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while True:
        children.check()
        try:
            opener.open(url + "health", timeout=2).read()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise click.ClickException(f"central did not answer on {url} within {timeout:g} s") from None
            time.sleep(0.2)
    login, password = "synsec-" + secrets.token_hex(16), secrets.token_urlsafe(32)
    try:
        register(url, login, password)
    except CapiError as err:
        raise click.ClickException(f"registering with central: {err}") from None
    save_credentials(path, Credentials(url=url, login=login, password=password))
    click.echo(f"crowd: registered with central as {login}; credentials written to {path}", err=True)


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
@click.option("--api-listen", default="127.0.0.1:8080", show_default=True, metavar="HOST:PORT",
              help="Where `synsec api --broker` serves the LAPI (bouncers, ccscli).")
@click.option("--no-api", is_flag=True, help="Do not start the API.")
@click.option("--state-dir", type=click.Path(file_okay=False),
              help="The API's state dir (bouncer keys, Central API credentials; $SYNSEC_STATE_DIR); with --central, "
                   "central's and the curation's state go in its central/ and curation/, the worker's in worker/.")
@click.option("--central", "central_listen", metavar="HOST:PORT",
              help="Also run a one-machine crowd on the broker: `synsec central --broker` serving here and one "
                   "`synsec curation` worker; the API registers with it unless it has Central API credentials.")
def up(files, log_type, acquis, topology, port, from_start, exit_after_idle, config_dir, data_dirs, pattern_dirs,
       geoip_city, geoip_asn, dns_server, metrics_listen, api_listen, no_api, state_dir, central_listen):
    """Run synsec's distributed mode on this machine: broker, topics, worker, API (and with --central, central
    and the curation), and FILES (and the --acquis sources) sent into it."""
    from connectors.kafka.admin import ensure_topics
    from connectors.kafka.broker import LocalBroker
    from synsec.wire.kafka import BrokerSettings
    from synsec.engine.errors import LoadError, LoadErrors
    from synsec.cli.settings import settings_from_env
    from synsec.runner.acquis import FileSource, load_acquis
    from synsec.engine.counters import CounterSet
    from synsec.runner.sources import Inputs
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
    api_at = None if no_api else parse_listen(api_listen, "--api-listen")
    central_at = parse_listen(central_listen, "--central") if central_listen else None
    state = settings_from_env(state_dir).state_dir
    topo = load_topology(topology)
    config_dir = content_dir(config_dir)        # the worker and the API are given it as --config-dir
    content = engine_argv(config_dir, data_dirs, pattern_dirs, geoip_city, geoip_asn, dns_server)

    def terminate(_signum, _frame):
        raise KeyboardInterrupt               # SIGTERM (systemd, docker stop) stops what up started, as Ctrl-C

    signal.signal(signal.SIGTERM, terminate)
    broker = LocalBroker(port or None).start()
    children = Children()
    inputs = None
    try:
        ensure_topics(BrokerSettings.from_url(broker.url), topo)
        click.echo(f"broker {broker.url} (tansu, pid {broker.pid}); topics of topology {topo.name!r} ready", err=True)
        cmd = [*SYNSEC, "worker", "--broker", broker.url, "--topology", topology,
               "--session-timeout", "6", "--verify-end-offsets", "--idle-advance", "2",
               "--state-dir", str(state / "worker"), *content]     # not /tmp/synsec-worker, shared by every run
        if metrics_listen:
            cmd += ["--metrics-listen", metrics_listen]
        worker = children.start("worker", cmd)
        if central_at:
            central_url = _start_crowd(children, broker, topology, central_at, state, config_dir)
            if api_at:
                _join(children, central_url, state)
        if api_at:
            host, api_port = api_at
            api = children.start("api", [*SYNSEC, "api", "--broker", broker.url, "--topology", topology,
                                         "--listen", format_listen(host, api_port),
                                         "--state-dir", str(state), *content])
            click.echo(f"api {_url(host, api_port)} (pid {api.pid}, state dir {state}): "
                       f"`ccscli --state-dir {state} bouncers add NAME` makes a bouncer key", err=True)
        inputs = Inputs(sources, CounterSet(), from_start=from_start,
                        warn=lambda text: click.echo(f"warning: {text}", err=True))
        try:
            inputs.start(time.time())
        except LoadError as err:
            raise click.ClickException(str(err)) from None
        click.echo(f"worker pid {worker.pid}; sending {inputs.describe()} into {topo.topic('raw').name}", err=True)
        _pump(inputs, broker, topo, children, exit_after_idle)
    except KeyboardInterrupt:
        click.echo("stopping", err=True)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)     # a second SIGTERM does not cut the stop short
        if inputs is not None:
            inputs.close()
        children.stop()
        broker.stop()


def _pump(inputs, broker, topo, children: Children, exit_after_idle: float) -> None:
    """Send the inputs' lines into the raw topic and print each decision of the decisions topic, until the inputs
    and the decisions have been idle `exit_after_idle` seconds (0: until Ctrl-C)."""
    from kafka import KafkaConsumer, KafkaProducer

    from synsec.wire.codecs import Codecs
    from synsec.wire.registry import LocalRegistry

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
        children.check()
        if exit_after_idle and time.monotonic() - last_activity > exit_after_idle:
            click.echo(f"idle for {exit_after_idle:.0f}s: stopping ({decisions} decision(s))", err=True)
            return
        time.sleep(0.2)
