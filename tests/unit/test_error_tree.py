"""One error tree: every exception class synsec defines descends from `SynsecError`, and the tree drawn in
`synsec/engine/errors.py`'s docstring names every one of them."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import synsec.engine.errors as errors_module
from synsec.engine.errors import SynsecError

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("synsec", "streams", "connectors", "topologies")


def project_exceptions() -> dict[str, type]:
    """Every exception class defined in the project's packages, by qualified name."""
    found = {}
    for name in PACKAGES:
        pkg = importlib.import_module(name)
        mods = [pkg] + [importlib.import_module(m.name)
                        for m in pkgutil.walk_packages(pkg.__path__, prefix=f"{name}.")]
        for mod in mods:
            for _, obj in inspect.getmembers(mod, inspect.isclass):
                if issubclass(obj, BaseException) and obj.__module__ == mod.__name__:
                    found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


def test_every_exception_descends_from_synsec_error():
    """No exception class of synsec's own lives outside the SynsecError tree."""
    found = project_exceptions()
    assert len(found) > 20, sorted(found)
    outside = sorted(name for name, cls in found.items() if not issubclass(cls, SynsecError))
    assert not outside, outside


def test_the_tree_in_the_docstring_names_every_exception():
    """errors.py's docstring draws the whole tree: each class appears in it by name."""
    doc = errors_module.__doc__
    missing = sorted(name for name, cls in project_exceptions().items() if cls.__name__ not in doc)
    assert not missing, missing
