"""`synsec bouncer nginx|firewall|custom`: follow the decisions topic and enforce it (docs/bouncers.md)."""

from __future__ import annotations

import logging
import signal
import threading

import click

from synsec.cli.topics import broker_options, topic_name, topology_option

__all__ = ["bouncer"]

_verbose = click.option("-v", "--verbose", is_flag=True, help="Log each change.")


def _topic(fn):
    """--topology and --topic: the decisions topic followed is the topology's unless --topic names one."""
    fn = click.option("--topic", help="The decisions topic (default: the topology's).")(fn)
    return topology_option()(fn)


def _follower(broker, topic: str):
    from connectors.kafka.follower import DecisionFollower

    return DecisionFollower(broker.kafka_python_kwargs(), topic)


def _run_until_signal(follower, stop: threading.Event | None = None) -> None:
    """Follow in a thread until SIGINT/SIGTERM; returns after the follower stopped."""
    stop = stop or threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    thread = follower.start(stop)
    while thread.is_alive() and not stop.wait(0.5):
        pass
    stop.set()
    thread.join(timeout=10)
    click.echo(f"stopped: {follower.stats}", err=True)


def _logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)


def _hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{text!r}: expected HOST:PORT", param_hint="--listen")
    return host.strip("[]") or "127.0.0.1", int(port)


@click.group()
def bouncer() -> None:
    """Bouncers: enforce the active decisions of the decisions topic."""


@bouncer.command()
@broker_options
@_topic
@click.option("--listen", default="127.0.0.1:8081", show_default=True, metavar="HOST:PORT",
              help="Where nginx's auth_request subrequests are answered.")
@click.option("--header", default="X-Real-IP", show_default=True,
              help="Header holding the client address (X-Real-IP or X-Forwarded-For).")
@_verbose
def nginx(broker, topology, topic, listen, header, verbose) -> None:
    """auth_request endpoint: GET /auth answers 204 or 403 (connectors/bouncers/nginx-snippet.conf)."""
    from connectors.bouncers.nginx import NginxBouncer

    _logging(verbose)
    topic = topic_name(topology, "decisions", topic)
    host, port = _hostport(listen)
    follower = _follower(broker, topic)
    server = NginxBouncer(follower, host, port, header).start()
    click.echo(f"nginx bouncer on http://{host}:{port}/auth, following {topic} on {broker.url}", err=True)
    try:
        _run_until_signal(follower)
    finally:
        server.stop()


@bouncer.command()
@broker_options
@_topic
@click.option("--backend", type=click.Choice(["nftables", "ipset"]), default="nftables", show_default=True)
@click.option("--dry-run", is_flag=True, help="Print the scripts instead of applying them.")
@click.option("--netns", metavar="NAME", help="Apply inside this network namespace (ip netns exec NAME).")
@click.option("--type", "types", multiple=True, default=("ban",), show_default=True,
              help="Decision types to enforce (repeatable).")
@_verbose
def firewall(broker, topology, topic, backend, dry_run, netns, types, verbose) -> None:
    """Keep nftables sets (or ipsets) in sync with the active Ip/Range decisions (needs CAP_NET_ADMIN)."""
    from connectors.bouncers.firewall import BACKENDS, FirewallBouncer, subprocess_runner

    _logging(verbose)
    topic = topic_name(topology, "decisions", topic)
    if dry_run:
        def runner(command, script):
            click.echo(f"# {' '.join(command)}\n{script}", nl=False)
    else:
        runner = subprocess_runner(["ip", "netns", "exec", netns] if netns else [])
    fw = FirewallBouncer(BACKENDS[backend](), runner, types=types)
    try:
        fw.setup()
    except (RuntimeError, OSError) as err:
        raise click.ClickException(f"firewall setup failed: {err}") from None
    follower = _follower(broker, topic)
    fw.attach(follower)
    click.echo(f"firewall bouncer ({backend}{', dry run' if dry_run else ''}), following {topic} "
               f"on {broker.url}", err=True)
    _run_until_signal(follower)


@bouncer.command()
@broker_options
@_topic
@click.option("--script", "script", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Run as SCRIPT add|del IP DURATION REASON JSON.")
@click.option("--timeout", type=click.FloatRange(0.1, 3600), default=30, show_default=True,
              help="Seconds a script may run.")
@click.option("--type", "types", multiple=True, help="Only these decision types (default: all).")
@click.option("--scope", "scopes", multiple=True, help="Only these scopes (default: all).")
@_verbose
def custom(broker, topology, topic, script, timeout, types, scopes, verbose) -> None:
    """Run a script for each added or deleted decision, like crowdsec-custom-bouncer."""
    from connectors.bouncers.custom import CustomBouncer

    _logging(verbose)
    topic = topic_name(topology, "decisions", topic)
    follower = _follower(broker, topic)
    CustomBouncer(script, timeout_s=timeout, types=types or None, scopes=scopes or None).attach(follower)
    click.echo(f"custom bouncer ({script}), following {topic} on {broker.url}", err=True)
    _run_until_signal(follower)
