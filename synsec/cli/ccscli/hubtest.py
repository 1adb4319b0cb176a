"""`ccscli hubtest`: run a hub checkout's tests (`.tests/NAME/`) on synsec, as `cscli hubtest` runs them on
CrowdSec: `run`, `list`, `explain`, `coverage`, `create`."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import click

from synsec.cli.engine_options import engine_options_but_config_dir
from synsec.cli.output import emit_json, output_option, table

__all__ = ["COMMANDS"]

_hub_option = click.option("--hub", "hub", type=click.Path(file_okay=False, exists=True), default=".",
                           show_default=True,
                           help="Hub checkout whose .tests/ to use (synsec's own content: --hub scenarios).")


@click.group()
def hubtest() -> None:
    """Run CrowdSec hub tests on synsec (like `cscli hubtest`)."""


def _runner(hub, data_dirs=(), pattern_dirs=(), geoip_city=None, geoip_asn=None, dns_server=None):
    from synsec.runner.hubtest import HubTestRunner

    now = time.time()
    return HubTestRunner(Path(hub), data_dirs=data_dirs, pattern_dirs=pattern_dirs, geoip_city=geoip_city,
                         geoip_asn=geoip_asn, dns_server=dns_server, reference_year=datetime.fromtimestamp(now, timezone.utc).year,
                         reference_ts=now)


def _select(hub: str, names: tuple[str, ...], all_: bool) -> list[Path]:
    from synsec.runner.hubtest import find_tests, tests_dir

    if all_ == bool(names):
        raise click.UsageError("give test names or --all")
    if all_:
        return find_tests(Path(hub))
    out = []
    for name in names:
        path = tests_dir(Path(hub)) / name
        if "/" in name or name in (".", "..") or not (path / "config.yaml").is_file():
            raise click.UsageError(f"no test {name!r} in {tests_dir(Path(hub))}")
        out.append(path)
    return out


def _summary(runs) -> dict:
    out = {"tests": len(runs), "passed": sum(r.success for r in runs), "errors": sum(bool(r.error) for r in runs)}
    for kind in ("parser", "scenario"):      # a test that could not run fails each kind it asserts on
        tests = [r for r in runs if kind in r.kinds]
        reports = [getattr(r, kind) for r in tests if getattr(r, kind) is not None]
        out[f"{kind}_tests"] = len(tests)
        out[f"{kind}_tests_passed"] = sum(not r.error and getattr(r, kind).success for r in tests)
        out[f"{kind}_assertions"] = sum(rep.count for rep in reports)
        out[f"{kind}_assertions_failed"] = sum(len(rep.fails) for rep in reports)
    return out


def _show_run(run, verbose: bool) -> None:
    click.echo(f"{'🟢' if run.success else '🔴'} {run.name}")
    if run.error:
        click.echo(f"\terror: {run.error}")
    for report in (run.parser, run.scenario):
        if report is None:
            continue
        shown = report.fails if verbose else report.fails[:20]
        for fail in shown:
            click.echo(f"\t{fail}")
        if len(shown) < len(report.fails):
            click.echo(f"\t... and {len(report.fails) - len(shown)} more failed assertions in {report.file}")
        if report.generated:
            click.echo(f"\tfill {report.file}; from this run, cscli would write:")
            click.echo("".join(f"\t\t{line}\n" for line in report.generated.splitlines()), nl=False)
    if run.missing_data and (verbose or not run.success):
        click.echo(f"\tdata files not found (installed empty; a GeoIP database is left out): {', '.join(run.missing_data)}")


@hubtest.command("run")
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Run every test of the hub.")
@_hub_option
@engine_options_but_config_dir
@click.option("-v", "--verbose", is_flag=True, help="Every failed assertion, and passing tests' notes.")
@output_option
def run_cmd(names, all_, hub, data_dirs, pattern_dirs, geoip_city, geoip_asn, dns_server, verbose, output) -> None:
    """Run tests; exit status 1 when one fails (each failed assertion as file:line)."""
    tests = _select(hub, names, all_)
    runner = _runner(hub, data_dirs, pattern_dirs, geoip_city, geoip_asn, dns_server)
    runs = []
    for test in tests:
        runs.append(runner.run(test))
        if output == "human":
            _show_run(runs[-1], verbose)
    summary = _summary(runs)
    if output == "human":
        click.echo(f"{summary['passed']}/{summary['tests']} tests passed; parser assertions "
                   f"{summary['parser_assertions'] - summary['parser_assertions_failed']}/"
                   f"{summary['parser_assertions']}, scenario assertions "
                   f"{summary['scenario_assertions'] - summary['scenario_assertions_failed']}/"
                   f"{summary['scenario_assertions']}")
    else:
        emit_json({"tests": [r.to_dict() for r in runs], "summary": summary})
    if summary["passed"] < summary["tests"]:
        raise SystemExit(1)


@hubtest.command("list")
@_hub_option
@output_option
def list_cmd(hub, output) -> None:
    """The tests of the hub."""
    from synsec.runner.hubtest import find_tests

    rows = [{"name": p.name, "path": str(p)} for p in find_tests(Path(hub))]
    if output == "json":
        emit_json(rows)
        return
    table("hub tests", ["name", "path"], [[r["name"], r["path"]] for r in rows])


@hubtest.command("explain")
@click.argument("names", nargs=-1, required=True)
@_hub_option
@engine_options_but_config_dir
@click.option("--failures", is_flag=True, help="Show the nodes that failed too.")
@output_option
def explain_cmd(names, hub, data_dirs, pattern_dirs, geoip_city, geoip_asn, dns_server, failures,
                output) -> None:
    """For each line of a test's log: the parsers that succeeded at each stage and the scenarios it entered."""
    tests = _select(hub, names, False)
    runner = _runner(hub, data_dirs, pattern_dirs, geoip_city, geoip_asn, dns_server)
    runs = [runner.run(t) for t in tests]
    if output == "json":
        emit_json([{"name": r.name, "error": r.error, "lines": [
            {"line": t.raw, "nodes": [{"stage": s, "node": n, "success": ok} for s, n, ok in t.nodes],
             "parsed": t.parsed, "whitelisted": t.whitelisted,
             "buckets": [{"scenario": s, "key": k} for s, k in t.buckets]} for t in r.lines]} for r in runs])
        return
    for run in runs:
        if run.error:
            raise click.ClickException(f"{run.name}: {run.error}")
        for trace in run.lines:
            _show_trace(trace, failures)


def _show_trace(trace, failures: bool) -> None:
    click.echo(f"line: {trace.raw}")
    stage = None
    for st, node, ok in trace.nodes:
        if not ok and not failures:
            continue
        if st != stage:
            stage = st
            click.echo(f"\t├ {st}")
        click.echo(f"\t|\t├ {'🟢' if ok else '🔴'} {node}")
    if trace.whitelisted:
        click.echo("\t├-------- parser success, ignored by whitelist 🟢")
    elif trace.parsed:
        click.echo("\t├-------- parser success 🟢")
    else:
        click.echo("\t└-------- parser failure 🔴")
    if trace.buckets:
        click.echo("\t├ Scenarios")
        for i, (scenario, _key) in enumerate(sorted(set(trace.buckets))):
            click.echo(f"\t\t{'└' if i == len(set(trace.buckets)) - 1 else '├'} 🟢 {scenario}")
    click.echo()


@hubtest.command("coverage")
@_hub_option
@click.option("--parsers", "only_parsers", is_flag=True, help="Parsers only.")
@click.option("--scenarios", "only_scenarios", is_flag=True, help="Scenarios only.")
@click.option("--percent", is_flag=True, help="Only the percentages.")
@output_option
def coverage_cmd(hub, only_parsers, only_scenarios, percent, output) -> None:
    """Which parsers and scenarios of the hub have tests asserting on them."""
    from synsec.hub.index import HubError
    from synsec.runner.hubtest.coverage import coverage
    from synsec.runner.hubtest.install import hub_index

    try:
        cov = coverage(Path(hub), hub_index(Path(hub)))
    except (HubError, OSError) as err:
        raise click.ClickException(str(err)) from None
    kinds = [k for k, only in (("parsers", only_parsers), ("scenarios", only_scenarios)) if only] or list(cov)
    share = {k: (sum(bool(c.tests) for c in cov[k]), len(cov[k])) for k in kinds}
    if output == "json":
        emit_json({k: {"covered": share[k][0], "total": share[k][1],
                       "items": [{"name": c.name, "tests": c.tests} for c in cov[k]]} for k in kinds})
        return
    for kind in kinds:
        if not percent:
            table(f"{kind} coverage", ["name", "status", "tests"],
                  [[c.name, "🟢" if c.tests else "🔴", ", ".join(c.tests[:3]) + (" ..." if len(c.tests) > 3 else "")]
                   for c in cov[kind]])
        done, total = share[kind]
        click.echo(f"{kind}: {done}/{total} covered ({100 * done / max(total, 1):.0f}%)")


@hubtest.command("create")
@click.argument("name")
@_hub_option
@click.option("-t", "--type", "log_type", required=True, help="Log type of the test (its lines' `type` label).")
@click.option("-p", "--parsers", "parsers", multiple=True, help="Parser to add (repeatable).")
@click.option("-s", "--scenarios", "scenarios", multiple=True, help="Scenario to add (repeatable).")
@click.option("--postoverflows", "postoverflows", multiple=True, help="Postoverflow to add (repeatable).")
@click.option("--ignore-parsers", is_flag=True, help="Do not assert on the parsers.")
def create_cmd(name, hub, log_type, parsers, scenarios, postoverflows, ignore_parsers) -> None:
    """Write a test's skeleton: config.yaml, an empty log and empty assertion files (as `cscli hubtest create`)."""
    from synsec.hub.index import HubError
    from synsec.runner.hubtest.create import create_test
    from synsec.runner.hubtest.install import hub_index

    try:
        known = [i.name for i in hub_index(Path(hub)).of_type("parsers")]
        made = create_test(Path(hub), name, log_type, parsers, scenarios, postoverflows, ignore_parsers, known)
    except (FileExistsError, ValueError, HubError, OSError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"  Test name                   :  {name}")
    click.echo(f"  Test path                   :  {made}")
    click.echo(f"  Log file                    :  {made / (name + '.log')} (please fill it with logs)")
    click.echo(f"  Parser assertion file       :  {made / 'parser.assert'} (run the test: it shows what to put)")
    click.echo(f"  Scenario assertion file     :  {made / 'scenario.assert'} (likewise)")
    click.echo(f"  Configuration File          :  {made / 'config.yaml'} (please fill it with parsers, scenarios...)")


COMMANDS = [hubtest]
