"""`ccscli alerts list|inspect` on the embedded store."""

from __future__ import annotations

import click

from synsec.cli.output import emit_json, output_option, table

__all__ = ["COMMANDS"]


@click.group()
def alerts() -> None:
    """Inspect alerts."""


@alerts.command("list")
@click.option("--scenario")
@click.option("--ip", "value")
@click.option("--limit", type=int, default=50, show_default=True)
@output_option
@click.pass_obj
def list_(settings, scenario, value, limit, output) -> None:
    """List alerts, newest first."""
    from synsec.store import Store

    store = Store(settings.state_dir)
    rows = store.alerts(scenario=scenario, value=value, limit=limit)
    store.close()
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
    from synsec.store import Store

    store = Store(settings.state_dir)
    row = store.alert(alert_id)
    store.close()
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


COMMANDS = [alerts]
