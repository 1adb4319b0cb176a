"""`ccscli decisions list|delete` on the embedded store (the API-backed variant comes with `synsec api`)."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import click

from synsec.cli.output import emit_json, output_option, table

__all__ = ["COMMANDS"]


def _fmt(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@click.group()
def decisions() -> None:
    """Manage decisions."""


@decisions.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include expired and deleted decisions.")
@click.option("--ip", "value", help="Only decisions for this value.")
@click.option("--scenario")
@click.option("--origin")
@click.option("--limit", type=int, default=0)
@output_option
@click.pass_obj
def list_(settings, show_all, value, scenario, origin, limit, output) -> None:
    """List active decisions."""
    from synsec.store import Store

    store = Store(settings.state_dir)
    rows = store.decisions(active_only=not show_all, value=value, scenario=scenario, origin=origin, limit=limit)
    store.close()
    if output == "json":
        emit_json(rows)
        return
    now = time.time()
    table(f"{len(rows)} decision(s)", ["id", "source", "scope:value", "reason", "action", "expiration",
                                       "alert id"],
          [[r["id"], r["origin"], f"{r['scope']}:{r['value']}", r["scenario"], r["type"],
            f"{max(0, int(r['until'] - now))}s" if r["deleted_at"] is None else "deleted", r["alert_id"]]
           for r in rows])


@decisions.command("delete")
@click.option("--ip", "value", help="Delete every decision on this value.")
@click.option("--id", "decision_id", help="Delete one decision by id.")
@click.pass_obj
def delete(settings, value, decision_id) -> None:
    """Delete decisions (they stay in the store, marked deleted)."""
    from synsec.store import Store

    if not value and not decision_id:
        raise click.UsageError("give --ip or --id")
    store = Store(settings.state_dir)
    n = store.delete_decisions(value=value, decision_id=decision_id)
    store.close()
    click.echo(f"{n} decision(s) deleted")


COMMANDS = [decisions]
