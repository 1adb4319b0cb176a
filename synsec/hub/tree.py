"""A config directory in CrowdSec's layout: where it is, the state of each hub item in it, safe writes and moves.

An **enabled** item is the file `<config>/<type>/[<stage>/]<file>` (the active tree synsec loads); a **disabled**
item is kept as `<config>/hub/<its hub path>` (CrowdSec's downloaded copy), out of the active tree. Its version is
the hub version whose sha256 matches the file; a file matching none is **tainted** (edited locally). Nothing is
written outside the config directory: paths come from checked names (synsec.hub.index), every directory on the
way must be a real directory (not a symlink), and files are replaced atomically without following a symlink.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

from synsec.hub.index import TYPES, HubError, HubIndex, Item

__all__ = ["default_config_dir", "has_installed_content", "ItemState", "states", "kept_path", "real_dirs",
           "write_file", "move_file", "unlink_file"]


def default_config_dir() -> Path:
    """`$SYNSEC_CONFIG_DIR`, else `/etc/synsec` as root, else `$XDG_CONFIG_HOME/synsec` (`~/.config/synsec`)."""
    if os.environ.get("SYNSEC_CONFIG_DIR"):
        return Path(os.environ["SYNSEC_CONFIG_DIR"])
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/etc/synsec")
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "synsec"


def has_installed_content(config: Path) -> bool:
    """Whether `config` holds installed content: an item enabled (a YAML file below parsers/, postoverflows/,
    scenarios/ or collections/) or disabled (kept below hub/<type>/), so that disabling everything runs nothing."""
    from synsec.content.loader import find_yaml

    return any(find_yaml(config / base / t) for base in (".", "hub") for t in TYPES)


def kept_path(item: Item) -> str:
    """Where a disabled item's file is kept in the config dir: `hub/<its path in the hub>`."""
    return f"hub/{item.path}"


@dataclass(frozen=True)
class ItemState:
    item: Item
    installed: bool            # enabled: its file is in the active tree
    version: str | None        # hub version of its file (enabled or kept); None when absent or edited
    tainted: bool              # its file is edited; for a collection also: a dependency is tainted or missing
    disabled: bool = False     # not in the active tree, its file kept under hub/ (`enable` restores it)

    @property
    def edited(self) -> bool:
        """Its own file (enabled or kept) matches no hub version."""
        return (self.installed or self.disabled) and self.version is None

    @property
    def status(self) -> str:
        if self.disabled:
            return "disabled"
        if not self.installed:
            return "available"
        if self.tainted:
            return "tainted"
        return "installed" if self.version == self.item.version else "update-available"


def _version_of(item: Item, path: Path) -> str | None:
    try:
        return item.version_of(hashlib.sha256(path.read_bytes()).hexdigest())
    except OSError:
        return None


def _state(config: Path, item: Item) -> ItemState:
    for relpath, enabled in ((item.install_path, True), (kept_path(item), False)):
        path = config / relpath
        if os.path.lexists(path):
            version = _version_of(item, path)
            return ItemState(item, enabled, version, version is None, disabled=not enabled)
    return ItemState(item, False, None, False)


def states(config: Path, index: HubIndex) -> dict:
    """(type, name) -> ItemState. An enabled collection is tainted when a dependency of it is tainted or not
    enabled (CrowdSec: "missing parsers X, tainted")."""
    out = {key: _state(config, item) for key, item in index.items.items()}

    def spoiled(key, seen) -> bool:
        st = out.get(key)
        if st is None or key in seen:
            return False
        if not st.installed:
            return True
        return st.tainted or any(spoiled(d, seen + (key,)) for d in st.item.deps)

    for key, st in list(out.items()):
        if key[0] == "collections" and st.installed and not st.tainted and any(
                spoiled(d, (key,)) for d in st.item.deps):
            out[key] = replace(st, tainted=True)
    return out


def real_dirs(config: Path, relpath: str, create: bool) -> Path:
    """The directory of config/relpath, each directory on the way a real one (not a symlink), made if `create`."""
    here = config
    for part in relpath.split("/")[:-1]:
        here = here / part
        if os.path.islink(here) or (os.path.lexists(here) and not here.is_dir()):
            raise HubError(f"{here}: not a real directory; refusing to write through it")
        if create:
            here.mkdir(exist_ok=True)
    return here


def write_file(config: Path, relpath: str, data: bytes) -> None:
    """Write `data` at config/relpath: no component may be a symlink; atomic replace; never outside `config`."""
    config.mkdir(parents=True, exist_ok=True)
    here = real_dirs(config, relpath, create=True)
    target = here / relpath.split("/")[-1]
    tmp = here / f".{target.name}.synsec-tmp"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, target)


def move_file(config: Path, src: str, dst: str) -> None:
    """Move config/src to config/dst (both checked as `write_file` does); a symlink moves as itself."""
    source = real_dirs(config, src, create=False) / src.split("/")[-1]
    os.replace(source, real_dirs(config, dst, create=True) / dst.split("/")[-1])


def unlink_file(config: Path, relpath: str) -> bool:
    """Remove config/relpath if it is there (a link itself, never its target); whether it was."""
    path = real_dirs(config, relpath, create=False) / relpath.split("/")[-1]
    if not os.path.lexists(path):
        return False
    os.unlink(path)
    return True
