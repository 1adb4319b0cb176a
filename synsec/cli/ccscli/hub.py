"""`ccscli hub update|list|upgrade` and `ccscli collections|parsers|scenarios|postoverflows
install|remove|upgrade|enable|disable` (+ `list|inspect` for collections and postoverflows): the hub lifecycle
over one config directory (docs/hub.md)."""

from __future__ import annotations

import csv
import sys

import click

from synsec.cli.ccscli.content import parsers, scenarios
from synsec.cli.output import emit_json, output_option, table

__all__ = ["COMMANDS"]

hub_url_option = click.option("--hub-url", envvar="SYNSEC_HUB_URL",
                              help="Hub to fetch from: http(s)://, file://, a directory, or `builtin` (synsec's "
                                   "own content) ($SYNSEC_HUB_URL; default: the one of the last `hub update`, else "
                                   "CrowdSec's public hub).")
data_url_option = click.option("--data-url", "data_urls", multiple=True, envvar="SYNSEC_HUB_DATA_URLS",
                               help="Also download `data:` files whose source_url is below this prefix, or from "
                                    "this mirror (URL/<host>/<path> of the source_url) (repeatable; "
                                    "$SYNSEC_HUB_DATA_URLS, space-separated). Default: the hub URL and its data/.")
local_data_option = click.option(
    "--local-data", "local_dirs", multiple=True, type=click.Path(file_okay=False), envvar="SYNSEC_LOCAL_DATA_DIRS",
    help="Copy `data:` files no URL gives from this directory (repeatable; $SYNSEC_LOCAL_DATA_DIRS, space-separated). "
         "Default: CrowdSec's /var/lib/crowdsec/data and /usr/share/crowdsec/data when present.")
force_option = click.option("--force", is_flag=True, help="Overwrite tainted items / remove needed items.")


def _config(settings):
    from synsec.hub.install import default_config_dir

    return settings.config_dir or default_config_dir()


def _guard(fn, *args, **kw):
    from synsec.hub.index import HubError

    try:
        return fn(*args, **kw)
    except HubError as err:
        raise click.ClickException(str(err)) from None


def _change(settings, act) -> None:
    """Run `act(config, index)` on the config dir and its index and report its Outcome (exit 1 on a refusal)."""
    from synsec.hub.install import load_index

    config = _config(settings)
    _report(_guard(act, config, _guard(load_index, config)))


def _report(outcome) -> None:
    for line in outcome.done:
        click.echo(line)
    for line in outcome.refused:
        click.echo(f"refused: {line}", err=True)
    for line in outcome.missing:
        click.echo(f"error: {line}", err=True)
    if outcome.refused or outcome.missing:
        raise SystemExit(1)


def local_dirs_of(given, root="/") -> tuple:
    """The host directories data files may be copied from: as given, else CrowdSec's below `root` that exist."""
    from synsec.hub.data import local_dirs_below

    return tuple(given) if given else local_dirs_below(root)


def _rows(settings, types, all_items: bool) -> list[dict]:
    from synsec.hub.install import load_index, states

    config = _config(settings)
    index = _guard(load_index, config)
    st = states(config, index)
    return [{"type": i.type, "name": i.name, "status": s.status, "local_version": s.version,
             "version": i.version, "path": _where(config, s), "description": i.description}
            for t in types for i in index.of_type(t) for s in [st[i.key]]
            if all_items or s.installed or s.disabled]


def _where(config, s) -> str:
    """The item's file: in the active tree when enabled, kept under hub/ when disabled, else its hub path."""
    from synsec.hub.tree import kept_path

    return str(config / (s.item.install_path if s.installed else kept_path(s.item))) if (
        s.installed or s.disabled) else s.item.path


def _emit_rows(rows: list[dict], output: str, title: str) -> None:
    if output == "json":
        emit_json(rows)
    elif output == "raw":
        w = csv.writer(sys.stdout)
        w.writerow(["type", "name", "status", "local_version", "version", "path"])
        for r in rows:
            w.writerow([r["type"], r["name"], r["status"], r["local_version"] or "", r["version"], r["path"]])
    else:
        table(f"{len(rows)} {title}", ["type", "name", "status", "local", "latest"],
              [[r["type"], r["name"], r["status"], r["local_version"] or "-", r["version"]] for r in rows])


@click.group()
def hub() -> None:
    """The hub index of the config directory ($SYNSEC_CONFIG_DIR)."""


@hub.command("update")
@hub_url_option
@click.pass_obj
def hub_update(settings, hub_url) -> None:
    """Fetch the hub's .index.json into <config>/hub/."""
    from synsec.hub.install import hub_url_of, update

    config = _config(settings)
    url = hub_url_of(config, hub_url)
    index = _guard(update, config, url)
    click.echo(f"hub index from {url}: {len(index.items)} item(s) -> {config}/hub/.index.json")


@hub.command("list")
@click.option("-a", "--all", "all_items", is_flag=True, help="Also items that are not installed.")
@output_option
@click.pass_obj
def hub_list(settings, all_items, output) -> None:
    """Items of every type, installed ones (all with -a), with their status."""
    from synsec.hub.index import TYPES

    _emit_rows(_rows(settings, TYPES, all_items), output, "item(s)")


@hub.command("upgrade")
@hub_url_option
@data_url_option
@local_data_option
@force_option
@click.pass_obj
def hub_upgrade(settings, hub_url, data_urls, local_dirs, force) -> None:
    """Upgrade every installed item to the index's version (tainted ones only with --force); fetch their data
    files again."""
    from synsec.hub.install import hub_url_of, upgrade

    _change(settings, lambda config, index: upgrade(config, index, None, hub_url_of(config, hub_url), force,
                                                    data_urls, local_dirs_of(local_dirs)))


def _lifecycle(group: click.Group, type_: str, with_views: bool) -> None:
    """Add install/remove/disable/enable/upgrade (and list/inspect when `with_views`) for one type to `group`."""

    def keys(names):
        return [(type_, n) for n in names]

    @group.command("install")
    @click.argument("names", nargs=-1, required=True)
    @hub_url_option
    @data_url_option
    @local_data_option
    @force_option
    @click.pass_obj
    def install_cmd(settings, names, hub_url, data_urls, local_dirs, force) -> None:
        """Install items and their dependencies from the hub (digests checked), with their data files."""
        from synsec.hub.install import hub_url_of, install

        _change(settings, lambda config, index: install(config, index, keys(names), hub_url_of(config, hub_url),
                                                        force, data_urls, local_dirs_of(local_dirs)))

    @group.command("remove")
    @click.argument("names", nargs=-1, required=True)
    @force_option
    @click.pass_obj
    def remove_cmd(settings, names, force) -> None:
        """Remove items and their kept files (refused when another enabled item needs one, unless --force)."""
        from synsec.hub.install import remove

        _change(settings, lambda config, index: remove(config, index, keys(names), force))

    @group.command("disable")
    @click.argument("names", nargs=-1, required=True)
    @force_option
    @click.pass_obj
    def disable_cmd(settings, names, force) -> None:
        """Take items out of the active tree, keeping their files (`enable` restores them)."""
        from synsec.hub.enable import disable

        _change(settings, lambda config, index: disable(config, index, keys(names), force))

    @group.command("enable")
    @click.argument("names", nargs=-1, required=True)
    @click.pass_obj
    def enable_cmd(settings, names) -> None:
        """Put disabled items (a collection: with its dependencies) back into the active tree."""
        from synsec.hub.enable import enable

        _change(settings, lambda config, index: enable(config, index, keys(names)))

    @group.command("upgrade")
    @click.argument("names", nargs=-1)
    @hub_url_option
    @data_url_option
    @local_data_option
    @force_option
    @click.pass_obj
    def upgrade_cmd(settings, names, hub_url, data_urls, local_dirs, force) -> None:
        """Upgrade installed items (all of this type without NAMES; tainted ones only with --force) and fetch
        their data files again."""
        from synsec.hub.install import hub_url_of, states, upgrade

        def act(config, index):
            chosen = keys(names) or [k for k, s in states(config, index).items() if k[0] == type_ and s.installed]
            return upgrade(config, index, chosen, hub_url_of(config, hub_url), force, data_urls,
                           local_dirs_of(local_dirs))

        _change(settings, act)

    if not with_views:
        return

    @group.command("list")
    @click.option("-a", "--all", "all_items", is_flag=True, help="Also items that are not installed.")
    @output_option
    @click.pass_obj
    def list_cmd(settings, all_items, output) -> None:
        """Installed items of this type (all with -a) and their status."""
        _emit_rows(_rows(settings, (type_,), all_items), output, f"{type_}")

    @group.command("inspect")
    @click.argument("name")
    @output_option
    @click.pass_obj
    def inspect_cmd(settings, name, output) -> None:
        """One item: versions, status, dependencies."""
        from synsec.hub.install import load_index, states

        config = _config(settings)
        index = _guard(load_index, config)
        item = _guard(index.get, type_, name)
        s = states(config, index)[item.key]
        row = {"type": type_, "name": name, "status": s.status, "local_version": s.version,
               "version": item.version, "versions": sorted(item.digests), "path": item.path,
               "installed_at": _where(config, s) if s.installed or s.disabled else None,
               "description": item.description, "author": item.author,
               "dependencies": [f"{t} {n}" for t, n in item.deps]}
        if output == "json":
            emit_json(row)
        else:
            for k, v in row.items():
                click.echo(f"{k:>14}: {v}")


@click.group()
def collections() -> None:
    """Hub collections (a collection pulls parsers, scenarios, postoverflows, sub-collections)."""


@click.group()
def postoverflows() -> None:
    """Hub postoverflows."""


_lifecycle(collections, "collections", True)
_lifecycle(postoverflows, "postoverflows", True)
_lifecycle(parsers, "parsers", False)      # `parsers list|inspect` show the loaded content (content.py)
_lifecycle(scenarios, "scenarios", False)

COMMANDS = [hub, collections, postoverflows]
