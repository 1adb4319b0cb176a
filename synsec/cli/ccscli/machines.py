"""`ccscli machines add|list|inspect|delete|validate|prune`: the log processors (CrowdSec agents) that log in to
`synsec api` with a password, in the embedded store (as cscli does on the LAPI database). Passwords are kept
as salted scrypt hashes; `add --auto` makes a random one and `-f FILE` writes the agent's
`local_api_credentials.yaml` (url, login, password)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import click
import yaml

from synsec.cli.output import emit_json, output_option, report_deleted, table, utc_text

__all__ = ["COMMANDS"]


def _store(settings):
    from synsec.store import Store

    return Store(settings.state_dir)


@click.group()
def machines() -> None:
    """Manage machines (CrowdSec agents reporting to synsec api)."""


@machines.command("add")
@click.argument("name")
@click.option("-p", "--password", help="The machine's password (1-256 characters).")
@click.option("-a", "--auto", is_flag=True, help="Generate a random password.")
@click.option("-f", "--file", "path", type=click.Path(dir_okay=False),
              help="Write the agent's credentials (url, login, password) to this YAML file ('-': standard output).")
@click.option("-u", "--url", default="http://127.0.0.1:8080/", show_default=True,
              help="The API URL written in the credentials file.")
@click.option("--force", is_flag=True, help="Replace the password of an existing machine.")
@click.pass_obj
def add(settings, name, password, auto, path, url, force) -> None:
    """Add machine NAME (validated: it can log in at once)."""
    from synsec.store.passwords import new_password

    if bool(password) == bool(auto):
        raise click.UsageError("give exactly one of --password and --auto")
    password = new_password() if auto else password
    store = _store(settings)
    try:
        store.add_machine(name, password, force=force)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    finally:
        store.close()
    creds = yaml.safe_dump({"url": url, "login": name, "password": password}, sort_keys=False)
    if path == "-":
        click.echo(creds, nl=False)
    elif path:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)   # holds a password: private
        os.fchmod(fd, 0o600)                                                # (an existing file too)
        with os.fdopen(fd, "w") as f:
            f.write(creds)
        click.echo(f"machine '{name}' added; credentials written to {Path(path)}", err=True)
    else:
        click.echo(f"machine '{name}' added", err=True)
        if auto:
            click.echo(f"password: {password}", err=True)


@machines.command("list")
@output_option
@click.pass_obj
def list_(settings, output) -> None:
    """List machines, with their last login, push and heartbeat."""
    store = _store(settings)
    rows = store.machines()
    store.close()
    if output in ("json", "raw"):
        emit_json([r.to_dict() for r in rows])
        return
    table(f"{len(rows)} machine(s)", ["name", "validated", "ip address", "last login", "last push", "last heartbeat",
                                      "user agent"],
          [[r.machine_id, "yes" if r.is_validated else "no", r.ip_address or "-", utc_text(r.last_login),
            utc_text(r.last_push), utc_text(r.last_heartbeat), r.user_agent or "-"] for r in rows])


@machines.command("inspect")
@click.argument("name")
@output_option
@click.pass_obj
def inspect(settings, name, output) -> None:
    """Show machine NAME, with the scenarios it sent at its last login."""
    store = _store(settings)
    rec = store.machine(name)
    store.close()
    if rec is None:
        raise click.ClickException(f"no machine named {name!r}")
    if output in ("json", "raw"):
        emit_json(rec.to_dict())
        return
    for key, value in rec.to_dict().items():
        if key == "scenarios":
            value = ", ".join(value.split(",")) if value else "-"
        elif key.startswith(("last_", "created", "updated")):
            value = utc_text(value)
        click.echo(f"{key:<16} {value if value not in (None, '') else '-'}")


@machines.command("delete")
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def delete(settings, names) -> None:
    """Delete machines NAMES (their tokens stop working at once)."""
    store = _store(settings)
    try:
        report_deleted("machine", names, store.delete_machine)
    finally:
        store.close()


@machines.command("validate")
@click.argument("name")
@click.pass_obj
def validate(settings, name) -> None:
    """Validate machine NAME (one that registered itself with POST /v1/watchers), so it can log in."""
    store = _store(settings)
    ok = store.validate_machine(name)
    store.close()
    if not ok:
        raise click.ClickException(f"no machine named {name!r}")
    click.echo(f"machine '{name}' validated")


@machines.command("prune")
@click.option("-d", "--duration", default="10m", show_default=True,
              help="Remove machines not seen (heartbeat, push or login; else creation) for this long.")
@click.option("--not-validated-only", is_flag=True, help="Remove only machines never validated.")
@click.option("--dry-run", is_flag=True, help="Say which machines would go; remove nothing.")
@click.pass_obj
def prune(settings, duration, not_validated_only, dry_run) -> None:
    """Remove machines that have not been seen for --duration."""
    from synsec.engine.durations import DurationError, parse_duration

    try:
        cutoff = time.time() - parse_duration(duration)
    except DurationError as err:
        raise click.BadParameter(str(err), param_hint="--duration") from None
    store = _store(settings)
    try:
        stale = [r for r in store.machines() if r.last_seen() < cutoff
                 and not (not_validated_only and r.is_validated)]
        for r in stale:
            if not dry_run:
                store.delete_machine(r.machine_id)
            click.echo(f"{'would remove' if dry_run else 'removed'} machine '{r.machine_id}' "
                       f"(last seen {utc_text(r.last_seen())})")
    finally:
        store.close()
    if not stale:
        click.echo("no machine to prune")


COMMANDS = [machines]
