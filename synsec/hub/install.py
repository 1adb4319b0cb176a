"""A config directory in CrowdSec's layout: the hub index under `hub/`, installed items as plain files.

An installed item is the file `<config>/<type>/[<stage>/]<file>`; its version is the hub version whose sha256
matches the file, and a file matching none is **tainted** (edited locally): reported, and never overwritten
without `force`. Nothing is written outside the config directory: paths come from checked names
(synsec.hub.index), every directory on the way must be a real directory (not a symlink), and files are
replaced atomically without following a symlink at the destination.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from synsec.content.datafiles import MAX_DATA_FILE_BYTES
from synsec.hub.data import data_sources, locate
from synsec.hub.fetch import DEFAULT_HUB_URL, fetch
from synsec.hub.index import MAX_INDEX_BYTES, HubError, HubIndex, Item, parse_index
from synsec.hub.resolve import closure, needed_by

__all__ = ["default_config_dir", "has_installed_content", "ItemState", "Outcome", "update", "load_index", "hub_url_of", "states",
           "install", "remove", "upgrade"]

INDEX = "hub/.index.json"
SOURCE = "hub/.hub_url"


def default_config_dir() -> Path:
    """`$SYNSEC_CONFIG_DIR`, else `/etc/synsec` as root, else `$XDG_CONFIG_HOME/synsec` (`~/.config/synsec`)."""
    if os.environ.get("SYNSEC_CONFIG_DIR"):
        return Path(os.environ["SYNSEC_CONFIG_DIR"])
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/etc/synsec")
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "synsec"


def has_installed_content(config: Path) -> bool:
    """Whether `config` holds installed content: a YAML file below its parsers/, scenarios/ or postoverflows/."""
    from synsec.content.loader import find_yaml

    return any(find_yaml(config / part) for part in ("parsers", "scenarios", "postoverflows"))


@dataclass(frozen=True)
class ItemState:
    item: Item
    installed: bool
    version: str | None        # installed hub version; None when absent or tainted
    tainted: bool

    @property
    def status(self) -> str:
        if not self.installed:
            return "available"
        if self.tainted:
            return "tainted"
        return "installed" if self.version == self.item.version else "update-available"


@dataclass
class Outcome:
    done: list            # human lines: what changed
    refused: list         # human lines: what was refused (the command fails)


def _real_dirs(config: Path, relpath: str, create: bool) -> Path:
    """The directory of config/relpath, each directory on the way a real one (not a symlink), made if `create`."""
    here = config
    for part in relpath.split("/")[:-1]:
        here = here / part
        if os.path.islink(here) or (os.path.lexists(here) and not here.is_dir()):
            raise HubError(f"{here}: not a real directory; refusing to write through it")
        if create:
            here.mkdir(exist_ok=True)
    return here


def _write(config: Path, relpath: str, data: bytes) -> None:
    """Write `data` at config/relpath: no component may be a symlink; atomic replace; never outside `config`."""
    config.mkdir(parents=True, exist_ok=True)
    here = _real_dirs(config, relpath, create=True)
    target = here / relpath.split("/")[-1]
    tmp = here / f".{target.name}.synsec-tmp"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, target)


def update(config: Path, hub_url: str) -> HubIndex:
    """Fetch the hub's `.index.json`, check it, store it (and the URL) under `<config>/hub/`."""
    data = fetch(hub_url, ".index.json", MAX_INDEX_BYTES)
    index = parse_index(data)
    _write(config, INDEX, data)
    _write(config, SOURCE, hub_url.encode())
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


def _state(config: Path, item: Item) -> ItemState:
    path = config / item.install_path
    if not os.path.lexists(path):
        return ItemState(item, False, None, False)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ItemState(item, True, None, True)
    version = item.version_of(digest)
    return ItemState(item, True, version, version is None)


def states(config: Path, index: HubIndex) -> dict:
    """(type, name) -> ItemState; a collection is tainted when an installed dependency of it is."""
    out = {key: _state(config, item) for key, item in index.items.items()}

    def tainted(key, seen=()):
        st = out.get(key)
        if st is None or not st.installed or key in seen:
            return False
        return st.tainted or any(tainted(d, seen + (key,)) for d in st.item.deps)

    for key, st in list(out.items()):
        if key[0] == "collections" and st.installed and not st.tainted and tainted(key):
            out[key] = ItemState(st.item, True, st.version, True)
    return out


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


def _data_files(index: HubIndex, got: dict, bases: list) -> tuple[dict, list]:
    """The `data:` files of the items in `got` below the hub URL or an allowed prefix: ({dest_file: bytes},
    notes on those left alone)."""
    files, notes = {}, []
    for key, content in got.items():
        item = index.items[key]
        for url, dest in data_sources(content.decode("utf-8", "replace"), item.path):
            where = locate(url, bases)
            if where is None:
                notes.append(f"data file {dest} of {item.name} not downloaded: {url} is not below the hub URL "
                             "(--data-url PREFIX allows it; or put it in <config-dir>/data)")
            elif dest not in files:
                files[dest] = fetch(*where, max_bytes=MAX_DATA_FILE_BYTES)
    return files, notes


def _apply(config: Path, index: HubIndex, todo: list, hub_url: str, verb: str, data_urls=()) -> list:
    got = _download(index, todo, hub_url)
    files, notes = _data_files(index, got, [hub_url, *data_urls])
    for key in todo:
        _write(config, index.items[key].install_path, got[key])
    for dest, content in files.items():
        _write(config, f"data/{dest}", content)
    return ([f"{verb} {t} {n} {index.items[(t, n)].version}" for t, n in todo]
            + [f"data file {dest} downloaded" for dest in files] + notes)


def install(config: Path, index: HubIndex, keys: list, hub_url: str, force: bool = False,
            data_urls=()) -> Outcome:
    """Install `keys` and their dependencies; a tainted installed item is kept unless `force`."""
    st = states(config, index)
    todo, refused = [], []
    for key in closure(index, keys):
        s = st[key]
        if s.installed and s.tainted and key[0] != "collections" and not force:
            refused.append(f"{key[0]} {key[1]} is tainted (edited locally); not overwritten (use --force)")
        elif not s.installed or (force and (s.tainted or s.version != s.item.version)):
            todo.append(key)
    return Outcome(_apply(config, index, todo, hub_url, "installed", data_urls), refused)


def upgrade(config: Path, index: HubIndex, keys: list | None, hub_url: str, force: bool = False,
            data_urls=()) -> Outcome:
    """Bring installed `keys` (all installed items when None), and what they need, to the index's version."""
    st = states(config, index)
    chosen = keys if keys is not None else [k for k, s in st.items() if s.installed]
    todo, refused = [], []
    for key in closure(index, chosen):
        s = st[key]
        if s.installed and s.tainted and key[0] != "collections" and not force:
            refused.append(f"{key[0]} {key[1]} is tainted (edited locally); not upgraded (use --force)")
        elif not s.installed or s.tainted or s.version != s.item.version:
            todo.append(key)
    return Outcome(_apply(config, index, todo, hub_url, "upgraded", data_urls), refused)


def remove(config: Path, index: HubIndex, keys: list, force: bool = False) -> Outcome:
    """Remove `keys`; a collection takes with it the dependencies no other installed item needs (tainted ones
    stay unless `force`). An item another installed item needs is refused unless `force`."""
    st = states(config, index)
    installed = {k for k, s in st.items() if s.installed}
    done, refused = [], []
    gone: set = set()

    def drop(key, asked):
        if key in gone or key not in installed:
            return
        users = [u for u in needed_by(index, key, installed - gone) if u not in gone]
        if users and not force:
            if asked:
                refused.append(f"{key[0]} {key[1]} is needed by " + ", ".join(f"{t} {n}" for t, n in users)
                               + " (use --force)")
            return
        if not asked and st[key].tainted and not force:
            done.append(f"kept {key[0]} {key[1]} (tainted)")
            return
        relpath = index.items[key].install_path
        # unlink removes a link itself, never its target; the directories on the way are real ones
        os.unlink(_real_dirs(config, relpath, create=False) / relpath.split("/")[-1])
        gone.add(key)
        done.append(f"removed {key[0]} {key[1]}")
        for dep in index.items[key].deps:
            drop(dep, False)

    for key in keys:
        index.get(*key)
        if key not in installed:
            refused.append(f"{key[0]} {key[1]} is not installed")
        drop(key, True)
    return Outcome(done, refused)
