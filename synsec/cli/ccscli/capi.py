"""`ccscli capi register|status`: this installation's Central API credentials (CrowdSec's
`online_api_credentials.yaml`, in the state dir) and the state of its crowd loop (docs/crowd.md)."""

from __future__ import annotations

import secrets

import click

from synsec.cli.crowd import capi_version_option
from synsec.cli.output import emit_json, output_option, table, utc_text

__all__ = ["COMMANDS"]


@click.group()
def capi() -> None:
    """Central API (the crowd): register this installation, show its status."""


@capi.command("register")
@capi_version_option
@click.option("--url", required=True, help="The Central API's base URL (e.g. http://127.0.0.1:8090/).")
@click.option("--machine-id", help="The watcher id to register (default: a random one).")
@click.option("-f", "--file", "path", type=click.Path(dir_okay=False),
              help="Where to write the credentials (default: <state-dir>/online_api_credentials.yaml).")
@click.pass_obj
def register(settings, capi_version, url, machine_id, path) -> None:
    """Register this installation with a Central API and write its credentials (url, login, password)."""
    from connectors.crowd.client import CapiError, register as capi_register
    from connectors.crowd.credentials import Credentials, check_url, credentials_path, save_credentials

    try:
        url = check_url(url)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--url") from None
    machine_id = machine_id or "synsec-" + secrets.token_hex(16)
    password = secrets.token_urlsafe(32)
    try:
        capi_register(url, machine_id, password, version=capi_version)
    except CapiError as err:
        raise click.ClickException(str(err)) from None
    dest = save_credentials(path or credentials_path(settings.state_dir),
                            Credentials(url=url, login=machine_id, password=password))
    click.echo(f"Successfully registered to Central API (CAPI) as {machine_id}\nCentral API credentials written to "
               f"'{dest}'\nRestart synsec run to share signals and pull the community blocklist.")


@capi.command("status")
@capi_version_option
@output_option
@click.pass_obj
def status(settings, capi_version, output) -> None:
    """Log in to the Central API with the stored credentials; show the push queue and the blocklist pulled."""
    from connectors.crowd.client import CapiClient, CapiError
    from connectors.crowd.credentials import credentials_path, load_credentials
    from connectors.crowd.queue import QUEUE_FILE, SignalQueue
    from synsec.engine.errors import LoadError
    from synsec.store import Store

    path = credentials_path(settings.state_dir)
    try:
        creds = load_credentials(path)
    except LoadError as err:
        raise click.ClickException(str(err)) from None
    if creds is None:
        raise click.ClickException(f"no Central API credentials in {path}: run `ccscli capi register --url URL`")
    error = ""
    try:
        CapiClient(creds, version=capi_version).login()
    except CapiError as err:
        error = str(err)
    counters, state, pending = {}, {}, 0
    if (settings.state_dir / QUEUE_FILE).exists():
        queue = SignalQueue(settings.state_dir)
        counters, state, pending = queue.counters(), queue.status(), queue.pending()
        queue.close()
    store = Store(settings.state_dir)
    capi_decisions = len(store.decisions(origin="CAPI"))
    store.close()
    report = {"url": creds.url, "login": creds.login, "reachable": not error, "error": error,
              "signals_pending": pending, "capi_decisions_active": capi_decisions, "counters": counters,
              "status": state}
    if output == "json":
        emit_json(report)
    else:
        click.echo(f"Loaded credentials from {path}\nTrying to authenticate with username {creds.login} on "
                   f"{creds.url}")
        click.echo(f"You can successfully interact with Central API (CAPI)" if not error else
                   f"Failed to authenticate to Central API (CAPI): {error}")
        table("crowd", ["what", "value"],
              [["signals pending", pending], ["signals sent", counters.get("signals_sent", 0)],
               ["last push", utc_text(state.get("last_push"))], ["last pull", utc_text(state.get("last_pull"))],
               ["CAPI decisions active", capi_decisions]]
              + [[k, v] for k, v in sorted(counters.items()) if k != "signals_sent"])
    if error:
        raise SystemExit(1)


COMMANDS = (capi,)
