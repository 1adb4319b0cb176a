"""Topic names come from the topology: no code outside `topologies/` spells one (docstrings and comments may).

Every string literal of the code packages (and bench/) is read from the AST; one that contains a topic name of a
shipped topology (changelog topics included) is a finding. A command takes `--topology` and asks it
(`synsec.cli.topics.topic_name`); a library takes the name as a parameter.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from synsec.wire.registry import VALUES
from topologies import available_topologies, load_topology

ROOT = Path(__file__).resolve().parents[2]

# file -> why it may spell topic names
ALLOWED = {
    "synsec/wire/registry.py": "schema subjects (`<topic>-value`, schemas/ids.json) are contracts of the schemas; "
                               "test_schema_subjects_follow_the_default_topology pins that they agree",
}


def topic_names() -> set[str]:
    return {t.name for name in available_topologies() for t in load_topology(name).all_topics.values()}


def _pattern(names: set[str]) -> re.Pattern:
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<![\w.-])(?:{alternatives})(?![\w-]|\.\w)")


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def spelled_topics(path: Path, pattern: re.Pattern, root: Path = ROOT) -> list[str]:
    """`path:line: 'literal'` for each string literal (not a docstring) naming a topic."""
    tree = ast.parse(path.read_text(), str(path))
    docs = _docstrings(tree)
    hits = [node for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docs and pattern.search(node.value)]
    return [f"{path.relative_to(root)}:{n.lineno}: {n.value!r}" for n in sorted(hits, key=lambda n: n.lineno)]


def code_files() -> list[Path]:
    return sorted(p for top in ("synsec", "streams", "connectors", "bench") for p in (ROOT / top).rglob("*.py")
                  if str(p.relative_to(ROOT)) not in ALLOWED)


def test_no_code_spells_a_topic_name():
    """No string literal in synsec/, streams/, connectors/ or bench/ names a topology's topic (they ask the topology)."""
    pattern = _pattern(topic_names())
    found = [hit for path in code_files() for hit in spelled_topics(path, pattern)]
    assert found == []


def test_scanner_flags_literals_not_docstrings(tmp_path):
    """The scanner flags a topic name in a literal or an f-string, not in a docstring or a longer name."""
    bad = tmp_path / "bad.py"
    bad.write_text('"""Reads synsec.decisions."""\n'
                   'TOPIC = "synsec.decisions"\n'
                   'def f(n):\n    """Writes synsec.alerts."""\n    return f"to synsec.alerts {n}"\n'
                   'OTHER = "synsec.decisions.batched"\n')
    assert spelled_topics(bad, _pattern({"synsec.decisions", "synsec.alerts"}), tmp_path) == [
        "bad.py:2: 'synsec.decisions'", "bad.py:5: 'to synsec.alerts '"]


@pytest.mark.parametrize("role", ["events", "buckets-in", "alerts", "decisions", "deadletter", "signals"])
def test_schema_subjects_follow_the_default_topology(role):
    """A topic value's schema subject is named after the default topology's topic of that role."""
    topics = {v.topic for v in VALUES.values() if v.topic}
    assert load_topology("default").topics[role].name in topics
