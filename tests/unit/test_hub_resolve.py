"""Dependency closures and reverse dependencies of hub items (synsec.hub.resolve), on small hand-made indexes."""

from __future__ import annotations

import json

import pytest

from synsec.hub.index import HubError, parse_index
from synsec.hub.resolve import closure, needed_by

DIGEST = {"0.1": {"digest": "0" * 64}}


def index(**collections):
    """An index of parsers p/a, scenarios s/b and the given collections (name -> {type: [names]})."""
    doc = {"parsers": {"p/a": {"path": "parsers/s01-parse/p/a.yaml", "stage": "s01-parse", "version": "0.1",
                               "versions": DIGEST}},
           "scenarios": {"s/b": {"path": "scenarios/s/b.yaml", "version": "0.1", "versions": DIGEST}},
           "collections": {name: {"path": f"collections/{name}.yaml", "version": "0.1", "versions": DIGEST,
                                  **deps} for name, deps in collections.items()}}
    return parse_index(json.dumps(doc).encode())


def test_closure_puts_dependencies_first():
    """Every item of a closure comes after the items it needs; the asked collection comes last."""
    idx = index(**{"c/top": {"collections": ["c/sub"], "scenarios": ["s/b"]}, "c/sub": {"parsers": ["p/a"]}})
    assert closure(idx, [("collections", "c/top")]) == [
        ("scenarios", "s/b"), ("parsers", "p/a"), ("collections", "c/sub"), ("collections", "c/top")]


def test_closure_refuses_cycles_and_missing_items():
    """A collection cycle and a dependency absent from the index are HubErrors, not recursion or KeyError."""
    idx = index(**{"c/x": {"collections": ["c/y"]}, "c/y": {"collections": ["c/x"]}})
    with pytest.raises(HubError, match="cycle"):
        closure(idx, [("collections", "c/x")])
    with pytest.raises(HubError, match="no item"):
        closure(index(**{"c/x": {"parsers": ["p/missing"]}}), [("collections", "c/x")])


def test_needed_by_lists_installed_direct_users_only():
    """needed_by names the installed items that list the item, not uninstalled ones."""
    idx = index(**{"c/x": {"parsers": ["p/a"]}, "c/y": {"parsers": ["p/a"]}})
    assert needed_by(idx, ("parsers", "p/a"), {("collections", "c/x"), ("parsers", "p/a")}) == [
        ("collections", "c/x")]


def test_two_items_with_one_install_path_are_refused():
    """Two items that would install to the same file make the index unusable (one would overwrite the other)."""
    doc = {"scenarios": {a: {"path": f"scenarios/{a}.yaml", "version": "0.1", "versions": DIGEST}
                         for a in ("x/b", "y/b")}}                     # both install to scenarios/b.yaml
    with pytest.raises(HubError, match="install to"):
        parse_index(json.dumps(doc).encode())
