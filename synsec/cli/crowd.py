"""The crowd flags of the commands that own an alert store (`synsec run`), and starting the crowd loop.

One switch: `--share/--no-share` (`$SYNSEC_SHARE`; CrowdSec's `online_client.sharing`). Unset, sharing is on
exactly when the state dir holds Central API credentials (`ccscli capi register`), as in CrowdSec; with
credentials the community blocklist is pulled whatever the switch says. `synsec replay` never shares.
"""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["crowd_options", "crowd_credentials", "start_crowd", "capi_version_option"]

capi_version_option = click.option(
    "--capi-version", type=click.Choice(["v3", "v2"]), default="v3", show_default=True, envvar="SYNSEC_CAPI_VERSION",
    help="The Central API version to speak ($SYNSEC_CAPI_VERSION): v3 (current CrowdSec's), or v2 for a central "
         "that only speaks CrowdSec 1.4.6's. docs/crowd.md.")


_OPTIONS = (
    click.option("--share/--no-share", default=None, envvar="SYNSEC_SHARE",
                 help="Send signals (scenario, source, times) of this installation's alerts to the Central API "
                      "named in <state-dir>/online_api_credentials.yaml ($SYNSEC_SHARE; default: on when that "
                      "file exists). docs/crowd.md."),
    click.option("--push-interval", type=click.FloatRange(0.1, 3600.0), default=10.0, show_default=True,
                 help="Seconds between signal pushes (failed ones are retried with exponential back-off)."),
    click.option("--pull-interval", type=click.FloatRange(1.0, 86400.0), default=7200.0, show_default=True,
                 help="Seconds between community blocklist pulls (one at start)."),
    capi_version_option,
)


def crowd_options(fn):
    """Add --share/--no-share, --push-interval, --pull-interval and --capi-version to a command."""
    for option in reversed(_OPTIONS):
        fn = option(fn)
    return fn


def _hub_index(config_dir: Path):
    """The config dir's hub index (`ccscli hub update`), None when it has none; a bad one is a usage error."""
    from synsec.hub.index import HubError
    from synsec.hub.install import INDEX, load_index

    if not (config_dir / INDEX).is_file():
        return None
    try:
        return load_index(config_dir)
    except (HubError, OSError) as err:
        raise click.ClickException(f"{config_dir / INDEX}: {err}") from None


def crowd_credentials(state_dir: Path, share: bool | None):
    """The state dir's Central API credentials, None when there are none (`--share` then is a usage error)."""
    from connectors.crowd.credentials import credentials_path, load_credentials
    from synsec.engine.errors import LoadError

    path = credentials_path(state_dir)
    try:
        creds = load_credentials(path)
    except LoadError as err:
        raise click.ClickException(str(err)) from None
    if creds is None and share:
        raise click.UsageError(f"--share needs Central API credentials in {path}: run `ccscli capi register "
                               "--url URL` first")
    return creds


def start_crowd(state_dir: Path, content, origin: str, share: bool | None, push_interval: float,
                pull_interval: float, capi_version: str = "v3", *, creds=None, open_target=None, cti: bool = True):
    """A started CrowdSync when the state dir has credentials (None otherwise). The blocklist goes to the
    embedded store unless `open_target` makes another target (Kafka mode: the decisions topic); with `cti`,
    `CrowdsecCTI(ip)` of `content`'s expressions answers from it."""
    from connectors.crowd.blocklist import BlocklistCTI, StoreTarget
    from connectors.crowd.client import CapiClient
    from connectors.crowd.share import SharePolicy, shareable_scenarios
    from connectors.crowd.sync import CrowdOptions, CrowdSync
    from synsec.store import Store

    creds = creds or crowd_credentials(state_dir, share)
    if creds is None:
        return None
    names = sorted({spec.name for spec in content.scenarios})
    policy = None
    if share is not False:
        ok, refused = shareable_scenarios({spec.name: spec.where.path for spec in content.scenarios},
                                          _hub_index(Path(content.config_dir)))
        policy = SharePolicy(machine_id=creds.login, scenarios=ok, refused_scenarios=refused,
                             allowlist=content.allowlist, origin=origin)
    lookup = None
    if cti:
        lookup = BlocklistCTI({spec.name: dict(spec.labels) for spec in content.scenarios})
        content.expr_ctx.cti = lookup
    sync = CrowdSync(state_dir, CapiClient(creds, names, version=capi_version), policy,
                     open_target=open_target or (lambda: StoreTarget(Store(state_dir))),
                     scenarios=set(names), allowlist=content.allowlist, cti=lookup,
                     opts=CrowdOptions(push_interval=push_interval, pull_interval=pull_interval),
                     say=lambda msg: click.echo(msg, err=True))
    click.echo(f"crowd: {creds.url} ({capi_version}) as {creds.login}; sharing "
               + (f"on for {len(policy.scenarios)} of {len(names)} scenario(s) (the others are custom or tainted)"
                  if policy is not None else "off (--no-share)") + "; pulling the community blocklist", err=True)
    return sync.start()
