"""`ccscli`: manage decisions, alerts and content (like cscli). One module per noun."""

from __future__ import annotations

import click

from synsec.cli.ccscli import (alerts, allowlists, bouncers, capi, content, crowd, dashboard, decisions, explain, hub,
                               hubtest, machines, metrics, notifications, simulation)

__all__ = ["main", "ccscli"]


@click.group()
@click.version_option(package_name="synsec", prog_name="ccscli")
@click.option("--state-dir", type=click.Path(file_okay=False), envvar="SYNSEC_STATE_DIR",
              help="Embedded store directory ($SYNSEC_STATE_DIR, default ~/.local/state/synsec).")
@click.option("--config-dir", type=click.Path(file_okay=False),
              help="Config directory (CrowdSec layout). Default: $SYNSEC_CONFIG_DIR, /etc/synsec as root, "
                   "~/.config/synsec; commands that load content fall back to synsec's own until one holds some.")
@click.pass_context
def ccscli(ctx: click.Context, state_dir: str | None, config_dir: str | None) -> None:
    """ccscli: synsec's cscli."""
    from synsec.cli.settings import settings_from_env

    ctx.obj = settings_from_env(state_dir, config_dir)


@ccscli.command()
def version() -> None:
    """Print synsec's version (the installed package's)."""
    from importlib.metadata import version as package_version

    click.echo(f"ccscli (synsec) {package_version('synsec')}")


for module in (decisions, alerts, allowlists, bouncers, machines, content, hub, hubtest, explain, metrics, capi,
               crowd, notifications, simulation, dashboard):
    for command in module.COMMANDS:
        ccscli.add_command(command)


def main() -> None:
    ccscli(prog_name="ccscli")
