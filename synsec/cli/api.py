"""`synsec api`: serve CrowdSec's LAPI (bouncer routes) and ccscli's routes over the embedded store."""

from __future__ import annotations

import ipaddress

import click

from synsec.cli.settings import settings_from_env

__all__ = ["api", "parse_listen"]


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT`, `[V6]:PORT` or `:PORT` (loopback)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{text!r}: expected HOST:PORT", param_hint="--listen")
    host = host.strip("[]") or "127.0.0.1"
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise click.BadParameter(f"{host!r} is not an IP address", param_hint="--listen") from None
    return host, int(port)


@click.command()
@click.option("--listen", default="127.0.0.1:8080", show_default=True,
              help="Address to serve on (HOST:PORT, [::1]:PORT). Loopback by default.")
@click.option("--state-dir", type=click.Path(file_okay=False), help="Embedded store ($SYNSEC_STATE_DIR).")
@click.option("--refresh-interval", type=click.FloatRange(0.0, 60.0), default=0.2, show_default=True,
              help="Seconds between reads of the store's change log (decisions reach bouncers after it).")
def api(listen: str, state_dir: str | None, refresh_interval: float) -> None:
    """Serve decisions to CrowdSec bouncers (GET /v1/decisions, /v1/decisions/stream) and ccscli."""
    from aiohttp import web

    from connectors.api.server import Backend, create_app
    from connectors.api.sqlite_view import SqliteDecisionView, StoreWriter
    from synsec.store import Store

    host, port = parse_listen(listen)
    settings = settings_from_env(state_dir)
    store = Store(settings.state_dir)
    writer = StoreWriter(store)
    view = SqliteDecisionView(store, min_interval=refresh_interval)
    app = create_app(Backend(view=view, writer=writer, keys=writer, alerts=writer))
    click.echo(f"synsec api: serving http://{'[' + host + ']' if ':' in host else host}:{port}/ "
               f"from {settings.state_dir}", err=True)
    try:
        web.run_app(app, host=host, port=port, print=None, access_log=None, handle_signals=True)
    finally:
        store.close()
