"""`ccscli crowd explain IP` / `ccscli crowd status`: ask `synsec central` why an address is or is not on the
community blocklist, and how the crowd is doing. Logs in as a watcher (connectors.crowd's CAPI client):
`--credentials` (CrowdSec's `online_api_credentials.yaml`: url, login, password; default: the state dir's, as
`ccscli capi register` writes it) or `--url`/`--machine-id`/`--password` ($SYNSEC_CENTRAL_URL,
$SYNSEC_CENTRAL_MACHINE_ID, $SYNSEC_CENTRAL_PASSWORD)."""

from __future__ import annotations


import click

from synsec.cli.crowd import capi_version_option
from synsec.cli.output import emit_json, output_option, table, utc_text

__all__ = ["COMMANDS"]


@click.group()
@click.option("--credentials", type=click.Path(dir_okay=False),
              help="A CrowdSec online_api_credentials.yaml (default: the one `ccscli capi register` wrote in the "
                   "state dir, unless --url is given).")
@click.option("--url", envvar="SYNSEC_CENTRAL_URL", help="Central's URL ($SYNSEC_CENTRAL_URL).")
@click.option("--machine-id", envvar="SYNSEC_CENTRAL_MACHINE_ID", help="A registered watcher's machine id.")
@click.option("--password", envvar="SYNSEC_CENTRAL_PASSWORD", help="Its password ($SYNSEC_CENTRAL_PASSWORD).")
@capi_version_option
@click.pass_context
def crowd(ctx: click.Context, credentials: str | None, url: str | None, machine_id: str | None,
          password: str | None, capi_version: str) -> None:
    """The community blocklist as synsec central curates it (docs/crowd.md)."""
    from connectors.crowd.client import CapiClient
    from connectors.crowd.credentials import Credentials, check_url, credentials_path, load_credentials
    from synsec.engine.errors import LoadError

    try:
        if url and not credentials:
            if not (machine_id and password):
                raise click.UsageError("--url needs --machine-id and --password")
            creds = Credentials(check_url(url), machine_id, password)
        else:
            path = credentials or credentials_path(ctx.obj.state_dir)
            creds = load_credentials(path)
            if creds is None:
                raise click.UsageError(f"no credentials at {path}: give --credentials FILE, or --url, "
                                       "--machine-id and --password")
    except (LoadError, ValueError) as err:
        raise click.UsageError(str(err)) from None
    ctx.obj = CapiClient(creds, version=capi_version)


def _call(fn, *args):
    from connectors.crowd.client import CapiError

    try:
        return fn(*args)
    except CapiError as err:
        raise click.ClickException(str(err)) from None


@crowd.command()
@click.argument("ip")
@output_option
@click.pass_obj
def explain(client, ip: str, output: str) -> None:
    """Why IP is or is not listed: the rule that decided, its reporters (pseudonymous) and their trust."""
    got = _call(client.crowd_explain, ip)
    if output != "human":
        emit_json(got)
        return
    state = f"listed until {utc_text(got['until'])} ({got['scenario']})" if got["listed"] else "not listed"
    click.echo(f"{got['value']}: {state}\nrule: {got['rule']}")
    table("Reporters (window)", ["reporter", "cohort", "trust", "scenario", "behaviour", "first", "last",
                                 "corroborated", "counted"],
          [[r["reporter"], r["cohort"], r["trust"], r["scenario"], r["behaviour"], utc_text(r["first_seen"]),
            utc_text(r["last_seen"]), r["corroborated"], r["counted"]] for r in got["reporters"]])
    table("Timeline (latest signals)", ["received", "reporter", "scenario", "hub scenario"],
          [[utc_text(t["received_at"]), t["reporter"], t["scenario"], t["hub_scenario"]] for t in got["timeline"]])
    table("Listings", ["listed", "until", "removed", "scenario"],
          [[utc_text(x["listed_at"]), utc_text(x["until"]), utc_text(x["removed_at"]), x["scenario"]]
           for x in got.get("listings", [])])


@crowd.command()
@output_option
@click.pass_obj
def status(client, output: str) -> None:
    """Reporters, signals/s, list size."""
    got = _call(client.crowd_status)
    if output != "human":
        emit_json(got)
        return
    not_counted = got.pop("signals_not_counted", {})
    table("Crowd", ["", "value"], [[k.replace("_", " "), v] for k, v in got.items()])
    if not_counted:
        table("Signals not counted", ["why", "signals"], [[k, v] for k, v in not_counted.items()])


COMMANDS = [crowd]
