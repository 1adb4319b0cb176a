"""`synsec api`: serve CrowdSec's LAPI (bouncer and machine routes) and ccscli's routes, over the embedded store
or, with `--broker`, over the compacted decisions topic and the alerts topic (bouncer keys, machines and
positions stay in the embedded store)."""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import time

import click

from synsec.cli.crowd import crowd_credentials, crowd_options, start_crowd
from synsec.cli.engine_options import content_dir, engine_options
from synsec.cli.notify import start_notifications
from synsec.cli.output import warn_content
from synsec.cli.settings import settings_from_env
from synsec.cli.topics import broker_options, broker_settings_from_options, topic_name, topology_option

__all__ = ["api", "parse_listen", "trusted_proxies_option"]

_BROKER_KEYS = ("broker_url", "security_protocol", "sasl_mechanism", "sasl_username", "sasl_password",
                "ssl_cafile", "ssl_certfile", "ssl_keyfile")


def parse_listen(text: str, param_hint: str = "--listen") -> tuple[str, int]:
    """`HOST:PORT`, `[V6]:PORT` or `:PORT` (loopback)."""
    host, sep, port = text.rpartition(":")
    if not sep or not re.fullmatch(r"[0-9]{1,5}", port) or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{text!r}: expected HOST:PORT", param_hint=param_hint)
    host = host.strip("[]") or "127.0.0.1"
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise click.BadParameter(f"{host!r} is not an IP address", param_hint=param_hint) from None
    return host, int(port)


def format_listen(host: str, port: int) -> str:
    """`HOST:PORT` as `parse_listen` reads it (an IPv6 address in brackets)."""
    return f"{'[' + host + ']' if ':' in host else host}:{port}"


def _trusted_proxies(_ctx, _param, values: tuple[str, ...]):
    from connectors.api.forwarded import TrustedProxies, parse_trusted_proxies

    try:
        return TrustedProxies(parse_trusted_proxies(values))
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


trusted_proxies_option = click.option(
    "--trusted-proxies", "proxies", multiple=True, metavar="CIDR[,CIDR…]", callback=_trusted_proxies,
    help="Reverse proxies in front of this server (CrowdSec's trusted_proxies): from these peers the client address "
         "(for the auth-failure throttle and the address a machine or watcher is recorded with) is read from "
         "X-Forwarded-For, right to left through trusted hops. Default: none, the header is ignored.")


def _optional_broker_options(fn):
    """The shared --broker/TLS/SASL flags (`broker_options`), optional here: without --broker or
    $SYNSEC_KAFKA_BROKER the API serves the embedded store. The command gets `broker` (settings or None)."""
    template = broker_options(lambda **kw: None)
    fn.__click_params__ = getattr(fn, "__click_params__", []) + list(template.__click_params__)
    return fn


def _broker(flags: dict):
    if not flags.get("broker_url") and not os.environ.get("SYNSEC_KAFKA_BROKER"):
        return None
    return broker_settings_from_options(**flags)


@click.command()
@click.option("--listen", default="127.0.0.1:8080", show_default=True,
              help="Address to serve on (HOST:PORT, [::1]:PORT). Loopback by default.")
@click.option("--state-dir", type=click.Path(file_okay=False), help="Embedded store ($SYNSEC_STATE_DIR).")
@click.option("--refresh-interval", type=click.FloatRange(0.0, 60.0), default=0.2, show_default=True,
              help="Seconds between reads of the store's change log (decisions reach bouncers after it).")
@topology_option(help="With --broker: a shipped topology (default, single) or a topology YAML file; its "
                      "decisions topic is served unless --topic names one.")
@click.option("--topic", help="With --broker: the compacted decisions topic to serve (default: the topology's).")
@click.option("--catch-up-timeout", type=click.FloatRange(0.0, 3600.0), default=60.0, show_default=True,
              help="With --broker: seconds to wait for the topic to be read before serving.")
@click.option("--auth-fail-limit", type=click.IntRange(1, 1_000_000), default=30, show_default=True,
              help="Wrong keys from one client address (IPv6: its /64) within --auth-fail-window before its "
                   "requests get 429.")
@click.option("--auth-fail-window", type=click.FloatRange(1.0, 86400.0), default=60.0, show_default=True,
              help="Seconds over which wrong keys are counted (and a throttled client waits).")
@click.option("--allow-registration", is_flag=True,
              help="Let machines register themselves (POST /v1/watchers); each waits for `ccscli machines "
                   "validate` before it can log in. Off by default: add machines with `ccscli machines add`.")
@click.option("--token-ttl", type=click.FloatRange(60.0, 86400.0), default=3600.0, show_default=True,
              help="Seconds a machine's login token (JWT) is valid.")
@click.option("--tls-cert", type=click.Path(dir_okay=False, exists=True),
              help="Serve HTTPS with this certificate (PEM; with --tls-key).")
@click.option("--tls-key", type=click.Path(dir_okay=False, exists=True), help="The certificate's private key (PEM).")
@click.option("--tls-client-ca", type=click.Path(dir_okay=False, exists=True),
              help="With --tls-cert: verify client certificates signed by this CA when given; one whose OU is "
                   "--agents-ou logs in as a machine, --bouncers-ou pulls as a bouncer (CrowdSec's mTLS).")
@click.option("--agents-ou", multiple=True, default=("agent-ou",), show_default=True,
              help="Client-certificate OU of agents (repeatable).")
@click.option("--bouncers-ou", multiple=True, default=("bouncer-ou",), show_default=True,
              help="Client-certificate OU of bouncers (repeatable).")
@click.option("--dashboard-clickhouse", metavar="URL",
              help="The dashboard's alert panels from this ClickHouse (clickhouse://HOST:PORT/DB, filled by "
                   "`synsec clickhouse sink`) instead of the store: every machine's alerts in Kafka mode.")
@click.option("--dashboard-days", type=click.FloatRange(0.01, 3650.0), default=30.0, show_default=True,
              help="With --dashboard-clickhouse: days of alerts the panels cover.")
@trusted_proxies_option
@_optional_broker_options
@engine_options
@crowd_options
def api(listen: str, state_dir: str | None, refresh_interval: float, topology: str, topic: str | None,
        catch_up_timeout: float, auth_fail_limit: int, auth_fail_window: float, allow_registration: bool,
        token_ttl: float, tls_cert, tls_key, tls_client_ca, agents_ou, bouncers_ou, proxies, config_dir, data_dirs,
        pattern_dirs, geoip_city, geoip_asn, dns_server, share, push_interval, pull_interval, capi_version,
        dashboard_clickhouse, dashboard_days, **broker_flags) -> None:
    """Serve decisions to CrowdSec bouncers (GET /v1/decisions, /v1/decisions/stream), take alerts from CrowdSec
    agents (machines: POST /v1/watchers/login, /v1/alerts) and serve ccscli.

    Pushed alerts become decisions through the profiles of the content (--config-dir…), as synsec's own.

    With --broker kafka://HOST:PORT, decisions come from the decisions topic and ccscli's adds/deletes are
    published to it; without, from the embedded store. With --broker and Central API credentials in the state
    dir, it is the installation's member of the crowd: it shares the alerts topic's signals (the content flags
    say which scenarios run, as the worker's) and publishes the community blocklist on the decisions topic.
    """
    from connectors.api.metrics import Metrics
    from connectors.crowd.queue import register_metrics as register_crowd_metrics
    from connectors.api.protocol import serve
    from connectors.api.server import Backend, OneLineErrors, create_app
    from connectors.api.throttle import AuthThrottle
    from connectors.api.sqlite_view import SqliteDecisionView, StoreAlertWriter, StoreWriter
    from connectors.api.tokens import load_secret
    from synsec.store import Store

    host, port = parse_listen(listen)
    if bool(tls_cert) != bool(tls_key) or (tls_client_ca and not tls_cert):
        raise click.UsageError("--tls-cert and --tls-key go together; --tls-client-ca needs them")
    ssl_context = cert_roles = None
    if tls_cert:
        import ssl

        from connectors.api.tls import CertRoles, server_context
        try:
            ssl_context = server_context(tls_cert, tls_key, tls_client_ca)
        except (OSError, ssl.SSLError) as err:
            raise click.ClickException(f"TLS: {err}") from None
        cert_roles = CertRoles(tuple(agents_ou), tuple(bouncers_ou)) if tls_client_ca else None
    broker = _broker({k: broker_flags.get(k) for k in _BROKER_KEYS})
    dashboard_stats = None
    if dashboard_clickhouse:
        from connectors.api.dashboard_clickhouse import ClickHouseStats

        try:
            dashboard_stats = ClickHouseStats(dashboard_clickhouse, dashboard_days * 86400)
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="--dashboard-clickhouse") from None
    settings = settings_from_env(state_dir)
    store = Store(settings.state_dir)
    flags = dict(config_dir=config_dir, data_dirs=data_dirs, pattern_dirs=pattern_dirs)
    profiles, notifications = _profiles(flags) if broker is None else (None, {})   # decide on pushed alerts
    if profiles is not None:
        profiles.history.source = store     # GetDecisionsCount & co answer from the store
        profiles.allowlist = profiles.allowlist.with_source(store.allowlist_reader())
    keys = StoreWriter(store, profiles.counts if profiles is not None else None)
    metrics = Metrics()
    register_crowd_metrics(metrics, settings.state_dir)
    view, writer, source, closers = None, keys, str(settings.state_dir), []
    notifier = start_notifications(settings.state_dir, notifications)
    if notifier is not None:
        closers.append(notifier.stop)
    if profiles is not None:
        view = SqliteDecisionView(store, min_interval=refresh_interval)
        alert_writer = StoreAlertWriter(store, profiles.decide)
    else:
        topic = topic_name(topology, "decisions", topic)
        view, writer, closers = _topic_backend(broker, topic, store, metrics, catch_up_timeout)
        source = f"{broker.url}/{topic} (keys in {settings.state_dir})"
        from connectors.api.topic_view import TopicAlertWriter

        alert_writer = TopicAlertWriter(store, writer, topic_name(topology, "alerts"))
        closers = _kafka_crowd(settings.state_dir, broker, topology, topic, share, push_interval, pull_interval,
                               capi_version, flags, store.allowlist_reader()) + closers
        closers = _kafka_notifications(settings.state_dir, broker, topology, flags) + closers
    for name in ("aiohttp.server", "aiohttp.web", "connectors.api.server"):   # no traceback flood
        logging.getLogger(name).addFilter(OneLineErrors())
    app = create_app(Backend(view=view, writer=writer, keys=keys, alerts=keys, machines=store,
                             alert_writer=alert_writer, allowlists=store), metrics=metrics,
                     throttle=AuthThrottle(auth_fail_limit, auth_fail_window),
                     secret=load_secret(settings.state_dir, "api.secret"), allow_registration=allow_registration,
                     token_ttl=token_ttl, cert_roles=cert_roles, dashboard_stats=dashboard_stats, proxies=proxies)
    click.echo(f"synsec api: serving http{'s' if ssl_context else ''}://{format_listen(host, port)}/ from {source}",
               err=True)
    try:
        serve(app, host, port, ssl_context)
    finally:
        for close in closers:
            close()
        store.close()


def _profiles(flags: dict):
    """The profiles of the content (with its simulation and allowlist) that decide on pushed alerts, and the
    notifications they name."""
    from synsec.assembly.build import EngineOptions, build_profiles
    from synsec.content.loader import load_content
    from synsec.engine.errors import LoadError, LoadErrors

    opts = EngineOptions.from_flags(config_dir=content_dir(flags["config_dir"]), data_dirs=flags["data_dirs"],
                                    pattern_dirs=flags["pattern_dirs"])
    try:
        content = load_content(opts.config_dir, data_dirs=list(opts.data_dirs), pattern_dirs=list(opts.pattern_dirs))
    except (LoadErrors, LoadError) as err:
        raise click.ClickException(str(err)) from None
    warn_content(content, delivers=True)
    return build_profiles(opts, content), content.notifications


def _kafka_notifications(state_dir, broker, topology: str, flags: dict) -> list:
    """With notifications in the content: the alerts topic read by the profiles to queue them, and their
    dispatcher (docs/notifications.md); the closers that stop them (the feed first)."""
    from connectors.crowd.kafka import AlertFeed
    from connectors.notify.feed import AlertsNotifier
    from synsec.content.loader import load_notification_dir
    from synsec.engine.errors import LoadError, LoadErrors
    from synsec.wire.codecs import Codecs
    from synsec.wire.registry import LocalRegistry

    try:
        if not load_notification_dir(content_dir(flags["config_dir"])):
            return []
    except (LoadErrors, LoadError) as err:
        raise click.ClickException(str(err)) from None
    profiles, notifications = _profiles(flags)
    notifier = start_notifications(state_dir, notifications)
    feed = AlertFeed(broker.kafka_python_kwargs(), topic_name(topology, "alerts"), Codecs(LocalRegistry()),
                     AlertsNotifier(state_dir, profiles)).start()
    return [feed.stop, notifier.stop]


def _kafka_crowd(state_dir, broker, topology: str, decisions_topic: str, share, push_interval: float,
                 pull_interval: float, capi_version: str, flags: dict, allowlists=None) -> list:
    """With credentials: the crowd of a Kafka installation (alerts topic → signals, blocklist → decisions
    topic); the closers that stop it (the feed first)."""
    from connectors.api.topic_view import make_decisions_producer
    from connectors.crowd.kafka import AlertFeed, TopicTarget
    from synsec.content.loader import load_content
    from synsec.engine.errors import LoadError, LoadErrors
    from synsec.wire.codecs import Codecs
    from synsec.wire.registry import LocalRegistry

    creds = crowd_credentials(state_dir, share)
    if creds is None:
        return []
    try:
        content = load_content(content_dir(flags["config_dir"]), data_dirs=list(flags["data_dirs"]),
                               pattern_dirs=list(flags["pattern_dirs"]))
    except (LoadErrors, LoadError) as err:
        raise click.ClickException(str(err)) from None
    if allowlists is not None:          # the store's lists (ccscli allowlists) filter the pulled blocklist too
        content.allowlist = content.allowlist.with_source(allowlists)
    codecs = Codecs(LocalRegistry())
    kwargs = broker.kafka_python_kwargs()
    crowd = start_crowd(state_dir, content, "synsec", share, push_interval, pull_interval, capi_version,
                        creds=creds, cti=False,
                        open_target=lambda: TopicTarget(kwargs, make_decisions_producer(broker), codecs,
                                                        decisions_topic))
    if crowd.policy is None:
        return [crowd.stop]
    feed = AlertFeed(kwargs, topic_name(topology, "alerts"), codecs, crowd).start()
    return [feed.stop, crowd.stop]


def _topic_backend(broker, topic: str, store, metrics, catch_up_timeout: float):
    """(view, writer, closers) over the decisions topic; waits until the topic has been read."""
    from connectors.api.topic_view import TopicDecisionView, TopicDecisionWriter, make_decisions_producer
    from synsec.wire.codecs import Codecs
    from synsec.wire.registry import LocalRegistry

    codecs = Codecs(LocalRegistry())
    base = max((b.last_seq for b in store.bouncers()), default=0) + 1
    try:
        view = TopicDecisionView(broker.kafka_python_kwargs(), codecs, topic=topic, base_seq=base).start()
        writer = TopicDecisionWriter(make_decisions_producer(broker), codecs, view)
    except Exception as err:  # noqa: BLE001 — kafka-python's NoBrokersAvailable and friends
        raise click.ClickException(f"cannot reach {broker.url}: {err}") from None
    if not view.wait_ready(catch_up_timeout):
        click.echo(f"synsec api: {topic} not read within {catch_up_timeout:g}s"
                   + (f" ({view.error})" if view.error else "") + "; serving what was read", err=True)
    else:
        view.refresh(time.time())
        click.echo(f"synsec api: read {view.records} message(s) from {topic}: "
                   f"{len(view.index.by_id)} active decision(s), {view.poison} skipped", err=True)
    metrics.gauge("synsec_api_topic_messages", "Messages read from the decisions topic.", (),
                  lambda: [((), view.records)])
    metrics.gauge("synsec_api_topic_poison", "Undecodable decisions-topic messages skipped.", (),
                  lambda: [((), view.poison)])
    return view, writer, [writer.close, view.stop]
