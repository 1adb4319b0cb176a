"""`synsec setup`: detect the services of a host, propose collections and an acquisition file, install them from
the hub, create a key for local bouncers, optionally write systemd units, and say what to run next (docs/setup.md)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from synsec.cli.ccscli.hub import data_url_option, hub_url_option, local_data_option, local_dirs_of
from synsec.cli.output import emit_json

__all__ = ["setup"]

ACQUIS = "acquis.yaml"
UNIT_DIR = "etc/systemd/system"
_LISTEN = "127.0.0.1:8080"


def _synsec_exe() -> str:
    """The absolute path of the `synsec` command (ExecStart needs one)."""
    beside = Path(sys.executable).parent / "synsec"
    if beside.is_file():
        return str(beside)
    return shutil.which("synsec") or "/usr/local/bin/synsec"


def _print_plan(plan, acquis_text: str, units: dict, key_line: str, warnings: list) -> None:
    click.echo("Detected services:")
    for f in plan.found:
        state = "running" if f.running else "installed"
        click.echo(f"  {f.service.name:<9} {state:<9} {', '.join(f.evidence)}")
    if not plan.found:
        click.echo("  (none)")
    click.echo("Collections to install: " + (", ".join(plan.collections) or "(none)"))
    click.echo(f"Acquisition file ({len(plan.sources)} source(s)):")
    click.echo("  " + acquis_text.rstrip("\n").replace("\n", "\n  ") if plan.sources else "  (none)")
    for name in units:
        click.echo(f"systemd unit: {name}")
    for line in warnings:
        click.echo(f"warning: {line}")
    click.echo(key_line)
    for note in plan.notes:
        click.echo(f"note: {note}")


def _dirs(root: Path, config_dir, state_dir, with_systemd: bool) -> tuple[Path, Path]:
    """(config dir, state dir): as given, else the usual ones, else with --systemd the units' own below the root."""
    from synsec.hub.install import default_config_dir
    from synsec.setup.units import CONFIG_DIR, STATE_DIR
    from synsec.store.sqlite import default_state_dir

    if with_systemd:
        return (Path(config_dir) if config_dir else root / CONFIG_DIR.lstrip("/"),
                Path(state_dir) if state_dir else root / STATE_DIR.lstrip("/"))
    return (Path(config_dir) if config_dir else default_config_dir(),
            Path(state_dir) if state_dir else default_state_dir())


def _apply(config: Path, plan, targets: list, hub_url, data_urls, local_dirs) -> tuple[bool, int]:
    """Install the collections, add profiles.yaml, write the files; (something refused, items lacking data)."""
    from synsec.hub.install import seed_profiles
    from synsec.setup.files import place

    refused, missing_data = False, 0
    if plan.collections:
        for line in _install(config, plan.collections, hub_url, data_urls, local_dirs):
            click.echo(line)
            refused = refused or line.startswith("refused: ")
            missing_data += line.startswith("error: ")
    config.mkdir(parents=True, exist_ok=True)
    for line in seed_profiles(config):
        click.echo(line)
    for path, text in targets:
        click.echo(place(path, text))
    if not plan.sources:
        click.echo("no data source: acquis.yaml not written")
    return refused, missing_data


def _on_host(root: Path, path: Path) -> Path:
    """`path` as the host below `root` names it (/mnt/img/etc/synsec -> /etc/synsec); as given outside the root."""
    try:
        return Path("/") / path.resolve().relative_to(root.resolve())
    except ValueError:
        return path


def _choose(plan, unattended: bool):
    """The plan with the collections the user accepts (all of them with --unattended)."""
    if unattended:
        return plan
    kept = [c for c in plan.collections if click.confirm(f"Install collection {c}?", default=True)]
    return plan.keep(kept)


def _install(config: Path, collections, hub_url, data_urls, local_dirs) -> list[str]:
    """`hub update` then install the collections with their dependencies; the lines to print."""
    from synsec.hub.index import HubError
    from synsec.hub.install import hub_url_of, install, update

    url = hub_url_of(config, hub_url)
    try:
        index = update(config, url)
        outcome = install(config, index, [("collections", c) for c in collections], url, data_urls=data_urls,
                          local_dirs=local_dirs)
    except HubError as err:
        raise click.ClickException(str(err)) from None
    return ([f"hub index from {url}"] + outcome.done + [f"refused: {r}" for r in outcome.refused]
            + [f"error: {m}" for m in outcome.missing])


def _bouncer_key(state_dir: Path, name: str) -> tuple[str | None, str]:
    """(new key or None, a line): the key of bouncer `name`, created unless it exists."""
    from synsec.store import Store

    store = Store(state_dir)
    try:
        if any(b.name == name for b in store.bouncers()):
            return None, (f"bouncer key '{name}': already created in {state_dir} (its key was shown then; "
                          f"`ccscli bouncers delete {name}` and rerun for a new one)")
        key = store.add_bouncer(name)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    finally:
        store.close()
    return key, f"bouncer key '{name}' created in {state_dir}"


def _next_steps(config: Path, acquis: Path | None, state_dir: Path, key: str | None, name: str,
                units: dict, systemd_host: bool, missing_data: int) -> None:
    click.echo("\nNext:")
    if missing_data:
        click.echo(f"  First: {missing_data} item(s) above lack data files; `synsec run` leaves them out (with a "
                   f"warning each) until the files are in {config / 'data'}: put them there, or rerun setup with "
                   "--data-url MIRROR (docs/hub.md, \"data: files\")")
    env = f"SYNSEC_STATE_DIR={state_dir} "
    if units:
        if not systemd_host:
            click.echo("  (this host does not run systemd: the units are written for when it does)")
        click.echo("  systemctl daemon-reload && systemctl enable --now " + " ".join(units))
    else:
        if acquis is not None:
            click.echo(f"  {env}synsec run --acquis {acquis} --config-dir {config}")
        click.echo(f"  {env}synsec api --listen {_LISTEN}")
    click.echo(f"  ccscli --config-dir {config} collections list")
    click.echo("  Bouncer configuration (CrowdSec bouncers, e.g. crowdsec-firewall-bouncer.yaml):")
    click.echo(f"    api_url: http://{_LISTEN}/")
    click.echo(f"    api_key: {key if key else '<the key of bouncer ' + repr(name) + '>'}")


@click.command()
@click.option("--root", type=click.Path(file_okay=False, exists=True), default="/", show_default=True,
              help="Read the host below this directory (a mounted image, a test tree); --systemd writes below it.")
@click.option("--config-dir", type=click.Path(file_okay=False), envvar="SYNSEC_CONFIG_DIR",
              help="Config directory to install into ($SYNSEC_CONFIG_DIR; default: /etc/synsec as root, "
                   "~/.config/synsec otherwise; with --systemd, ROOT/etc/synsec).")
@click.option("--state-dir", type=click.Path(file_okay=False),
              help="Embedded store for the bouncer key ($SYNSEC_STATE_DIR; with --systemd: ROOT/var/lib/synsec).")
@hub_url_option
@data_url_option
@local_data_option
@click.option("--syslog-listen", metavar="ADDR:PORT",
              help="Also receive syslog from other machines or a local rsyslog: a `source: syslog` listener "
                   "(UDP and TCP) on ADDR:PORT in acquis.yaml (e.g. 0.0.0.0:514).")
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option("--unattended", is_flag=True, help="Accept the plan without asking.")
@click.option("--force", is_flag=True, help="Replace an existing acquis.yaml or unit that differs (kept as .bak).")
@click.option("--systemd", "with_systemd", is_flag=True,
              help="Also write hardened units for `synsec run` and `synsec api` in ROOT/etc/systemd/system.")
@click.option("--bouncer-name", default="local-bouncer", show_default=True,
              help="Name of the key created for local bouncers.")
@click.option("-o", "--output", type=click.Choice(["human", "json"]), default="human", show_default=True,
              help="json: the plan as one JSON object (with --dry-run).")
def setup(root, config_dir, state_dir, hub_url, data_urls, local_dirs, syslog_listen, dry_run, unattended, force,
          with_systemd, bouncer_name, output) -> None:
    """Detect services, propose collections and an acquisition file, install them (asks unless --unattended)."""
    from synsec.setup.detect import detect
    from synsec.setup.files import status
    from synsec.setup.plan import make_plan, render_acquis
    from synsec.setup.root import Root
    from synsec.setup.units import hidden_paths, render_units

    host, found = detect(Root(root))
    plan = make_plan(host, found, _listen(syslog_listen))
    config, state = _dirs(Path(root), config_dir, state_dir, with_systemd)
    on_host = _on_host(Path(root), config)             # the config dir as the host (and its units) see it
    warnings = hidden_paths(_synsec_exe(), str(on_host)) if with_systemd else []
    unit_dir = Path(root) / UNIT_DIR

    def files_for(p):
        acquis_text = render_acquis(p)
        units = render_units(_synsec_exe(), str(on_host), str(on_host / ACQUIS), _LISTEN, host.groups) \
            if with_systemd else {}
        return acquis_text, units

    acquis_text, units = files_for(plan)
    if dry_run:
        if output == "json":
            emit_json({**plan.to_dict(), "acquis_yaml": acquis_text, "config_dir": str(config),
                       "units": units, "bouncer": bouncer_name})
            return
        _print_plan(plan, acquis_text, units, f"Bouncer key: '{bouncer_name}' in {state}", warnings)
        click.echo("\ndry run: nothing changed")
        return
    _print_plan(plan, acquis_text, units, f"Bouncer key: '{bouncer_name}' in {state}", warnings)
    asked = bool(plan.collections)
    plan = _choose(plan, unattended)
    if asked and not plan.collections:
        click.echo("no collection chosen: nothing changed")
        return
    acquis_text, units = files_for(plan)
    targets = ([(config / ACQUIS, acquis_text)] if plan.sources else []) + \
              [(unit_dir / n, t) for n, t in units.items()]
    clash = [str(p) for p, t in targets if status(p, t) == "differs"]
    if clash and not force:
        raise click.ClickException(f"{', '.join(clash)}: exists with other content; not replaced (--force "
                                   "replaces it and keeps the old one as .bak). Nothing was changed.")
    refused, missing_data = _apply(config, plan, targets, hub_url, data_urls, local_dirs_of(local_dirs, root))
    key, line = _bouncer_key(state, bouncer_name)
    click.echo(line)
    _next_steps(config, config / ACQUIS if plan.sources else None, state, key, bouncer_name, units, host.systemd,
                missing_data)
    if refused or missing_data:
        raise SystemExit(1)


def _listen(text: str | None) -> tuple[str, int] | None:
    """(address, port) of --syslog-listen ADDR:PORT ([v6]:PORT too)."""
    if text is None:
        return None
    addr, _, port = text.rpartition(":")
    addr = addr.strip("[]")
    if not addr or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{text!r}: expected ADDR:PORT, e.g. 0.0.0.0:514", param_hint="--syslog-listen")
    return addr, int(port)
