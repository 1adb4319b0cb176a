"""`synsec central`: the crowd's central API (CrowdSec's Central API v2), over a SQLite store in its state dir."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from synsec.cli.api import parse_listen
from synsec.cli.settings import settings_from_env

__all__ = ["central"]

log = logging.getLogger("synsec.central")


@click.command()
@click.option("--listen", default="127.0.0.1:8090", show_default=True,
              help="Address to serve on (HOST:PORT, [::1]:PORT). Loopback by default.")
@click.option("--state-dir", type=click.Path(file_okay=False),
              help="Where central.db and central.secret live ($SYNSEC_STATE_DIR).")
@click.option("--curation", type=click.Path(dir_okay=False),
              help="Curation rules (default: the shipped connectors/central/curation.yaml).")
@click.option("--hub-index", type=click.Path(dir_okay=False),
              help="The hub index (.index.json) whose scenario hashes count (default: the one `ccscli hub "
                   "update` keeps in the config dir).")
@click.option("--token-ttl", type=click.FloatRange(120.0, 7 * 86400.0), default=3600.0, show_default=True,
              help="Seconds a login token is valid.")
def central(listen: str, state_dir: str | None, curation: str | None, hub_index: str | None,
            token_ttl: float) -> None:
    """Serve CrowdSec's Central API so that CrowdSec LAPIs join a synsec crowd: watcher register and login,
    signals, the curated community blocklist (decisions/stream), metrics. See docs/crowd.md."""
    from connectors.api.protocol import serve
    from connectors.central.curation import Curator, hub_scenarios
    from connectors.central.rules import load_rules
    from connectors.central.server import Central, create_app
    from connectors.central.store import CentralStore
    from connectors.api.tokens import load_secret
    from synsec.engine.errors import LoadError, LoadErrors
    from synsec.hub.index import HubError, parse_index
    from synsec.hub.install import INDEX, default_config_dir

    host, port = parse_listen(listen)
    settings = settings_from_env(state_dir)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        rules = load_rules(curation)
    except (LoadErrors, LoadError) as err:
        raise click.ClickException(str(err)) from None
    index_path = Path(hub_index) if hub_index else (settings.config_dir or default_config_dir()) / INDEX
    scenarios = {}
    try:
        scenarios = hub_scenarios(parse_index(index_path.read_bytes()))
    except FileNotFoundError:
        if hub_index or rules.hub_only:
            log.warning("no hub index at %s: no report counts until one is given (--hub-index)", index_path)
    except (OSError, HubError) as err:
        raise click.ClickException(f"{index_path}: {err}") from None
    store = CentralStore(settings.state_dir)
    c = Central(store=store, secret=load_secret(settings.state_dir), curator=Curator(rules, scenarios),
                token_ttl=token_ttl)
    c.restore()
    click.echo(f"synsec central: serving http://{'[' + host + ']' if ':' in host else host}:{port}/ "
               f"from {settings.state_dir} ({len(scenarios)} hub scenarios)", err=True)
    try:
        serve(create_app(c), host, port)
    finally:
        store.close()
