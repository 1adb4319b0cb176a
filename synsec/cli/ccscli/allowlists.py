"""`ccscli allowlists create|add|remove|inspect|list|check|delete`: CrowdSec 1.7's allowlists, in the embedded store
(as cscli does on the LAPI database). An allowlisted source gets no decision from an alert, a manual
`decisions add` on it is refused without `--bypass-allowlist`, and the community blocklist skips it
(docs/policy.md)."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager

import click

from synsec.cli.output import emit_json, output_option, table, utc_text

__all__ = ["COMMANDS", "MAX_FILE_ITEMS"]

MAX_FILE_ITEMS = 100_000       # values read from `add -f FILE`


@contextmanager
def _store(settings):
    from synsec.store import Store
    from synsec.store.allowlists import AllowlistError

    store = Store(settings.state_dir)
    try:
        yield store
    except AllowlistError as err:
        raise click.ClickException(str(err)) from None
    finally:
        store.close()


@click.group()
def allowlists() -> None:
    """Manage allowlists (IPs and ranges that never get a decision)."""


@allowlists.command("create")
@click.argument("name")
@click.option("-d", "--description", default="", help="What the list is for.")
@click.pass_obj
def create(settings, name, description) -> None:
    """Create an empty allowlist."""
    with _store(settings) as store:
        store.create_allowlist(name, description, time.time())
    click.echo(f"allowlist {name} created")


@allowlists.command("add")
@click.argument("name")
@click.argument("values", nargs=-1)
@click.option("-f", "--file", "path", type=click.File("r"), help="Read values from a file, one per line ('-': stdin).")
@click.option("-e", "--expiration", help="Items expire after this duration (Go duration, days allowed: 7d, 12h).")
@click.option("-d", "--comment", default="", help="A comment kept with each item.")
@click.pass_obj
def add(settings, name, values, path, expiration, comment) -> None:
    """Add IPs or ranges (CIDR) to an allowlist; nothing is added unless every value is valid."""
    from synsec.engine.durations import DurationError, parse_duration_with_days

    values = list(values)
    if path is not None:
        for n, line in enumerate(path, 1):
            if n > MAX_FILE_ITEMS:
                raise click.ClickException(f"{path.name}: more than {MAX_FILE_ITEMS} lines")
            if line.strip() and not line.lstrip().startswith("#"):
                values.append(line.strip())
    if not values:
        raise click.UsageError("give at least one IP or range (arguments or -f FILE)")
    now = time.time()
    expires = None
    if expiration:
        try:
            expires = now + parse_duration_with_days(expiration)
        except DurationError as err:
            raise click.BadParameter(str(err), param_hint="--expiration") from None
    with _store(settings) as store:
        n = store.add_allowlist_items(name, values, now, expires_at=expires, comment=comment)
        gone = store.apply_allowlists_to_decisions(now)
    click.echo(f"added {n} item(s) to allowlist {name}"
               + (f"; {gone} active decision(s) on allowlisted values removed" if gone else ""))


@allowlists.command("remove")
@click.argument("name")
@click.argument("values", nargs=-1, required=True)
@click.pass_obj
def remove(settings, name, values) -> None:
    """Remove items from an allowlist."""
    with _store(settings) as store:
        n = store.remove_allowlist_items(name, list(values), time.time())
    click.echo(f"removed {n} item(s) from allowlist {name}")


@allowlists.command("delete")
@click.argument("name")
@click.pass_obj
def delete(settings, name) -> None:
    """Delete an allowlist and its items."""
    with _store(settings) as store:
        store.delete_allowlist(name)
    click.echo(f"allowlist {name} deleted")


@allowlists.command("list")
@output_option
@click.pass_obj
def list_(settings, output) -> None:
    """List the allowlists with their number of live items."""
    with _store(settings) as store:
        rows = store.allowlists(time.time())
    if output == "json":
        emit_json(rows)
        return
    table(f"{len(rows)} allowlist(s)", ["name", "description", "items", "created", "updated"],
          [[r["name"], r["description"], r["size"], utc_text(r["created_at"]), utc_text(r["updated_at"])]
           for r in rows])


@allowlists.command("inspect")
@click.argument("name")
@output_option
@click.pass_obj
def inspect(settings, name, output) -> None:
    """Show an allowlist and its live items."""
    with _store(settings) as store:
        row = store.allowlist(name, time.time())
    if row is None:
        raise click.ClickException(f"allowlist {name!r} not found")
    if output == "json":
        emit_json(row)
        return
    click.echo(f"{row['name']}: {row['description']} ({row['size']} item(s))")
    table("items", ["value", "comment", "expiration", "created"],
          [[i["value"], i["description"], utc_text(i["expiration"]) if i["expiration"] else "never",
            utc_text(i["created_at"])] for i in row["items"]])


@allowlists.command("check")
@click.argument("values", nargs=-1, required=True)
@output_option
@click.pass_obj
def check(settings, values, output) -> None:
    """Tell whether each IP or range is allowlisted, and by what (exit 1 when none is)."""
    with _store(settings) as store:
        found = {v: store.allowlisted_by(v, time.time()) for v in values}
    if output == "json":
        emit_json([{"value": v, "allowlisted": bool(r), "reasons": r} for v, r in found.items()])
    else:
        for v, reasons in found.items():
            click.echo(f"{v}: allowlisted by {', '.join(reasons)}" if reasons else f"{v}: not allowlisted")
    if not any(found.values()):
        sys.exit(1)


COMMANDS = [allowlists]
