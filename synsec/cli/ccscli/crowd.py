"""`ccscli crowd explain IP` / `ccscli crowd status`: ask `synsec central` why an address is or is not on the
community blocklist, and how the crowd is doing. Logs in as a watcher: `--credentials` (CrowdSec's
`online_api_credentials.yaml`: url, login, password) or `--url`/`--machine-id`/`--password`
($SYNSEC_CENTRAL_URL, $SYNSEC_CENTRAL_MACHINE_ID, $SYNSEC_CENTRAL_PASSWORD)."""

from __future__ import annotations

from datetime import datetime, timezone

import click

from synsec.cli.output import emit_json, output_option, table

__all__ = ["COMMANDS"]


def _when(ts) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if ts else "-"


@click.group()
@click.option("--credentials", type=click.Path(dir_okay=False), help="A CrowdSec online_api_credentials.yaml.")
@click.option("--url", envvar="SYNSEC_CENTRAL_URL", help="Central's URL ($SYNSEC_CENTRAL_URL).")
@click.option("--machine-id", envvar="SYNSEC_CENTRAL_MACHINE_ID", help="A registered watcher's machine id.")
@click.option("--password", envvar="SYNSEC_CENTRAL_PASSWORD", help="Its password ($SYNSEC_CENTRAL_PASSWORD).")
@click.pass_context
def crowd(ctx: click.Context, credentials: str | None, url: str | None, machine_id: str | None,
          password: str | None) -> None:
    """The community blocklist as central curates it (docs/crowd.md)."""
    from connectors.api.client import ApiError
    from connectors.central.client import CentralClient, read_credentials

    try:
        if credentials:
            url, machine_id, password = read_credentials(credentials)
        if not (url and machine_id and password):
            raise click.UsageError("give --credentials FILE, or --url, --machine-id and --password")
        ctx.obj = CentralClient(url, machine_id, password)
    except ApiError as err:
        raise click.UsageError(str(err)) from None


def _call(fn, *args):
    from connectors.api.client import ApiError

    try:
        return fn(*args)
    except ApiError as err:
        raise click.ClickException(str(err)) from None


@crowd.command()
@click.argument("ip")
@output_option
@click.pass_obj
def explain(client, ip: str, output: str) -> None:
    """Why IP is or is not listed: the rule that decided, its reporters (pseudonymous) and their trust."""
    got = _call(client.explain, ip)
    if output != "human":
        emit_json(got)
        return
    state = f"listed until {_when(got['until'])} ({got['scenario']})" if got["listed"] else "not listed"
    click.echo(f"{got['value']}: {state}\nrule: {got['rule']}")
    table("Reporters (window)", ["reporter", "cohort", "trust", "scenario", "behaviour", "first", "last",
                                 "corroborated", "counted"],
          [[r["reporter"], r["cohort"], r["trust"], r["scenario"], r["behaviour"], _when(r["first_seen"]),
            _when(r["last_seen"]), r["corroborated"], r["counted"]] for r in got["reporters"]])
    table("Timeline (latest signals)", ["received", "reporter", "scenario", "hub scenario"],
          [[_when(t["received_at"]), t["reporter"], t["scenario"], t["hub_scenario"]] for t in got["timeline"]])


@crowd.command()
@output_option
@click.pass_obj
def status(client, output: str) -> None:
    """Reporters, signals/s, list size."""
    got = _call(client.status)
    if output != "human":
        emit_json(got)
        return
    not_counted = got.pop("signals_not_counted", {})
    table("Crowd", ["", "value"], [[k.replace("_", " "), v] for k, v in got.items()])
    if not_counted:
        table("Signals not counted", ["why", "signals"], [[k, v] for k, v in not_counted.items()])


COMMANDS = [crowd]
