"""`synsec central`: the crowd's central API (CrowdSec's Central API v2), over a SQLite store in its state dir."""

from __future__ import annotations

import logging

import click

from synsec.cli.api import parse_listen
from synsec.cli.settings import settings_from_env

__all__ = ["central"]


@click.command()
@click.option("--listen", default="127.0.0.1:8090", show_default=True,
              help="Address to serve on (HOST:PORT, [::1]:PORT). Loopback by default.")
@click.option("--state-dir", type=click.Path(file_okay=False),
              help="Where central.db and central.secret live ($SYNSEC_STATE_DIR).")
@click.option("--min-reporters", type=click.IntRange(2, 1_000_000), default=2, show_default=True,
              help="Distinct registered watchers that must report an address within --window to list it.")
@click.option("--window", type=click.FloatRange(1.0, 30 * 86400.0), default=86400.0, show_default=True,
              help="Seconds over which reports are counted.")
@click.option("--token-ttl", type=click.FloatRange(120.0, 7 * 86400.0), default=3600.0, show_default=True,
              help="Seconds a login token is valid.")
def central(listen: str, state_dir: str | None, min_reporters: int, window: float, token_ttl: float) -> None:
    """Serve CrowdSec's Central API so that CrowdSec LAPIs join a synsec crowd: watcher register and login,
    signals, the community blocklist (decisions/stream), metrics. See docs/crowd.md."""
    from connectors.api.protocol import serve
    from connectors.central.consensus import Rule
    from connectors.central.server import Central, create_app
    from connectors.central.store import CentralStore
    from connectors.central.tokens import load_secret

    host, port = parse_listen(listen)
    settings = settings_from_env(state_dir)
    store = CentralStore(settings.state_dir)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app(Central(store=store, secret=load_secret(settings.state_dir),
                             rule=Rule(min_reporters=min_reporters, window=window), token_ttl=token_ttl))
    click.echo(f"synsec central: serving http://{'[' + host + ']' if ':' in host else host}:{port}/ "
               f"from {settings.state_dir}", err=True)
    try:
        serve(app, host, port)
    finally:
        store.close()
