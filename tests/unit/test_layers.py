"""Imports point inward: engine ← content ← wire/assembly ← runner, streams, connectors ← cli.

Every import of the code packages is read from the AST, function-local imports included (a local import hides an
edge from a reader, not from this test). A package may import packages of lower layers only; packages of the same
layer do not import each other, except where SAME_LAYER says so.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Lowest first. A "package" is a top-level folder, or a sub-package of synsec.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("synsec.engine",),                                                   # pure core
    ("synsec.metrics",),                                                  # a leaf library (its error is in the tree)
    ("synsec.content",),                                                  # YAML → specs → compiled rules
    ("synsec.wire", "synsec.assembly", "synsec.store", "topologies",      # wire format, engine assembly, data,
     "synsec.hub", "synsec.setup"),                                       # hub index/install (reads no content),
                                                                          # setup's detection and plan
    ("synsec.runner", "streams", "connectors"),                           # runners and the edges
    ("synsec.cli",),                                                      # the click commands
)
RANK = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}

# Allowed imports between two packages of one layer: (importer package, imported module or its package) -> why.
SAME_LAYER: dict[tuple[str, str], str] = {
    ("streams", "connectors.central.curation"): "streams/curation.py runs central's pure curation in the topology",
    ("streams", "connectors.central.rules"): "and its rules (one curation for central and the topology)",
    ("streams", "connectors.central.pairs"): "and its collusion rule's co-foundings (the trust topic shares them)",
    ("streams", "connectors.central.bus"): "and reads the signals topic's time markers central's bus writes",
}


def package_of(module: str) -> str | None:
    """The layered package a dotted module name belongs to, or None for third-party and stdlib modules."""
    parts = module.split(".")
    if parts[0] == "synsec":
        return "synsec." + parts[1] if len(parts) > 1 else None
    return parts[0] if parts[0] in RANK else None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in `path`, relative imports resolved, nested ones included."""
    me = module_name(path).split(".")
    base_pkg = me if path.name == "__init__.py" else me[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = base_pkg[:len(base_pkg) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((node.lineno, mod))
            if mod == "synsec":                       # `from synsec import wire`
                out += [(node.lineno, f"synsec.{a.name}") for a in node.names]
    return out


def violations(path: Path) -> list[str]:
    me = package_of(module_name(path))
    if me is None:
        return []
    found = []
    for line, mod in imported(path):
        other = package_of(mod)
        if other is None or other == me:
            continue
        where = f"{path.relative_to(ROOT)}:{line}: {me} imports {mod}"
        if RANK[other] > RANK[me]:
            found.append(f"{where} (upward)")
        elif RANK[other] == RANK[me] and not any(
                importer == me and (mod == allowed or mod.startswith(allowed + "."))
                for importer, allowed in SAME_LAYER):
            found.append(f"{where} (same layer)")
    return found


def code_files() -> list[Path]:
    files = [p for top in ("synsec", "streams", "connectors", "topologies") for p in (ROOT / top).rglob("*.py")]
    return sorted(files)


def test_every_package_has_a_layer():
    """Each package of synsec/ and each top-level code folder is placed in a layer (a new one must be placed)."""
    packages = {package_of(module_name(p)) or module_name(p) for p in code_files()}
    assert packages - set(RANK) == {"synsec"}        # synsec/__init__.py itself


@pytest.mark.parametrize("path", code_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_imports_point_inward(path):
    """A module imports only lower layers (and same-layer packages listed in SAME_LAYER), local imports included."""
    assert violations(path) == []


def test_scanner_catches_upward_and_sideways_imports(tmp_path, monkeypatch):
    """The scanner flags an engine module importing the runner inside a function and streams importing connectors."""
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    (tmp_path / "synsec" / "engine").mkdir(parents=True)
    (tmp_path / "streams").mkdir()
    engine = tmp_path / "synsec" / "engine" / "bad.py"
    engine.write_text("def f():\n    from synsec.runner import replay\n    from ..wire import codecs\n")
    streams = tmp_path / "streams" / "bad.py"
    streams.write_text("import connectors.kafka.admin\nfrom synsec.wire.codecs import Codecs\n")
    assert violations(engine) == [
        "synsec/engine/bad.py:2: synsec.engine imports synsec.runner (upward)",
        "synsec/engine/bad.py:3: synsec.engine imports synsec.wire (upward)",
    ]
    assert violations(streams) == ["streams/bad.py:1: streams imports connectors.kafka.admin (same layer)"]
