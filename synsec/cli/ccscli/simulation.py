"""`ccscli simulation enable|disable|status [--global]`: the content directory's simulation.yaml, as cscli edits
CrowdSec's. A simulated scenario's decisions are kept but marked simulated (no bouncer applies them); with the
global switch on, the listed scenarios are the ones *not* simulated. Running processes read the file at start."""

from __future__ import annotations

import click
import yaml

__all__ = ["COMMANDS", "toggle"]


def _path(settings):
    from synsec.cli.engine_options import content_dir

    return content_dir(settings.config_dir) / "simulation.yaml"


def _read(path) -> tuple[bool, list[str]]:
    from synsec.content.profiles import load_simulation
    from synsec.engine.errors import ErrorCollector

    if not path.exists():
        return False, []
    errors = ErrorCollector()
    sim = load_simulation(str(path), path.read_text(), errors)
    if errors.errors:
        raise click.ClickException(str(errors.errors[0]))
    return sim.enabled, sorted(sim.exclusions)


def _write(path, enabled: bool, exclusions: list[str]) -> None:
    path.write_text(yaml.safe_dump({"simulation": enabled, "exclusions": exclusions}, sort_keys=False))


def toggle(enabled: bool, exclusions: list[str], scenario: str, on: bool) -> tuple[list[str], str]:
    """cscli's rule for one scenario: (new exclusions, what to say)."""
    excluded = scenario in exclusions
    simulated = excluded != enabled
    if simulated == on:
        return exclusions, f"simulation mode for {scenario!r} is already {'enabled' if on else 'disabled'}"
    new = [s for s in exclusions if s != scenario] if excluded else sorted([*exclusions, scenario])
    return new, f"simulation mode for {scenario!r} {'enabled' if on else 'disabled'}"


def _change(settings, scenarios, global_, on: bool) -> None:
    path = _path(settings)
    enabled, exclusions = _read(path)
    if global_:
        if scenarios:
            raise click.UsageError("give scenarios or --global, not both")
        _write(path, on, [])
        click.echo(f"global simulation {'enabled' if on else 'disabled'}")
        return
    if not scenarios:
        raise click.UsageError("give at least one scenario, or --global")
    for scenario in scenarios:
        exclusions, said = toggle(enabled, exclusions, scenario, on)
        click.echo(said)
    _write(path, enabled, exclusions)


@click.group()
def simulation() -> None:
    """Simulation mode: decisions kept but not applied, globally or per scenario."""


@simulation.command("enable")
@click.argument("scenarios", nargs=-1)
@click.option("-g", "--global", "global_", is_flag=True, help="Simulate every scenario (clears the exclusions).")
@click.pass_obj
def enable(settings, scenarios, global_) -> None:
    """Put scenarios (or, with --global, all) in simulation mode."""
    _change(settings, scenarios, global_, True)


@simulation.command("disable")
@click.argument("scenarios", nargs=-1)
@click.option("-g", "--global", "global_", is_flag=True, help="Simulate no scenario (clears the exclusions).")
@click.pass_obj
def disable(settings, scenarios, global_) -> None:
    """Take scenarios (or, with --global, all) out of simulation mode."""
    _change(settings, scenarios, global_, False)


@simulation.command("status")
@click.pass_obj
def status(settings) -> None:
    """Say what is simulated."""
    enabled, exclusions = _read(_path(settings))
    if enabled:
        click.echo("global simulation: enabled" + (f"; not simulated: {', '.join(exclusions)}" if exclusions else ""))
    else:
        click.echo("global simulation: disabled" + (f"; simulated: {', '.join(exclusions)}" if exclusions else ""))


COMMANDS = [simulation]
