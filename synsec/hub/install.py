"""The hub lifecycle over a config directory (synsec.hub.tree): `update` its index, `install`, `upgrade` and
`remove` items (`enable`/`disable`: synsec.hub.enable). Downloads are checked against the index's sha256 before
anything is written; a tainted item is never overwritten without `force`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version as package_version
from pathlib import Path

from synsec.hub.builtin import BUILTIN, builtin_index, builtin_root
from synsec.hub.data import DataOrigins, data_sources, obtain
from synsec.hub.fetch import DEFAULT_HUB_URL, fetch
from synsec.hub.index import MAX_INDEX_BYTES, HubError, HubIndex, parse_index
from synsec.hub.resolve import closure, needed_by
from synsec.hub.tree import (ItemState, default_config_dir, has_installed_content, kept_path, move_file, states,
                             unlink_file, write_file)

__all__ = ["default_config_dir", "has_installed_content", "ItemState", "Outcome", "update", "load_index",
           "hub_url_of", "states", "install", "remove", "upgrade", "restore", "seed_profiles", "PROFILES"]

INDEX = "hub/.index.json"
SOURCE = "hub/.hub_url"
PROFILES = "profiles.yaml"


@dataclass
class Outcome:
    done: list            # human lines: what changed
    refused: list         # human lines: what was refused (the command fails)
    missing: list = field(default_factory=list)   # one line per item whose data files are nowhere to be had


def _synsec_version() -> str:
    try:
        return package_version("synsec")
    except PackageNotFoundError:
        return "0"


def update(config: Path, hub_url: str) -> HubIndex:
    """Fetch the hub's `.index.json` (`builtin`: make it from synsec's own content, keeping the versions of the
    builtin index already there), check it, store it (and the URL) under `<config>/hub/`."""
    if hub_url == BUILTIN:
        previous = config / INDEX
        was_builtin = (config / SOURCE).is_file() and (config / SOURCE).read_text().strip() == BUILTIN
        data = builtin_index(_synsec_version(), previous.read_bytes() if was_builtin and previous.is_file() else None)
    else:
        data = fetch(hub_url, ".index.json", MAX_INDEX_BYTES)
    index = parse_index(data)
    write_file(config, INDEX, data)
    write_file(config, SOURCE, hub_url.encode())
    return index


def load_index(config: Path) -> HubIndex:
    path = config / INDEX
    if not path.is_file():
        raise HubError(f"{path}: no hub index; run `ccscli hub update`")
    return parse_index(path.read_bytes())


def hub_url_of(config: Path, given: str | None) -> str:
    """The hub URL: given (--hub-url / $SYNSEC_HUB_URL), else the one of the last `hub update`, else CrowdSec's."""
    if given:
        return given
    source = config / SOURCE
    return source.read_text().strip() if source.is_file() else DEFAULT_HUB_URL


def _download(index: HubIndex, keys: list, hub_url: str) -> dict:
    """Every item's latest content, digests checked; HubError on the first mismatch (nothing written yet)."""
    got = {}
    for key in keys:
        item = index.items[key]
        data = fetch(hub_url, item.path)
        digest = hashlib.sha256(data).hexdigest()
        if digest != item.digest:
            raise HubError(f"{item.type} {item.name} {item.version}: sha256 {digest} is not the index's "
                           f"{item.digest}; nothing installed")
        got[key] = data
    return got


def _data_files(config: Path, index: HubIndex, contents: dict, refresh: set, origins: DataOrigins):
    """The `data:` files of the items in `contents` ({key: item bytes}): fetched again for the keys in `refresh`,
    else only when `<config>/data` lacks them (synsec.hub.data.obtain). ({dest_file: bytes}, lines, missing:
    one line per item)."""
    files, lines, missing = {}, [], []
    for key, content in contents.items():
        item, absent = index.items[key], []
        for ref in data_sources(content.decode("utf-8", "replace"), item.path):
            have = (config / "data" / ref.dest).is_file()
            if ref.dest in files or (have and key not in refresh):
                continue
            data, line = obtain(ref, origins, have)
            if data is not None:
                files[ref.dest] = data
                lines.append(line)
            elif line:
                absent.append(line)
        if absent:
            missing.append(f"{item.type} {item.name} lacks data: " + "; ".join(absent) + f". Download it into "
                           f"{config / 'data'}/, or mirror it as MIRROR/<host>/<path> and give --data-url MIRROR "
                           "(docs/hub.md, \"data: files\"); until then `synsec run` leaves the item out")
    return files, lines, missing


def _installed_bytes(config: Path, index: HubIndex, keys) -> dict:
    """{key: bytes} of the enabled items' installed files (unreadable ones left out)."""
    out = {}
    for key in keys:
        try:
            out[key] = (config / index.items[key].install_path).read_bytes()
        except OSError:
            pass
    return out


def _apply(config: Path, index: HubIndex, todo: list, hub_url: str, verb: str, origins: DataOrigins,
           check: list = (), refresh_all: bool = False) -> tuple[list, list]:
    """Download and write `todo`, then the data files of `todo` and of the enabled items in `check`;
    (lines, missing)."""
    got = _download(index, todo, hub_url)
    others = _installed_bytes(config, index, [k for k in check if k not in got])
    refresh = set(got) | (set(others) if refresh_all else set())
    files, lines, missing = _data_files(config, index, {**got, **others}, refresh, origins)
    for key in todo:
        write_file(config, index.items[key].install_path, got[key])
        unlink_file(config, kept_path(index.items[key]))      # a disabled copy is replaced by the new one
    for dest, content in files.items():
        write_file(config, f"data/{dest}", content)
    return [f"{verb} {t} {n} {index.items[(t, n)].version}" for t, n in todo] + lines, missing


def restore(config: Path, index: HubIndex, keys: list) -> list:
    """Move disabled items' kept files back into the active tree; what was done."""
    for key in keys:
        move_file(config, kept_path(index.items[key]), index.items[key].install_path)
    return [f"enabled {t} {n}" for t, n in keys]


def seed_profiles(config: Path) -> list:
    """A config dir without profiles.yaml gets synsec's (as CrowdSec's package ships /etc/crowdsec/profiles.yaml),
    so installed scenarios lead to decisions."""
    if (config / PROFILES).exists() or (config / PROFILES).is_symlink():
        return []
    write_file(config, PROFILES, (builtin_root() / PROFILES).read_bytes())
    return [f"{PROFILES}: synsec's default profiles written (edit it to change decisions)"]


def install(config: Path, index: HubIndex, keys: list, hub_url: str, force: bool = False,
            data_urls=(), local_dirs=()) -> Outcome:
    """Install `keys` and their dependencies; a tainted item (enabled or disabled) is kept unless `force`; a
    disabled item whose kept file is the index's version is enabled again, others are downloaded."""
    st = states(config, index)
    todo, back, refused = [], [], []
    wanted = closure(index, keys)
    for key in wanted:
        s = st[key]
        if s.edited and key[0] != "collections" and not force:
            refused.append(f"{key[0]} {key[1]} is tainted (edited locally){' and disabled' if s.disabled else ''}; "
                           "not overwritten (use --force" + (", or enable it)" if s.disabled else ")"))
        elif s.disabled and s.version == s.item.version and not force:
            back.append(key)
        elif not s.installed or (force and (s.edited or s.version != s.item.version)):
            todo.append(key)
    origins = DataOrigins(hub_url, tuple(data_urls), tuple(local_dirs))
    done, missing = _apply(config, index, todo, hub_url, "installed", origins,
                           check=[k for k in wanted if st[k].installed])
    done += restore(config, index, back)
    return Outcome(done + (seed_profiles(config) if todo or back else []), refused, missing)


def upgrade(config: Path, index: HubIndex, keys: list | None, hub_url: str, force: bool = False,
            data_urls=(), local_dirs=()) -> Outcome:
    """Bring enabled `keys` (all enabled items when None), and what they need, to the index's version; missing
    dependencies are installed, disabled ones stay disabled (as cscli's upgrade leaves them). The data files of
    every enabled item concerned are fetched again (their lists change without the items' versions)."""
    st = states(config, index)
    chosen = keys if keys is not None else [k for k, s in st.items() if s.installed]
    todo, refused, kept = [], [], []
    wanted = closure(index, chosen)
    for key in wanted:
        s = st[key]
        if s.disabled:
            kept.append(f"kept {key[0]} {key[1]} disabled")
        elif s.edited and key[0] != "collections" and not force:
            refused.append(f"{key[0]} {key[1]} is tainted (edited locally); not upgraded (use --force)")
        elif not s.installed or s.edited or s.version != s.item.version:
            todo.append(key)
    origins = DataOrigins(hub_url, tuple(data_urls), tuple(local_dirs))
    done, missing = _apply(config, index, todo, hub_url, "upgraded", origins,
                           check=[k for k in wanted if st[k].installed], refresh_all=True)
    return Outcome(done + kept, refused, missing)


def withdraw(config: Path, index: HubIndex, keys: list, force: bool, verb: str, act, keep_tainted: bool,
             if_disabled) -> Outcome:
    """Take `keys` out of the active tree with `act(item)`; a collection takes with it the dependencies no other
    enabled item needs (tainted ones stay when `keep_tainted`, unless `force`). An item another enabled item
    needs is refused unless `force`; an asked item that is disabled gets `if_disabled(item)` (a line)."""
    st = states(config, index)
    enabled = {k for k, s in st.items() if s.installed}
    done, refused, gone = [], [], set()

    def drop(key, asked):
        if key in gone or key not in enabled:
            return
        users = needed_by(index, key, enabled - gone)
        if users and not force:
            if asked:
                refused.append(f"{key[0]} {key[1]} is needed by " + ", ".join(f"{t} {n}" for t, n in users)
                               + " (use --force)")
            return
        if not asked and keep_tainted and st[key].tainted and not force:
            done.append(f"kept {key[0]} {key[1]} (tainted)")
            return
        act(index.items[key])
        gone.add(key)
        done.append(f"{verb} {key[0]} {key[1]}")
        for dep in index.items[key].deps:
            drop(dep, False)

    for key in keys:
        s = st[index.get(*key).key]
        if s.disabled:
            done.append(if_disabled(s.item))
        elif not s.installed:
            refused.append(f"{key[0]} {key[1]} is not installed")
        drop(key, True)
    return Outcome(done, refused)


def remove(config: Path, index: HubIndex, keys: list, force: bool = False) -> Outcome:
    """Remove `keys` (enabled or disabled) as `withdraw` does, tainted dependencies kept unless `force`."""
    def purge(item) -> str:
        unlink_file(config, item.install_path)
        unlink_file(config, kept_path(item))
        return f"removed {item.type} {item.name} (disabled)"

    return withdraw(config, index, keys, force, "removed", purge, True, purge)
