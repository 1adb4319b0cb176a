"""Dependency closures and reverse dependencies of hub items (pure)."""

from __future__ import annotations

from synsec.hub.index import HubError, HubIndex

__all__ = ["closure", "needed_by"]


def closure(index: HubIndex, keys: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """`keys` and everything they need, dependencies before the items that need them; HubError on a missing
    dependency or a collection cycle."""
    order: list = []
    done: set = set()

    def visit(key, path):
        if key in done:
            return
        if key in path:
            raise HubError(f"dependency cycle: {' -> '.join(n for _, n in path + (key,))}")
        item = index.get(*key)
        for dep in item.deps:
            visit(dep, path + (key,))
        done.add(key)
        order.append(key)

    for key in keys:
        visit(key, ())
    return order


def needed_by(index: HubIndex, key: tuple[str, str], installed: set) -> list[tuple[str, str]]:
    """The installed items (other than `key`) that list `key` as a direct dependency."""
    return sorted(k for k in installed if k != key and k in index.items and key in index.items[k].deps)
