"""`synsec central`: the crowd's central API (CrowdSec's Central API, v2 and v3), over a SQLite store in its state dir;
`synsec curation`: the curation as a Faust app, for a central run with `--broker` (docs/crowd.md)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import click

from synsec.cli.api import format_listen, parse_listen, trusted_proxies_option
from synsec.cli.settings import settings_from_env
from synsec.cli.topics import broker_options, broker_settings_from_options, stop_timeout_option, topology_option

__all__ = ["central", "curation"]

log = logging.getLogger("synsec.central")

_curation_option = click.option("--curation", "curation_file", type=click.Path(dir_okay=False),
                                help="Curation rules (default: the shipped connectors/central/curation.yaml).")
_hub_index_option = click.option("--hub-index", type=click.Path(dir_okay=False),
                                 help="The hub index (.index.json) whose scenario hashes count (default: the one "
                                      "`ccscli hub update` keeps in the config dir).")


def _rules_and_scenarios(curation_file: str | None, hub_index: str | None, settings):
    """The curation rules and the hub's scenarios (name -> hashes, behaviour); errors are ClickExceptions."""
    from connectors.central.curation import hub_scenarios
    from connectors.central.rules import load_rules
    from synsec.engine.errors import LoadError, LoadErrors
    from synsec.hub.index import HubError, parse_index
    from synsec.hub.install import INDEX, default_config_dir

    try:
        rules = load_rules(curation_file)
    except (LoadErrors, LoadError) as err:
        raise click.ClickException(str(err)) from None
    index_path = Path(hub_index) if hub_index else (settings.config_dir or default_config_dir()) / INDEX
    try:
        return rules, hub_scenarios(parse_index(index_path.read_bytes()))
    except FileNotFoundError:
        if hub_index or rules.hub_only:
            log.warning("no hub index at %s: no report counts until one is given (--hub-index)", index_path)
        return rules, {}
    except (OSError, HubError) as err:
        raise click.ClickException(f"{index_path}: {err}") from None


def _topology(name: str):
    from synsec.engine.errors import LoadError, LoadErrors
    from topologies import load_topology

    try:
        topo = load_topology(name)
    except (LoadError, LoadErrors) as err:
        raise click.ClickException(str(err)) from None
    missing = [role for role in ("signals", "blocklist") if role not in topo.topics]
    if missing:
        raise click.ClickException(f"{topo.path}: the crowd needs topic role(s) {', '.join(missing)}")
    return topo


@click.command()
@click.option("--listen", default="127.0.0.1:8090", show_default=True,
              help="Address to serve on (HOST:PORT, [::1]:PORT). Loopback by default.")
@click.option("--state-dir", type=click.Path(file_okay=False),
              help="Where central.db and central.secret live ($SYNSEC_STATE_DIR).")
@_curation_option
@_hub_index_option
@click.option("--token-ttl", type=click.FloatRange(120.0, 7 * 86400.0), default=3600.0, show_default=True,
              help="Seconds a login token is valid.")
@click.option("--broker", "broker_url", metavar="kafka://HOST:PORT",
              help="Kafka mode: signals go to the topology's signals topic and `synsec curation` decides; the "
                   "blocklist topic is served; a broker down does not stop central (signals are stored and answered "
                   "503 until it is reached). Default: the curation runs in this process.")
@trusted_proxies_option
@topology_option()
def central(listen: str, state_dir: str | None, curation_file: str | None, hub_index: str | None,
            token_ttl: float, broker_url: str | None, proxies, topology: str) -> None:
    """Serve CrowdSec's Central API so that CrowdSec LAPIs join a synsec crowd: watcher register and login,
    signals, the curated community blocklist (decisions/stream), metrics. See docs/crowd.md."""
    from connectors.api.protocol import serve
    from connectors.central.curation import Curator
    from connectors.central.server import Central, create_app
    from connectors.central.store import CentralStore
    from connectors.api.tokens import load_secret

    host, port = parse_listen(listen)
    settings = settings_from_env(state_dir)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    rules, scenarios = _rules_and_scenarios(curation_file, hub_index, settings)
    store = CentralStore(settings.state_dir)
    c = Central(store=store, secret=load_secret(settings.state_dir), curator=Curator(rules, scenarios),
                token_ttl=token_ttl, proxies=proxies)
    if broker_url:
        from connectors.api.server import OneLineErrors
        from connectors.central.bus import SignalBus

        for handler in logging.getLogger().handlers:       # aiokafka logs every reconnection attempt
            handler.addFilter(OneLineErrors(per_second=1, only="aiokafka"))
        logging.getLogger("kafka").setLevel(logging.WARNING)    # kafka-python's admin (the topics) chats at INFO

        c.bus = SignalBus(broker_settings_from_options(broker_url), _topology(topology), store, time.time)
    c.restore()
    click.echo(f"synsec central: serving http://{format_listen(host, port)}/ "
               f"from {settings.state_dir} ({len(scenarios)} hub scenarios"
               f"{', Kafka mode' if broker_url else ''})", err=True)
    try:
        serve(create_app(c), host, port)
    finally:
        store.close()


def _create_crowd_topics(broker, topo, retry: float = 5.0) -> None:
    """The crowd's missing topics created before the worker starts (Faust would otherwise make the trust and
    blocklist topics with the broker's defaults on first use); tried again every `retry` s until the broker
    answers."""
    from connectors.central.bus import ensure_crowd_topics
    from connectors.kafka.admin import KafkaAdminError

    while True:
        try:
            lines = ensure_crowd_topics(broker, topo, timeout_s=10.0)
            break
        except KafkaAdminError as err:
            click.echo(f"synsec curation: waiting for the broker to create the crowd's topics ({err}); another "
                       f"try in {retry:g} s", err=True)
            time.sleep(retry)
    for line in lines:
        click.echo(f"synsec curation: {line}", err=True)


@click.command()
@broker_options
@topology_option()
@_curation_option
@_hub_index_option
@click.option("--state-dir", type=click.Path(file_okay=False), default="/tmp/synsec-curation", show_default=True,
              help="Faust's data dir.")
@click.option("--session-timeout", default=10.0, show_default=True, type=float,
              help="Kafka group session timeout (tansu makes a join wait half of it).")
@click.option("--verify-end-offsets", is_flag=True,
              help="Read each changelog's end from a fetch (the bundled tansu broker needs it: see synsec worker).")
@stop_timeout_option
@click.option("--loglevel", default="warning", show_default=True)
def curation(broker, topology, curation_file, hub_index, state_dir, session_timeout, verify_end_offsets,
             stop_timeout, loglevel) -> None:
    """Run the crowd's curation on the topology's signals topic (what `synsec central --broker` produces) and
    publish the community blocklist on its blocklist topic. See docs/crowd.md."""
    from streams.app import run_worker
    from streams.curation import CurationSettings, create_curation_app

    rules, scenarios = _rules_and_scenarios(curation_file, hub_index, settings_from_env())
    topo = _topology(topology)
    _create_crowd_topics(broker, topo)
    app = create_curation_app(CurationSettings(broker=broker, topology=topo, rules=rules,
                                               scenarios=scenarios, data_dir=Path(state_dir),
                                               session_timeout=session_timeout,
                                               verify_end_offsets=verify_end_offsets))
    run_worker(app, loglevel, stop_timeout)
