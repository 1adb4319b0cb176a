"""`enable` and `disable` hub items without downloading or deleting anything (CrowdSec's semantics).

Disabling moves an item's file out of the active tree to `<config>/hub/<its hub path>` (CrowdSec keeps the
downloaded copy and removes its symlink); a disabled collection takes with it the dependencies no other enabled
item needs, and an item another enabled item needs is refused unless `force` (that collection then shows as
tainted: "missing parsers X"). Enabling moves kept files back, a collection's dependencies with it.
"""

from __future__ import annotations

from pathlib import Path

from synsec.hub.index import HubIndex
from synsec.hub.install import Outcome, restore, withdraw
from synsec.hub.resolve import closure
from synsec.hub.tree import kept_path, move_file, states

__all__ = ["enable", "disable"]


def disable(config: Path, index: HubIndex, keys: list, force: bool = False) -> Outcome:
    """Disable the enabled `keys` (and a collection's dependencies no other enabled item needs); edits are kept."""
    return withdraw(config, index, keys, force, "disabled",
                    lambda item: move_file(config, item.install_path, kept_path(item)), False,
                    lambda item: f"{item.type} {item.name} is already disabled")


def enable(config: Path, index: HubIndex, keys: list) -> Outcome:
    """Enable `keys` and what they need from the kept files; an item neither enabled nor kept (never installed,
    or removed) is refused and nothing is enabled."""
    st = states(config, index)
    back = [k for k in closure(index, keys) if st[k].disabled]
    missing = [k for k in closure(index, keys) if not st[k].installed and not st[k].disabled]
    if missing:
        return Outcome([], [f"{t} {n} is not installed (use `ccscli {t} install {n}`)" for t, n in missing])
    done = restore(config, index, back)
    done += [f"{t} {n} is tainted (edited locally)" for t, n in back if st[(t, n)].edited]
    return Outcome(done or [f"{t} {n} is already enabled" for t, n in keys], [])
