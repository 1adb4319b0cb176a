"""`ccscli`: manage decisions, alerts and content (like cscli). One module per noun."""

from __future__ import annotations

import click

from synsec.cli.ccscli import alerts, bouncers, content, decisions, explain, hub, metrics

__all__ = ["main", "ccscli"]


@click.group()
@click.option("--state-dir", type=click.Path(file_okay=False), envvar="SYNSEC_STATE_DIR",
              help="Embedded store directory ($SYNSEC_STATE_DIR, default ~/.local/state/synsec).")
@click.option("--config-dir", type=click.Path(file_okay=False), envvar="SYNSEC_CONFIG_DIR",
              help="CrowdSec-layout content directory (default: synsec's own scenarios/).")
@click.pass_context
def ccscli(ctx: click.Context, state_dir: str | None, config_dir: str | None) -> None:
    """ccscli: synsec's cscli."""
    from synsec.cli.settings import settings_from_env

    ctx.obj = settings_from_env(state_dir, config_dir)


for module in (decisions, alerts, bouncers, content, hub, explain, metrics):
    for command in module.COMMANDS:
        ccscli.add_command(command)


def main() -> None:
    ccscli(prog_name="ccscli")
