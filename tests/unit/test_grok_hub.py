"""Every grok in CrowdSec's hub parsers expands and compiles under RE2 with our shipped pattern library."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from synsec.content.patterns import load_patterns
from synsec.engine.errors import LoadError, Where

_CANDIDATES = [
    os.environ.get("SYNSEC_HUB_DIR", ""),
    "/usr/share/crowdsec/hub",
    "/work/.cs-unpacked/usr/share/crowdsec/hub",
]
HUB = next((Path(p) for p in _CANDIDATES if p and (Path(p) / "parsers").is_dir()), None)

pytestmark = [
    pytest.mark.hub,
    pytest.mark.skipif(HUB is None, reason="CrowdSec hub content not installed (set SYNSEC_HUB_DIR)"),
]


def _hub_groks():
    """(path, field, pattern-or-name, is_name, pattern_syntax inherited from the enclosing nodes)."""
    out = []

    def walk(node, path, field, syntax):
        if not isinstance(node, dict):
            return
        syntax = {**syntax, **(node.get("pattern_syntax") or {})}
        grok = node.get("grok")
        if isinstance(grok, dict):
            if grok.get("pattern"):
                out.append((path, f"{field}grok.pattern", grok["pattern"], False, syntax))
            elif grok.get("name"):
                out.append((path, f"{field}grok.name", grok["name"], True, syntax))
        for i, child in enumerate(node.get("nodes") or []):
            walk(child, path, f"{field}nodes[{i}].", syntax)

    for path in sorted((HUB / "parsers").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            walk(doc, str(path), "", {})
    return out


def test_every_hub_grok_compiles_under_re2():
    """All hub parser groks (library + their pattern_syntax) expand and compile; the count is reported."""
    lib = load_patterns()
    groks = _hub_groks()
    failures = []
    with_prefilter = 0
    for path, field, text, is_name, syntax in groks:
        where = Where(path, 0, field)
        try:
            grok = (lib.compile_named if is_name else lib.compile)(text, syntax=syntax, where=where)
        except LoadError as err:
            failures.append(str(err))
            continue
        with_prefilter += grok.prefilter is not None
    print(f"\nhub groks: {len(groks) - len(failures)}/{len(groks)} compile, {with_prefilter} with a prefilter")
    assert len(groks) > 100  # the walk found the hub's groks (185 in CrowdSec 1.4.6's hub)
    assert failures == []
