"""`ccscli dashboard`: the URL of the dashboard `synsec api` serves at /ui/ (docs/dashboard.md), with a fresh
machine key for it in the URL's fragment (a browser never sends the fragment to a server)."""

from __future__ import annotations

import click

from synsec.cli.output import emit_json, output_option

__all__ = ["COMMANDS"]


@click.command()
@click.option("--url", default="http://127.0.0.1:8080", show_default=True,
              help="Where `synsec api` listens (its --listen).")
@click.option("--name", default="dashboard", show_default=True,
              help="The machine key's name in `ccscli bouncers list`; a key of that name is replaced.")
@click.option("--open", "open_", is_flag=True, help="Open the URL in a browser on this machine.")
@output_option
@click.pass_obj
def dashboard(settings, url, name, open_, output) -> None:
    """Create a machine key for the dashboard and print the dashboard's URL that logs in with it."""
    from synsec.store import Store

    if not url.startswith(("http://", "https://")):
        raise click.BadParameter(f"{url!r}: expected http://HOST:PORT or https://HOST:PORT", param_hint="--url")
    store = Store(settings.state_dir)
    try:
        store.delete_bouncer(name)
        key = store.add_bouncer(name, role="machine")
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    finally:
        store.close()
    link = f"{url.rstrip('/')}/ui/#key={key}"
    if output in ("json", "raw"):
        emit_json({"url": link, "key": key, "name": name}) if output == "json" else click.echo(link)
    else:
        click.echo(f"Dashboard (machine key '{name}', valid until `ccscli bouncers delete {name}`):\n\n   {link}\n")
    if open_:
        import webbrowser

        if not webbrowser.open(link):
            click.echo("no browser found here: open the URL above", err=True)


COMMANDS = [dashboard]
