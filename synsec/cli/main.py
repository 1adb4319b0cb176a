"""`synsec`: run the workers — replay cold logs (embedded default); topology commands come with streams/."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import click

from synsec.cli.api import api
from synsec.cli.clickhouse import clickhouse
from synsec.cli.output import emit_json, output_option, table
from synsec.cli.settings import settings_from_env
from synsec.engine.errors import LoadError, LoadErrors

__all__ = ["main", "cli"]


def parse_labels(log_type: str | None, labels: tuple[str, ...]) -> dict:
    out = {}
    if log_type:
        out["type"] = log_type
    for item in labels:
        if "=" not in item:
            raise click.BadParameter(f"{item!r}: expected k=v", param_hint="--label")
        k, v = item.split("=", 1)
        out[k] = v
    return out


@click.group()
@click.version_option(package_name="synsec")
def cli() -> None:
    """synsec: behaviour-based intrusion detection (CrowdSec content, stream-processing runtime)."""


def _reference(text: str | None) -> float:
    if not text:
        return time.time()
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc).timestamp()


def _print_human(result) -> None:
    rows = [[a.Scenario, f"{a.Source.Scope}:{a.Source.Value}", a.EventsCount, a.to_dict()["start_at"],
             a.to_dict()["stop_at"]] for a in result.alerts]
    table(f"{len(result.alerts)} alert(s)", ["scenario", "source", "events", "start", "stop"], rows)
    rows = [[d.type, f"{d.scope}:{d.value}", d.scenario, d.to_dict()["duration"], d.origin,
             "yes" if d.simulated else "no"] for d in result.decisions]
    table(f"{len(result.decisions)} decision(s)", ["type", "target", "scenario", "duration", "origin",
                                                   "simulated"], rows)
    s = result.stats
    click.echo(f"lines read: {s['lines']}  parsed: {s['parsed']}  unparsed: {s['unparsed']}  "
               f"whitelisted: {s['whitelisted']}  alerts: {s['alerts']}  decisions: {s['decisions']}  "
               f"too long: {s['too_long']}  invalid utf-8: {s['invalid_utf8']}  "
               f"{s['lines_per_s']:.0f} lines/s" + ("  (interrupted)" if result.interrupted else ""),
               err=True)


@cli.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--type", "log_type", help="Acquisition label `type` (e.g. nginx, syslog).")
@click.option("--label", "labels", multiple=True, help="Extra acquisition label k=v (repeatable).")
@click.option("--config-dir", type=click.Path(file_okay=False), help="CrowdSec-layout content directory.")
@click.option("--data-dir", "data_dirs", multiple=True, type=click.Path(file_okay=False))
@click.option("--patterns-dir", "pattern_dirs", multiple=True, type=click.Path(file_okay=False))
@click.option("--geoip-city", type=click.Path(dir_okay=False), help="Country/City mmdb for GeoIpCity.")
@click.option("--geoip-asn", type=click.Path(dir_okay=False), help="ASN mmdb for GeoIpASN/IpToRange.")
@click.option("--reference-time", help="RFC 3339; its year dates yearless syslog lines (default: now).")
@click.option("--state-dir", type=click.Path(file_okay=False), help="Embedded store ($SYNSEC_STATE_DIR).")
@click.option("--no-store", is_flag=True, help="Do not write alerts/decisions to the embedded store.")
@click.option("-j", "--workers", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Processes that parse and route lines (the pouring stays in one process).")
@output_option
def replay(files, log_type, labels, config_dir, data_dirs, pattern_dirs, geoip_city, geoip_asn,
           reference_time, state_dir, no_store, workers, output) -> None:
    """Replay log FILES (`-` for stdin, .gz accepted) and print alerts and decisions."""
    from synsec.runner.build import EngineOptions, build_engine
    from synsec.runner.replay import replay as run_replay

    settings = settings_from_env(state_dir, config_dir)
    ref = _reference(reference_time)
    opts = EngineOptions(config_dir=Path(settings.config_dir) if settings.config_dir else None,
                         data_dirs=tuple(Path(d) for d in data_dirs), pattern_dirs=tuple(pattern_dirs),
                         reference_year=datetime.fromtimestamp(ref, timezone.utc).year,
                         geoip_city=Path(geoip_city) if geoip_city else None,
                         geoip_asn=Path(geoip_asn) if geoip_asn else None)
    try:
        built = build_engine(opts)
    except (LoadErrors, LoadError) as err:
        raise click.ClickException(str(err)) from None
    result = _run_with_progress(run_replay, files, parse_labels(log_type, labels), opts, ref, built, output,
                                workers)
    if not no_store:
        from synsec.store import Store

        store = Store(settings.state_dir)
        store.add(result.alerts, result.decisions)
        store.close()
    if output == "json":
        emit_json(result.to_dict())
    else:
        _print_human(result)


def _run_with_progress(run_replay, files, labels, opts, ref, built, output, workers):
    def run(progress=None):
        return run_replay(list(files), labels, opts, reference_ts=ref, progress=progress,
                          engine_and_content=built, workers=workers)

    if not sys.stderr.isatty() or output == "json":
        return run()
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  transient=True) as bar:
        task = bar.add_task("replaying", total=None)
        return run(lambda lines, nbytes: bar.update(
            task, description=f"replaying: {lines} lines, {nbytes / 1e6:.1f} MB"))


cli.add_command(clickhouse)
cli.add_command(api)


from synsec.cli.topics import topics as _topics  # noqa: E402 - command groups register after `cli`
cli.add_command(_topics)
from synsec.cli.worker import worker as _worker  # noqa: E402
cli.add_command(_worker)
from synsec.cli.up import up as _up  # noqa: E402
cli.add_command(_up)
from synsec.cli.bouncer import bouncer as _bouncer  # noqa: E402
cli.add_command(_bouncer)


def main() -> None:
    cli(prog_name="synsec")


if __name__ == "__main__":
    main()
