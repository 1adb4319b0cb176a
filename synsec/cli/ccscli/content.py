"""`ccscli scenarios|parsers list|inspect` and `ccscli lint`: the content as synsec loads it, each file with its
hub status when the content directory has a hub index (`local`: a file no hub item installed)."""

from __future__ import annotations

from pathlib import Path

import click

from synsec.cli.output import emit_json, output_option, table

__all__ = ["COMMANDS", "load_for_cli"]


def load_for_cli(settings, data_dirs=(), collect: bool = False):
    from synsec.cli.engine_options import content_dir
    from synsec.content.loader import load_content
    from synsec.engine.errors import ErrorCollector, LoadError, LoadErrors

    errors = ErrorCollector() if collect else None
    try:
        content = load_content(content_dir(settings.config_dir), data_dirs=list(data_dirs),
                               errors=errors)
    except (LoadErrors, LoadError) as err:
        raise click.ClickException(str(err)) from None
    return (content, errors) if collect else content


def _hub_status(content) -> dict:
    """{resolved file path: (status, version)} of the hub items enabled in the content dir ({} without an index)."""
    from synsec.hub.index import HubError
    from synsec.hub.install import load_index, states

    root = Path(content.config_dir)
    try:
        index = load_index(root)
    except (HubError, OSError):
        return {}
    return {(root / s.item.install_path).resolve(): (s.status, s.version)
            for s in states(root, index).values() if s.installed}


def _with_status(rows: list[dict], hub: dict) -> list[dict]:
    for r in rows:
        r["status"], r["version"] = hub.get(Path(r["path"]).resolve(), ("local", None)) if hub else ("", None)
    return rows


def _scenario_row(spec) -> dict:
    return {"name": spec.name, "type": getattr(spec, "type", ""), "description": getattr(spec, "description", ""),
            "path": spec.where.path, "capacity": getattr(spec, "capacity", None),
            "leakspeed": getattr(spec, "leakspeed", None), "blackhole": getattr(spec, "blackhole", None),
            "labels": dict(getattr(spec, "labels", {}) or {})}


@click.group()
def scenarios() -> None:
    """Scenarios synsec loads."""


@scenarios.command("list")
@output_option
@click.pass_obj
def scenarios_list(settings, output) -> None:
    """List loaded scenarios."""
    content = load_for_cli(settings)
    rows = _with_status([_scenario_row(s) for s in content.scenarios], _hub_status(content))
    if output == "json":
        emit_json(rows)
        return
    table(f"{len(rows)} scenario(s)", ["name", "type", "status", "description"],
          [[r["name"], r["type"], r["status"], (r["description"] or "")[:60]] for r in rows])


@scenarios.command("inspect")
@click.argument("name")
@output_option
@click.pass_obj
def scenarios_inspect(settings, name, output) -> None:
    """Show one scenario's settings."""
    content = load_for_cli(settings)
    for spec in content.scenarios:
        if spec.name == name:
            [row] = _with_status([_scenario_row(spec)], _hub_status(content))
            if output == "json":
                emit_json(row)
            else:
                for k, v in row.items():
                    click.echo(f"{k:>12}: {v}")
            return
    raise click.ClickException(f"no scenario named {name!r}")


def _parser_rows(content) -> list[dict]:
    """One row per top-level parser and postoverflow node, with its hub status."""
    rows = []
    for kind, nodes in (("parser", content.parser_nodes), ("postoverflow", content.postoverflow_nodes)):
        for n in nodes:
            rows.append({"name": n.name, "kind": kind, "stage": n.stage, "path": n.where.path,
                         "line": n.where.line, "nodes": len(n.children),
                         "grok": n.grok.label if n.grok else ""})
    return _with_status(rows, _hub_status(content))


@click.group()
def parsers() -> None:
    """Parsers and postoverflows synsec loads."""


@parsers.command("list")
@output_option
@click.pass_obj
def parsers_list(settings, output) -> None:
    """List loaded parsers by stage."""
    rows = _parser_rows(load_for_cli(settings))
    if output == "json":
        emit_json(rows)
        return
    table(f"{len(rows)} parser(s)", ["stage", "name", "kind", "status", "path"],
          [[r["stage"], r["name"], r["kind"], r["status"], r["path"]] for r in rows])


@parsers.command("inspect")
@click.argument("name")
@output_option
@click.pass_obj
def parsers_inspect(settings, name, output) -> None:
    """Show one parser."""
    for r in _parser_rows(load_for_cli(settings)):
        if r["name"] == name:
            if output == "json":
                emit_json(r)
            else:
                for k, v in r.items():
                    click.echo(f"{k:>8}: {v}")
            return
    raise click.ClickException(f"no parser named {name!r}")


@click.command()
@click.option("--data-dir", "data_dirs", multiple=True, type=click.Path(file_okay=False))
@output_option
@click.pass_obj
def lint(settings, data_dirs, output) -> None:
    """Load all content and report every error (not just the first)."""
    content, errors = load_for_cli(settings, [Path(d) for d in data_dirs], collect=True)
    problems = [{"path": e.where.path, "line": e.where.line, "field": e.where.field, "message": e.message}
                for e in errors.errors]
    if output == "json":
        emit_json({"errors": problems, "parsers": len(content.parser_nodes),
                   "scenarios": len(content.scenarios), "profiles": len(content.profiles)})
    else:
        for e in errors.errors:
            click.echo(str(e))
        click.echo(f"{len(problems)} error(s); {len(content.parser_nodes)} parser(s), "
                   f"{len(content.scenarios)} scenario(s), {len(content.profiles)} profile(s)")
    if problems:
        raise SystemExit(1)


COMMANDS = [scenarios, parsers, lint]
