"""`ccscli alerts list|inspect|delete`: on the embedded store, or over synsec's API when an API URL and
key are given (`--api-url`/`--api-key` or $SYNSEC_API_URL/$SYNSEC_API_KEY; a machine key). Both give the
same rows (the API serves the store's alerts), so the output is the same."""

from __future__ import annotations

import click

from synsec.cli.ccscli.remote import api_call, api_client, api_options
from synsec.cli.output import emit_json, output_option, table

__all__ = ["COMMANDS"]


@click.group()
@api_options
def alerts() -> None:
    """Inspect and delete alerts."""


def _on_store(settings, fn):
    from synsec.store import Store

    store = Store(settings.state_dir)
    try:
        return fn(store)
    finally:
        store.close()


@alerts.command("list")
@click.option("--scenario", help="Only alerts of this scenario.")
@click.option("--ip", "value", help="Only alerts whose source is this value.")
@click.option("--limit", type=click.IntRange(0), default=50, show_default=True, help="At most this many (0: all).")
@output_option
@click.pass_obj
def list_(settings, scenario, value, limit, output) -> None:
    """List alerts, newest first."""
    client = api_client(settings)
    if client is not None:
        rows = api_call(client.request, "GET", "/v1/alerts",
                        {"scenario": scenario, "ip": value, "limit": str(limit)}) or []
    else:
        rows = _on_store(settings, lambda s: s.alerts(scenario=scenario, value=value, limit=limit))
    if output == "json":
        emit_json(rows)
        return
    table(f"{len(rows)} alert(s)", ["id", "scope:value", "country", "as", "reason", "events", "created"],
          [[r["id"], f"{r['source']['scope']}:{r['source']['value']}", r["source"]["country"],
            r["source"]["as_number"], r["scenario"], r["events_count"], r["stop_at"]] for r in rows])


@alerts.command("inspect")
@click.argument("alert_id")
@output_option
@click.pass_obj
def inspect(settings, alert_id, output) -> None:
    """Show one alert with its events."""
    from connectors.api.client import ApiError

    client = api_client(settings)
    if client is not None:
        try:
            row = client.request("GET", f"/v1/alerts/{_path_id(alert_id)}")
        except ApiError as err:
            if err.status != 404:
                raise click.ClickException(str(err)) from None
            row = None
    else:
        row = _on_store(settings, lambda s: s.alert(alert_id))
    if row is None:
        raise click.ClickException(f"no alert with id {alert_id!r}")
    if output == "json":
        emit_json(row)
        return
    for key in ("id", "scenario", "message", "events_count", "start_at", "stop_at", "remediation", "simulated"):
        click.echo(f"{key:>14}: {row.get(key)}")
    click.echo(f"{'source':>14}: {row['source']}")
    for i, ev in enumerate(row["events"]):
        click.echo(f"  event {i} at {ev['timestamp']}: " + ", ".join(f"{k}={v}" for k, v in sorted(ev['meta'].items())))


def _path_id(alert_id: str) -> str:
    import urllib.parse

    return urllib.parse.quote(alert_id, safe="")


@alerts.command("flush")
@click.option("--max-items", type=click.IntRange(0), default=5000, show_default=True,
              help="Keep at most this many alerts (the newest); 0: no limit.")
@click.option("--max-age", default="7d", show_default=True, help="Delete alerts stored longer ago (7d, 12h).")
@click.pass_obj
def flush(settings, max_items, max_age) -> None:
    """Delete old alerts from the embedded store, as CrowdSec's flush (their decisions stay)."""
    import time

    from synsec.engine.durations import DurationError, parse_duration_with_days

    try:
        age = parse_duration_with_days(max_age)
    except DurationError as err:
        raise click.BadParameter(str(err), param_hint="--max-age") from None
    n = _on_store(settings, lambda s: s.flush_alerts(max_items=max_items, max_age=age, now=time.time()))
    click.echo(f"{n} alert(s) flushed")


@alerts.command("delete")
@click.option("--id", "alert_id", help="Delete this alert.")
@click.option("-s", "--scenario", help="Delete the alerts of this scenario.")
@click.option("--ip", "value", help="Delete the alerts whose source is this value.")
@click.option("--all", "everything", is_flag=True, help="Delete every alert (embedded store only).")
@click.pass_obj
def delete(settings, alert_id, scenario, value, everything) -> None:
    """Delete alerts (their decisions stay: remove those with `ccscli decisions delete`)."""
    if not (alert_id or scenario or value or everything):
        raise click.UsageError("give --id, --scenario, --ip or --all")
    if alert_id and (scenario or value or everything):
        raise click.UsageError("--id deletes one alert: give it alone")
    client = api_client(settings)
    if client is not None:
        if everything:
            raise click.UsageError("--all works on the embedded store only")
        if alert_id:
            n = int(_delete_one(client, alert_id))
        else:
            n = int(api_call(client.request, "DELETE", "/v1/alerts", {"scenario": scenario, "ip": value})["nbDeleted"])
    else:
        n = _on_store(settings, lambda s: s.delete_alerts(alert_id=alert_id, scenario=scenario, value=value,
                                                          everything=everything))
    if alert_id and not n:
        raise click.ClickException(f"no alert with id {alert_id!r}")
    click.echo(f"{n} alert(s) deleted")


def _delete_one(client, alert_id: str) -> str:
    from connectors.api.client import ApiError

    try:
        return client.request("DELETE", f"/v1/alerts/{_path_id(alert_id)}")["nbDeleted"]
    except ApiError as err:
        if err.status == 404:
            return "0"
        raise click.ClickException(str(err)) from None


COMMANDS = [alerts]
