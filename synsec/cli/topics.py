"""`synsec topics create|list`: a topology's Kafka topics. `broker_options` is shared by every Kafka command."""

from __future__ import annotations

import functools
import os

import click

from synsec.cli.output import emit_json, table

__all__ = ["topics", "broker_options", "broker_settings_from_options", "topology_option", "stop_timeout_option",
           "topic_name"]

_output = click.option("-o", "--output", "output", type=click.Choice(["human", "json"]), default="human",
                       show_default=True, help="Output format.")


def broker_options(fn):
    """--broker and the TLS/SASL flags; each falls back to its SYNSEC_KAFKA_* variable (docs/kafka.md)."""
    options = [
        click.option("--broker", "broker_url", metavar="kafka://HOST:PORT[,HOST:PORT]",
                     help="Bootstrap servers ($SYNSEC_KAFKA_BROKER)."),
        click.option("--security-protocol", type=click.Choice(["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"],
                                                               case_sensitive=False),
                     help="($SYNSEC_KAFKA_SECURITY_PROTOCOL, default PLAINTEXT)"),
        click.option("--sasl-mechanism", type=click.Choice(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"],
                                                           case_sensitive=False),
                     help="($SYNSEC_KAFKA_SASL_MECHANISM)"),
        click.option("--sasl-username", help="($SYNSEC_KAFKA_SASL_USERNAME)"),
        click.option("--sasl-password", help="Prefer $SYNSEC_KAFKA_SASL_PASSWORD: a flag shows in `ps`."),
        click.option("--ssl-cafile", type=click.Path(dir_okay=False, exists=True),
                     help="CA bundle that signed the brokers' certificates ($SYNSEC_KAFKA_SSL_CAFILE)."),
        click.option("--ssl-certfile", type=click.Path(dir_okay=False, exists=True),
                     help="Client certificate for mutual TLS ($SYNSEC_KAFKA_SSL_CERTFILE)."),
        click.option("--ssl-keyfile", type=click.Path(dir_okay=False, exists=True),
                     help="Client private key ($SYNSEC_KAFKA_SSL_KEYFILE)."),
    ]

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        keys = ("broker_url", "security_protocol", "sasl_mechanism", "sasl_username", "sasl_password",
                "ssl_cafile", "ssl_certfile", "ssl_keyfile")
        kwargs["broker"] = broker_settings_from_options(**{k: kwargs.pop(k) for k in keys})
        return fn(*args, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def broker_settings_from_options(broker_url=None, **flags):
    """BrokerSettings from click flags and os.environ (the CLI edge); a bad setting is a usage error."""
    from synsec.wire.kafka import BrokerSettings, KafkaSettingsError

    try:
        return BrokerSettings.from_url_and_env(broker_url, os.environ, **flags)
    except KafkaSettingsError as err:
        raise click.UsageError(str(err)) from None


def _load(topology: str):
    from synsec.engine.errors import LoadError, LoadErrors
    from topologies import load_topology

    try:
        return load_topology(topology)
    except (LoadError, LoadErrors) as err:
        raise click.ClickException(str(err)) from None


def topology_option(default: str = "default", help: str = "A shipped topology (default, single) or a topology "
                    "YAML file; the command's topics are its topics unless named.", **kw):
    """The `--topology NAME|PATH` option every Kafka command takes."""
    return click.option("--topology", default=default, show_default=True, metavar="NAME|PATH", help=help, **kw)


# The `--stop-timeout` of the commands that run a Faust app (streams.app.run_worker).
stop_timeout_option = click.option(
    "--stop-timeout", default=15.0, show_default=True, type=click.FloatRange(min=0),
    help="Seconds a stop on SIGTERM/SIGINT may take (committing, leaving the group) before the process exits anyway "
         "with status 1, as after a SIGKILL, which loses nothing (0: wait for ever).")


def topic_name(topology: str, role: str, override: str | None = None) -> str:
    """The topic of `role` (decisions, alerts, ...): `override` when given, else the topology's name for it."""
    return override or _load(topology).topics[role].name


def _admin_call(fn, *args, **kwargs):
    from connectors.kafka.admin import KafkaAdminError

    try:
        return fn(*args, **kwargs)
    except KafkaAdminError as err:
        raise click.ClickException(str(err)) from None


@click.group()
def topics() -> None:
    """Kafka topics of a topology: create them, list what a broker has."""


@topics.command("create")
@broker_options
@topology_option(help="A shipped topology (default, single) or a topology YAML file.")
@click.option("--timeout", type=click.FloatRange(1, 600), default=30, show_default=True, help="Seconds.")
@_output
def create(broker, topology, timeout, output) -> None:
    """Create the topology's missing topics (its tables' changelog topics too); existing ones are left alone and
    any mismatch is reported.

    Exits 1 when a topic could not be created or differs from the topology.
    """
    from connectors.kafka.admin import ensure_topics

    topo = _load(topology)
    report = _admin_call(ensure_topics, broker, topo, timeout_s=timeout)
    if output == "json":
        emit_json(report.to_dict())
    else:
        rows = [[t.role, t.name, t.status, t.actual_partitions if t.actual_partitions is not None else "-",
                 t.partitions, t.replication, "; ".join(t.messages)] for t in report.topics]
        table(f"topology {report.topology} on {broker.url}: {len(report.created)} created",
              ["role", "topic", "status", "partitions", "wanted", "replication", "notes"], rows)
        for warning in report.warnings:
            click.echo(f"warning: {warning}", err=True)
    if not report.ok:
        raise SystemExit(1)


@topics.command("list")
@broker_options
@topology_option(help="Marks each topic's role in this topology.")
@click.option("--all", "internal", is_flag=True, help="Include internal topics (__consumer_offsets...).")
@click.option("--timeout", type=click.FloatRange(1, 600), default=30, show_default=True, help="Seconds.")
@_output
def list_(broker, topology, internal, timeout, output) -> None:
    """The broker's topics with partitions, replication and cleanup policy."""
    from connectors.kafka.admin import describe_topics

    roles = {t.name: role for role, t in _load(topology).all_topics.items()}
    found = _admin_call(describe_topics, broker, timeout_s=timeout, internal=internal)
    if output == "json":
        emit_json({"broker": broker.url, "topics": [
            {"name": t.name, "role": roles.get(t.name), "partitions": t.partitions,
             "replication": t.replication, "config": t.config} for t in found]})
        return
    rows = [[t.name, roles.get(t.name, ""), t.partitions, t.replication,
             t.config.get("cleanup.policy", ""), t.config.get("retention.ms", "")] for t in found]
    table(f"{len(found)} topic(s) on {broker.url}",
          ["topic", "role", "partitions", "replication", "cleanup.policy", "retention.ms"], rows)
