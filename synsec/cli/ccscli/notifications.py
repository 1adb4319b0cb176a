"""`ccscli notifications list|inspect|test`: the notifications of the content directory (notifications/*.yaml)
with what the store's outbox holds for each; `test` renders and sends a sample alert now."""

from __future__ import annotations

import time

import click

from synsec.cli.output import emit_json, output_option, table

__all__ = ["COMMANDS"]


def _specs(settings) -> dict:
    from synsec.cli.engine_options import content_dir
    from synsec.content.loader import load_notification_dir
    from synsec.engine.errors import LoadError, LoadErrors

    try:
        return load_notification_dir(content_dir(settings.config_dir))
    except (LoadErrors, LoadError) as err:
        raise click.ClickException(str(err)) from None


def _counts(settings) -> dict:
    """{name: {queued, sent, failed}} from the store, {} when there is none yet."""
    if not (settings.state_dir / "synsec.db").exists():
        return {}
    from synsec.store import Store

    store = Store(settings.state_dir)
    try:
        return store.notification_counts()
    finally:
        store.close()


def _one(settings, name: str):
    specs = _specs(settings)
    if name not in specs:
        raise click.ClickException(f"no notification named {name!r} (configured: {', '.join(sorted(specs)) or 'none'})")
    return specs[name]


@click.group()
def notifications() -> None:
    """Notifications (http, slack, email, file) that profiles send alerts to."""


@notifications.command("list")
@output_option
@click.pass_obj
def list_(settings, output) -> None:
    """The configured notifications with their queued, sent and failed alerts."""
    specs, counts = _specs(settings), _counts(settings)
    rows = [{"name": s.name, "type": s.type, "file": f"{s.path}:{s.line}",
             **counts.get(s.name, {"queued": 0, "sent": 0, "failed": 0})} for s in specs.values()]
    if output == "json":
        emit_json(rows)
        return
    table(f"{len(rows)} notification(s)", ["name", "type", "queued", "sent", "failed", "file"],
          [[r["name"], r["type"], r["queued"], r["sent"], r["failed"], r["file"]] for r in rows])


@notifications.command()
@click.argument("name")
@output_option
@click.pass_obj
def inspect(settings, name, output) -> None:
    """One notification's settings (secrets masked) and its latest delivery errors."""
    spec = _one(settings, name)
    out = {**spec.redacted(), **_counts(settings).get(name, {"queued": 0, "sent": 0, "failed": 0})}
    if (settings.state_dir / "synsec.db").exists():
        from synsec.store import Store

        store = Store(settings.state_dir)
        out["errors"] = [{"alert": a, "attempts": n, "error": e} for a, n, e in store.notification_errors(name)]
        store.close()
    if output == "json":
        emit_json(out)
        return
    for key, value in out.items():
        if key == "format":
            click.echo("format: |\n" + "\n".join("  " + line for line in str(value).splitlines()))
        else:
            click.echo(f"{key}: {value}")


@notifications.command()
@click.argument("name")
@click.pass_obj
def test(settings, name) -> None:
    """Render a sample alert with NAME's format and send it now (nothing is queued)."""
    from connectors.notify.dispatch import render_alerts, sample_alerts
    from connectors.notify.senders import DeliveryError, send
    from synsec.engine.notify_template import TemplateError

    spec = _one(settings, name)
    try:
        text = render_alerts(spec, sample_alerts(time.time()))
        send(spec, text, f"test-{int(time.time())}")
    except TemplateError as err:
        raise click.ClickException(f"{spec.path}: format: {err}") from None
    except DeliveryError as err:
        raise click.ClickException(f"{name}: {err}") from None
    click.echo(f"{name}: sent a test alert ({len(text)} characters) via {spec.type}")


COMMANDS = [notifications]
