"""`ccscli bouncers add|list|delete`: API keys for bouncers, in the embedded store (as cscli does on the
LAPI database). Only a salted hash of a key is stored: `add` shows it once."""

from __future__ import annotations

import json

import click

from synsec.cli.output import emit_json, output_option, report_deleted, table, utc_text

__all__ = ["COMMANDS"]


@click.group()
def bouncers() -> None:
    """Manage bouncers and their API keys."""


@bouncers.command("add")
@click.argument("name")
@click.option("-k", "--key", help="Use this key instead of a random one (32-256 characters of A-Z a-z 0-9 . _ ~ + / = -).")
@click.option("--role", type=click.Choice(["bouncer", "machine"]), default="bouncer", show_default=True,
              help="`machine` keys also add/delete decisions and read alerts over the API (for ccscli).")
@output_option
@click.pass_obj
def add(settings, name, key, role, output) -> None:
    """Register bouncer NAME and print its API key (`-o raw`: only the key)."""
    from synsec.store import Store

    store = Store(settings.state_dir)
    try:
        key = store.add_bouncer(name, role=role, key=key)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    finally:
        store.close()
    if output == "raw":
        click.echo(key)
    elif output == "json":
        click.echo(json.dumps(key))
    else:
        click.echo(f"API key for '{name}':\n\n   {key}\n\nPlease keep this key since you will not be able "
                   "to retrieve it!")


@bouncers.command("list")
@output_option
@click.pass_obj
def list_(settings, output) -> None:
    """List bouncers, with their last pull."""
    from synsec.store import Store

    store = Store(settings.state_dir)
    rows = store.bouncers()
    store.close()
    if output in ("json", "raw"):
        emit_json([r.to_dict() for r in rows])
        return
    table(f"{len(rows)} bouncer(s)", ["name", "role", "ip address", "last pull", "user agent", "created"],
          [[r.name, r.role, r.ip_address or "-", utc_text(r.last_pull), r.user_agent or "-",
            utc_text(r.created_at)]
           for r in rows])


@bouncers.command("delete")
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def delete(settings, names) -> None:
    """Delete bouncers NAMES (their keys stop working)."""
    from synsec.store import Store

    store = Store(settings.state_dir)
    try:
        report_deleted("bouncer", names, store.delete_bouncer)
    finally:
        store.close()


COMMANDS = [bouncers]
