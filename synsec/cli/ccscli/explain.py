"""`ccscli explain`: every stage and node a line goes through, and what the event holds after each."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import click

from synsec.cli.engine_options import content_dir, engine_options_but_config_dir
from synsec.cli.output import emit_json, output_option

__all__ = ["COMMANDS", "explain_lines"]


def explain_lines(engine, lines: list[str], labels: dict) -> list[dict]:
    """For each line: the nodes tried in order with success and a snapshot, and the buckets it would enter."""
    from synsec.engine.model import Event, Line

    out = []
    for text in lines:
        steps: list[dict] = []

        def tracer(node, evt, ok, steps=steps):
            steps.append({"stage": node.stage, "node": node.name or str(node.where),
                          "success": bool(ok), "parsed": dict(evt.Parsed), "meta": dict(evt.Meta),
                          "enriched": dict(evt.Enriched)})

        engine.ctx.tracer = tracer
        evt = Event(Line(text, "explain", labels))
        try:
            parsed = engine.parsers.parse(evt, engine.ctx)
        finally:
            engine.ctx.tracer = None
        buckets = []
        if parsed and not evt.Whitelisted:
            buckets = [{"scenario": s, "key": k} for s, k in engine.route(evt)]
        out.append({"line": text, "parsed": parsed, "whitelisted": evt.Whitelisted, "steps": steps,
                    "buckets": buckets, "time": evt.MarshaledTime})
    return out


@click.command()
@click.option("--file", "file_", type=click.Path(dir_okay=False, exists=True))
@click.option("--log", "log", help="One log line.")
@click.option("--type", "log_type", required=True)
@engine_options_but_config_dir
@output_option
@click.pass_obj
def explain(settings, file_, log, log_type, data_dirs, pattern_dirs, geoip_city, geoip_asn, dns_server,
            output) -> None:
    """Explain how each line is parsed (like `cscli explain`)."""
    from synsec.assembly.build import EngineOptions, build_engine
    from synsec.engine.errors import LoadError, LoadErrors

    if bool(file_) == bool(log):
        raise click.UsageError("give exactly one of --file or --log")
    lines = [log] if log else [ln.rstrip("\n") for ln in Path(file_).read_text(errors="replace").splitlines()
                               if ln.strip()]
    year = datetime.fromtimestamp(time.time(), timezone.utc).year
    opts = EngineOptions.from_flags(config_dir=content_dir(settings.config_dir), data_dirs=data_dirs, pattern_dirs=pattern_dirs,
                                    geoip_city=geoip_city, geoip_asn=geoip_asn, dns_server=dns_server,
                                    reference_year=year)
    try:
        engine, _ = build_engine(opts)
    except (LoadErrors, LoadError) as err:
        raise click.ClickException(str(err)) from None
    result = explain_lines(engine, lines, {"type": log_type})
    if output == "json":
        emit_json(result)
        return
    for item in result:
        click.echo(f"line: {item['line']}")
        for st in item["steps"]:
            mark = "🟢" if st["success"] else "🔴"
            click.echo(f"\t├ {st['stage']}\t{mark} {st['node']}")
        if item["parsed"]:
            click.echo(f"\t├-------- parser {'whitelisted' if item['whitelisted'] else 'success'} 🟢")
            for b in item["buckets"]:
                click.echo(f"\t├ 🟢 {b['scenario']} (key {b['key']})")
            if not item["buckets"]:
                click.echo("\t└ no scenario accepts it")
        else:
            click.echo("\t└-------- parser failure 🔴")


COMMANDS = [explain]
