"""Every filter/expression/groupby/distinct/... found in the CrowdSec hub compiles with compile_expr.

The hub root is $SYNSEC_HUB_ROOT, else /work/main/.cache/crowdsec, else /work/.cs-unpacked; the test skips
when none exists. Run as a script to print the coverage numbers.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from synsec.engine.errors import ExprError, Where
from synsec.engine.expr import ExprContext, ExprRuntimeError, compile_expr
from synsec.engine.model import Alert, Event, Line, Source

pytestmark = pytest.mark.hub

_KEYS = {"filter", "expression", "groupby", "distinct", "cancel_on", "overflow_filter", "duration_expr",
         "condition", "prefilter"}
_LIST_KEYS = {"filters", "on_success_filters", "blackhole_filters"}
_PARAMS = {"profiles": ("Alert",), "conditional": ("queue", "leaky", "evt")}


def hub_roots() -> list[Path]:
    candidates = [os.environ.get("SYNSEC_HUB_ROOT", ""), "/work/main/.cache/crowdsec", "/work/.cs-unpacked"]
    return [Path(c) for c in candidates if c and Path(c).is_dir()]


def _find(root: Path, *parts: str) -> Path | None:
    for base in (root, root / "usr/share/crowdsec", root / "root/usr/share/crowdsec"):
        if (base.joinpath(*parts)).exists():
            return base.joinpath(*parts)
    return None


def load_data(root: Path) -> ExprContext:
    ctx = ExprContext()
    data = _find(root, "data")
    if data is not None:
        for f in data.iterdir():
            if f.is_file():
                lines = [ln for ln in f.read_text(errors="replace").splitlines()
                         if ln and not ln.startswith("#")]
                ctx.files[f.name] = lines
                ctx.regexps[f.name] = lines
    return ctx


def _walk(node, path: str, out: list, params: tuple[str, ...]) -> None:
    if isinstance(node, dict):
        if node.get("type") == "conditional":
            params = _PARAMS["conditional"]
        for key, value in node.items():
            if key in _KEYS and isinstance(value, str):
                out.append((path, key, value, params))
            elif key in _LIST_KEYS | {"expression"} and isinstance(value, list):
                out.extend((path, key, v, params) for v in value if isinstance(v, str))
            elif key == "data" and isinstance(value, list):
                continue
            else:
                _walk(value, path, out, params)
    elif isinstance(node, list):
        for item in node:
            _walk(item, path, out, params)


def hub_expressions(root: Path) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(file, key, text, params) for every expression under root; profiles take `Alert`, the rest `evt`."""
    out: list = []
    for f in sorted(root.rglob("*.yaml")):
        params = _PARAMS["profiles"] if f.name == "profiles.yaml" else ("evt",)
        for doc in yaml.safe_load_all(f.read_text(errors="replace")):
            _walk(doc, str(f), out, params)
    return out


def _register_data_refs(root: Path, ctx: ExprContext) -> None:
    """Data files a hub item declares but the unpacked data dir lacks: empty lists, as instructed."""
    for f in root.rglob("*.yaml"):
        for doc in yaml.safe_load_all(f.read_text(errors="replace")):
            for item in (doc or {}).get("data", []) if isinstance(doc, dict) else []:
                name = item.get("dest_file") if isinstance(item, dict) else None
                if name:
                    ctx.files.setdefault(name, [])
                    ctx.regexps.setdefault(name, [])


def compile_all(root: Path) -> tuple[list, list[str]]:
    """(compiled expressions with their params, load-error messages)."""
    ctx = load_data(root)
    _register_data_refs(root, ctx)
    compiled, failures = [], []
    for path, key, text, params in hub_expressions(root):
        try:
            compiled.append((compile_expr(text, where=Where(path, 0, key), params=params, ctx=ctx), params))
        except ExprError as err:
            failures.append(str(err))
    return compiled, failures


def coverage(root: Path) -> tuple[int, list[str]]:
    compiled, failures = compile_all(root)
    return len(compiled) + len(failures), failures


def _sample_args(params: tuple[str, ...]) -> tuple:
    event = Event(Line("GET /index.php HTTP/1.1", Labels={"type": "nginx"}))
    event.Meta.update(log_type="http_access-log", http_path="/index.php", source_ip="192.0.2.7")
    event.Parsed.update(request="/index.php", http_user_agent="curl/8.0", program="nginx")
    alert = Alert("crowdsecurity/ssh-bf", Source(Value="192.0.2.7", IP="192.0.2.7"), 5, 0.0, 1.0)
    return tuple(event if p == "evt" else alert if p == "Alert" else None for p in params)


@pytest.mark.skipif(not hub_roots(), reason="no unpacked CrowdSec hub")
def test_every_hub_expression_compiles():
    """All hub filter/expression/groupby/distinct/... expressions and profile filters compile."""
    total, failures = coverage(hub_roots()[0])
    assert total > 100
    assert failures == [], "\n".join(failures[:20])


@pytest.mark.skipif(not hub_roots(), reason="no unpacked CrowdSec hub")
def test_hub_expressions_run_without_internal_errors():
    """Evaluating every hub expression raises at most ExprRuntimeError, never a NameError from codegen."""
    compiled, _ = compile_all(hub_roots()[0])
    internal = []
    for c, params in compiled:
        try:
            c(*_sample_args(params))
        except ExprRuntimeError as err:
            if isinstance(err.cause, (NameError, SyntaxError, UnboundLocalError)):
                internal.append(f"{c.text}: {err}")
    assert internal == []


if __name__ == "__main__":
    for r in hub_roots()[:1]:
        n, bad = coverage(r)
        print(f"{r}: {n - len(bad)}/{n} compile")
        for b in bad:
            print("  ", b)
