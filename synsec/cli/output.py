"""Shared `-o human|json|raw` rendering for both CLIs."""

from __future__ import annotations

import json
import sys

import click

__all__ = ["output_option", "emit_json", "table", "utc_text", "report_deleted"]

output_option = click.option("-o", "--output", "output", type=click.Choice(["human", "json", "raw"]),
                             default="human", show_default=True, help="Output format.")


def warn_content(content, delivers: bool = False) -> None:
    """The content's start-up warnings (`Content.warnings`), once each on stderr."""
    for line in content.warnings(delivers):
        click.echo(f"warning: {line}", err=True)


def utc_text(ts: float | None) -> str:
    """An epoch time as RFC 3339 UTC to the second, `-` when unset."""
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if ts else "-"


def report_deleted(noun: str, names, delete) -> None:
    """Delete each of `names` with `delete(name) -> bool`, say which went, and fail naming the missing ones."""
    missing = [n for n in names if not delete(n)]
    for n in names:
        if n not in missing:
            click.echo(f"{noun} '{n}' deleted")
    if missing:
        raise click.ClickException(f"no {noun} named {', '.join(repr(n) for n in missing)}")


def emit_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=False, default=str))


def table(title: str, columns: list[str], rows: list[list]) -> None:
    """A table on a terminal (rich), tab-separated text otherwise."""
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        t = Table(title=title)
        for c in columns:
            t.add_column(c)
        for r in rows:
            t.add_row(*[str(x) for x in r])
        Console().print(t)
        return
    click.echo(f"# {title}")
    click.echo("\t".join(columns))
    for r in rows:
        click.echo("\t".join(str(x) for x in r))
