"""The README and docs/ explain the repository from inside it: every repository path they name exists, and none
points outside the checkout (a user who clones synsec has nothing beside it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TOP = {p.name for p in ROOT.iterdir() if not p.name.startswith(".")} | {".ci"}
SPAN = re.compile(r"`([^`\s]+)`")
LINK = re.compile(r"\]\(([^)\s#]+)")


def named_paths(text: str) -> list[str]:
    """Backticked tokens and markdown link targets that look like paths inside the repository."""
    out = []
    for token in SPAN.findall(text) + LINK.findall(text):
        token = token.rstrip(".,:;")
        if token.startswith("../") or "/../" in token:
            out.append(token)
        elif "/" in token and token.split("/", 1)[0] in TOP and re.fullmatch(r"[\w./*-]+", token):
            out.append(token)
    return out


def exists(token: str) -> bool:
    """A path or glob (`**.yaml` as CrowdSec writes it, `NNN` as a number placeholder) that matches something."""
    pattern = re.sub(r"\*\*(?=[^/])", "**/*", token.rstrip("/")).replace("NNN", "[0-9][0-9][0-9]")
    if re.fullmatch(r"synsec/[a-z0-9-]+", token) and not (ROOT / token).exists():
        return True                             # a scenario name (`synsec/ssh-bf`), not a path
    return any(ROOT.glob(pattern))


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_docs_name_only_paths_inside_the_repository(doc):
    """Every repository path a doc names exists in the checkout, and no doc sends readers outside it."""
    bad = []
    for token in named_paths(doc.read_text()):
        if token.startswith("../") or "/../" in token:
            bad.append(f"{token}: points outside the repository")
        elif not exists(token):
            bad.append(f"{token}: does not exist")
    assert not bad, f"{doc.relative_to(ROOT)}: " + "; ".join(bad)


def test_architecture_doc_exists_and_lists_every_layered_package():
    """docs/architecture.md gives each code package of the layering its role."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    for pkg in ("synsec/engine", "synsec/content", "synsec/wire", "synsec/assembly", "synsec/store",
                "topologies", "synsec/runner", "streams", "connectors", "synsec/cli"):
        assert f"`{pkg}" in text, pkg
