"""`synsec`: run the workers — replay cold logs and run on tailed files (embedded default); topology commands."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import click

from synsec.cli.api import api
from synsec.cli.clickhouse import clickhouse
from synsec.cli.crowd import crowd_options, start_crowd
from synsec.cli.engine_options import content_dir, engine_options
from synsec.cli.notify import start_notifications
from synsec.cli.output import emit_json, output_option, table, warn_content
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
@click.version_option(package_name="synsec", prog_name="synsec")
def cli() -> None:
    """synsec: behaviour-based intrusion detection (CrowdSec content, stream-processing runtime)."""


def _reference(text: str | None) -> float:
    if not text:
        return time.time()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc).timestamp()
    except (ValueError, OverflowError, OSError):
        raise click.BadParameter(f"{text!r}: expected an RFC 3339 time such as 2024-05-01T00:00:00Z",
                                 param_hint="--reference-time") from None


def _print_human(result) -> None:
    rows = [[a.Scenario, f"{a.Source.Scope}:{a.Source.Value}", a.EventsCount, a.to_dict()["start_at"],
             a.to_dict()["stop_at"]] for a in result.alerts]
    table(f"{len(result.alerts)} alert(s)", ["scenario", "source", "events", "start", "stop"], rows)
    rows = [[d.type, f"{d.scope}:{d.value}", d.scenario, d.to_dict()["duration"], d.origin,
             "yes" if d.simulated else "no"] for d in result.decisions]
    table(f"{len(result.decisions)} decision(s)", ["type", "target", "scenario", "duration", "origin",
                                                   "simulated"], rows)
    _print_stats(result.stats)


_HEADLINE = ("lines", "parsed", "unparsed", "whitelisted", "alerts", "decisions")


def _print_stats(s: dict) -> None:
    """The end-of-run summary (`synsec.runner.summary.run_summary`) of replay and run, on stderr: the main
    counts, then every other counter of the run's set that is not zero (`synsec.engine.counters`)."""
    from synsec.engine.counters import COUNTERS, RUN_SCOPES

    click.echo("  ".join(f"{name}: {s[name]}" for name in _HEADLINE) + f"  {s['lines_per_s']:.0f} lines/s"
               + ("  (interrupted)" if s["interrupted"] else ""), err=True)
    rest = [f"{c.name}: {s[c.name]}" for c in COUNTERS if c.scope in RUN_SCOPES and c.name not in _HEADLINE
            and s.get(c.name)]
    click.echo("  ".join(rest + [f"files: {s['files']}", f"live buckets: {s['live_buckets']}"]), err=True)


@cli.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--type", "log_type", help="Acquisition label `type` (e.g. nginx, syslog).")
@click.option("--label", "labels", multiple=True, help="Extra acquisition label k=v (repeatable).")
@engine_options
@click.option("--reference-time", help="RFC 3339; its year dates yearless syslog lines (default: now).")
@click.option("--state-dir", type=click.Path(file_okay=False), help="Embedded store ($SYNSEC_STATE_DIR).")
@click.option("--no-store", is_flag=True, help="Do not write alerts/decisions to the embedded store.")
@click.option("-j", "--workers", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Processes that parse and route lines (the pouring stays in one process).")
@output_option
def replay(files, log_type, labels, config_dir, data_dirs, pattern_dirs, geoip_city, geoip_asn, dns_server,
           reference_time, state_dir, no_store, workers, output) -> None:
    """Replay log FILES (`-` for stdin, .gz accepted, `journalctl://filters=...` a journal) and print alerts and
    decisions."""
    from synsec.assembly.build import EngineOptions, build_engine
    from synsec.runner.replay import replay as run_replay

    settings = settings_from_env(state_dir, config_dir)
    ref = _reference(reference_time)
    opts = EngineOptions.from_flags(config_dir=content_dir(settings.config_dir), data_dirs=data_dirs, pattern_dirs=pattern_dirs,
                                    geoip_city=geoip_city, geoip_asn=geoip_asn, dns_server=dns_server,
                                    reference_year=datetime.fromtimestamp(ref, timezone.utc).year)
    try:
        built = build_engine(opts)
    except (LoadErrors, LoadError) as err:
        raise click.ClickException(str(err)) from None
    warn_content(built[1], delivers=not no_store)
    if not no_store:
        from synsec.store import Store

        _store = Store(settings.state_dir)      # its allowlists apply (read through their own connection)
        use_store_allowlists(built[1], built[0].profiles, _store)
        _store.close()
    try:
        result = _run_with_progress(run_replay, files, parse_labels(log_type, labels), opts, ref, built, output,
                                    workers)
    except (LoadErrors, LoadError) as err:         # a journalctl:// DSN that is malformed or fails
        raise click.ClickException(str(err)) from None
    if not no_store:
        from synsec.store import Store

        store = Store(settings.state_dir)
        store.add(result.alerts, result.decisions)
        store.add_metrics(result.metrics)      # counters, added to those of earlier runs (ccscli metrics)
        store.close()
    if output == "json":
        emit_json(result.to_dict())
    else:
        _print_human(result)


def use_store_allowlists(content, profiles, store) -> None:
    """The store's allowlists (`ccscli allowlists`) join allowlists.yaml for the profiles and the crowd's pull."""
    content.allowlist = profiles.allowlist = content.allowlist.with_source(store.allowlist_reader())


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


def _run_sources(files, log_types, labels, acquis, warnings: list[str] | None = None):
    """The sources of `-f`/`--type`/`--label` (one --type for all files, or one per -f in order; `-f -` is
    stdin) and `--acquis` (sources synsec does not have are skipped, one line each in `warnings`)."""
    from synsec.runner.acquis import FileSource, StdinSource, load_acquis

    if not files and not acquis:
        raise click.UsageError("nothing to read: give -f FILE --type TYPE and/or --acquis acquis.yaml "
                               "(`-f -` reads stdin)")
    if files and not log_types:
        raise click.BadParameter("-f FILE needs --type (e.g. syslog, nginx)", param_hint="--type")
    if len(log_types) > 1 and len(log_types) != len(files):
        raise click.BadParameter(f"{len(log_types)} --type for {len(files)} -f: give one for all files, or "
                                 "one per -f in the same order", param_hint="--type")
    types = log_types * len(files) if len(log_types) == 1 else log_types
    if list(files).count("-") > 1:
        raise click.BadParameter("stdin (-) can be read once", param_hint="-f")
    sources = [StdinSource(parse_labels(t, labels)) if f == "-" else FileSource((f,), parse_labels(t, labels))
               for f, t in zip(files, types)]
    for path in acquis:
        try:
            sources.extend(load_acquis(path, warnings))
        except (LoadErrors, LoadError) as err:
            raise click.ClickException(str(err)) from None
    if not sources:
        raise click.UsageError("nothing to read: every data source of the acquisition files was skipped")
    return sources


def _lock_state_dir(state_dir: Path):
    """Hold `run.lock` in the state dir: two `synsec run` on one state would overwrite each other's state."""
    import fcntl

    from synsec.store.files import private_dir

    private_dir(state_dir)
    fh = open(state_dir / "run.lock", "w")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        raise click.ClickException(f"another synsec run uses {state_dir} (it holds {state_dir / 'run.lock'})")
    return fh


class _LiveSink:
    """emit(Output): store the alerts and decisions, then print one line (or JSON object) each; with a crowd,
    queues the signals of the alerts (synsec.cli.crowd).

    After a crash, `synsec run` re-reads the lines after its last saved state and finds the same alerts again
    (same deterministic ids): those the store already holds are neither stored nor printed again."""

    def __init__(self, output: str, store, crowd=None):
        self.output, self.store, self.crowd = output, store, crowd

    def __call__(self, out) -> None:
        import json

        alerts, decisions = self._unstored(out.alerts, out.decisions)
        if self.crowd is not None:
            self.crowd.enqueue(alerts)      # before storing: re-detected after a crash, queued only once
        if self.store is not None:
            self.store.add(alerts, decisions)
        for a in alerts:
            click.echo(json.dumps({"alert": a.to_dict()}) if self.output == "json" else
                       f"alert {a.Scenario} {a.Source.Scope}:{a.Source.Value} {a.EventsCount} events "
                       f"{a.to_dict()['start_at']} .. {a.to_dict()['stop_at']}")
        for d in decisions:
            click.echo(json.dumps({"decision": d.to_dict()}) if self.output == "json" else
                       f"decision {d.type} {d.scope}:{d.value} {d.to_dict()['duration']} {d.scenario}"
                       + (" (simulated)" if d.simulated else ""))
        sys.stdout.flush()

    def _unstored(self, alerts: list, decisions: list) -> tuple[list, list]:
        """The alerts and decisions the store does not hold yet (all of them without a store)."""
        if self.store is None:
            return alerts, decisions
        stored = self.store.decision_nums([d.id for d in decisions])
        return ([a for a in alerts if self.store.alert(a.UUID) is None],
                [d for d in decisions if d.id not in stored])

    def add_metrics(self, engine) -> None:
        """Add this run's counters (the engine's set, the tailer's counts in it) to the store's, as each replay
        does."""
        from synsec.assembly.metrics import run_samples

        if self.store is not None:
            self.store.add_metrics(run_samples(engine.counts))


@cli.command()
@click.option("-f", "--file", "files", multiple=True,
              help="Log file or quoted glob to tail (repeatable); `-` reads stdin.")
@click.option("--stdin", "stdin", is_flag=True, help="Read lines from stdin too (as `-f -`).")
@click.option("--type", "log_types", multiple=True,
              help="Label `type` of the -f files: once for all of them, or once per -f in the same order.")
@click.option("--label", "labels", multiple=True, help="Extra label k=v for the -f files (repeatable).")
@click.option("--acquis", multiple=True, type=click.Path(exists=True),
              help="CrowdSec acquisition file, or directory of them (acquis.yaml, acquis.d/); repeatable.")
@engine_options
@click.option("--state-dir", type=click.Path(file_okay=False),
              help="Embedded store and run state ($SYNSEC_STATE_DIR).")
@click.option("--no-store", is_flag=True, help="Do not write alerts/decisions to the embedded store.")
@click.option("--lateness", type=click.FloatRange(0), default=2.0, show_default=True,
              help="Seconds of event time left to late lines before idle buckets follow the wall clock.")
@click.option("--poll-interval", type=click.FloatRange(0.01), default=0.25, show_default=True,
              help="Seconds between polls of the files when they are idle.")
@click.option("-o", "--output", type=click.Choice(["human", "json"]), default="human", show_default=True,
              help="One line per alert/decision; json: one object per line.")
@crowd_options
def run(files, stdin, log_types, labels, acquis, config_dir, data_dirs, pattern_dirs, geoip_city, geoip_asn, dns_server,
        state_dir, no_store, lateness, poll_interval, output, share, push_interval, pull_interval,
        capi_version) -> None:
    """Follow log files, journald, syslog senders or stdin and detect live (CrowdSec's daemon mode); Ctrl-C or
    SIGTERM stops with a summary (as does the end of stdin when nothing else is followed)."""
    import signal

    from synsec.assembly.build import LIVE_RDNS_WAIT, EngineOptions, build_engine
    from synsec.runner.live import LiveOptions, LiveRunner, load_state
    from synsec.runner.sources import Inputs

    warnings: list[str] = []
    if stdin and "-" not in files:
        files = (*files, "-")
    sources = _run_sources(files, log_types, labels, acquis, warnings)
    for line in warnings:
        click.echo(f"warning: {line}", err=True)
    settings = settings_from_env(state_dir, config_dir)
    opts = EngineOptions.from_flags(config_dir=content_dir(settings.config_dir), data_dirs=data_dirs, pattern_dirs=pattern_dirs,
                                    geoip_city=geoip_city, geoip_asn=geoip_asn, dns_server=dns_server,
                                    reference_year=datetime.now(timezone.utc).year, skip_missing_data=True,
                                    rdns_wait=LIVE_RDNS_WAIT)     # live: a reverse_dns miss holds an event briefly
    try:
        engine, content = build_engine(opts)
    except (LoadErrors, LoadError) as err:
        raise click.ClickException(str(err)) from None
    warn_content(content, delivers=not no_store)
    for line in content.skipped:        # CrowdSec logs an error and runs on: the other items run, loudly
        click.echo(f"warning: {line} (docs/hub.md, \"data: files\")", err=True)
    if content.skipped:
        click.echo(f"warning: {len(content.skipped)} item(s) not loaded for lack of a data file; the others run",
                   err=True)
    lock = _lock_state_dir(settings.state_dir)
    try:
        state = load_state(settings.state_dir)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    from synsec.store import Store

    store = None if no_store else Store(settings.state_dir)
    if store is not None:
        engine.profiles.history.source = store     # GetDecisionsCount & co: the store and this run
        use_store_allowlists(content, engine.profiles, store)
    inputs = Inputs(sources, engine.counts, saved=state.get("positions") or {},
                    saved_globs=tuple(state.get("globs") or ()), cursors=state.get("cursors") or {},
                    warn=lambda text: click.echo(f"warning: {text}", err=True))
    crowd = None if no_store else start_crowd(settings.state_dir, content, engine.profiles.origin, share,
                                              push_interval, pull_interval, capi_version)
    notifier = None if store is None else start_notifications(settings.state_dir, content.notifications)
    sink = _LiveSink(output, store, crowd)
    runner = LiveRunner(engine, content, inputs, sink, state_dir=settings.state_dir,
                        opts=LiveOptions(poll_s=poll_interval, lateness_s=lateness), restore=state)

    def stop(_signum, _frame):
        runner.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        try:
            missing = runner.start()
        except LoadError as err:                 # a listener that cannot bind, a journalctl that cannot run
            raise click.ClickException(str(err)) from None
        for pattern in missing:
            click.echo(f"warning: {pattern}: no file yet (watched)", err=True)
        click.echo(f"tailing {inputs.describe()} from {len(sources)} source(s); "
                   f"state {settings.state_dir}; {len(engine.buckets.buckets)} bucket(s) restored", err=True)
        runner.run()
        sink.add_metrics(runner.engine)
    finally:
        if crowd is not None:
            crowd.stop()
        if notifier is not None:
            notifier.stop()
        if store is not None:
            store.close()
        lock.close()
    _print_live_summary(runner.summary(), output)


def _print_live_summary(s: dict, output: str) -> None:
    if output == "json":
        import json

        click.echo(json.dumps({"stats": s}))
        return
    _print_stats(s)


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
from synsec.cli.central import central as _central, curation as _curation  # noqa: E402
cli.add_command(_central)
cli.add_command(_curation)
from synsec.cli.setup import setup as _setup  # noqa: E402
cli.add_command(_setup)


def main() -> None:
    cli(prog_name="synsec")


if __name__ == "__main__":
    main()
