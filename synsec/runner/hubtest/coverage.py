"""`hubtest coverage`: which parsers and scenarios of the hub its tests assert on (cscli's GetParsersCoverage /
GetScenariosCoverage). A parser is covered when a parser.assert reads a result of one of its nodes; a scenario
when a scenario.assert checks `GetScenario() == "its name"`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from synsec.content.yamlload import load_documents, read_content_file
from synsec.engine.errors import LoadError
from synsec.hub.index import HubIndex
from synsec.runner.hubtest.asserts import MAX_ASSERT_BYTES
from synsec.runner.hubtest.config import PARSER_ASSERT, SCENARIO_ASSERT, find_tests

__all__ = ["Coverage", "coverage"]

_PARSER = re.compile(r'^results\["[^"]+"\]\["([^"]+)"\]\[[0-9]+\]\.Evt\.', re.M)          # cscli's parserResultRE
_SCENARIO = re.compile(r'^results\[[0-9]+\].Overflow.Alert.GetScenario\(\) == "([^"]+)"', re.M)


@dataclass
class Coverage:
    name: str
    tests: list[str] = field(default_factory=list)    # the tests asserting on it


def _node_names(path: Path) -> set[str]:
    """The names of the top-level nodes of a parser file (each YAML document is one)."""
    try:
        docs = [doc for _, doc in load_documents(read_content_file(path), str(path))]
    except LoadError:
        return set()
    return {doc["name"] for doc in docs if isinstance(doc, dict) and isinstance(doc.get("name"), str)}


def _asserted(hub: Path, file: str, pattern: re.Pattern) -> dict[str, set[str]]:
    """name -> the tests whose `file` asserts on it."""
    out: dict[str, set[str]] = {}
    for test in find_tests(hub):
        try:
            text = read_content_file(test / file, MAX_ASSERT_BYTES)
        except LoadError:
            continue
        for name in set(pattern.findall(text)):
            out.setdefault(name, set()).add(test.name)
    return out


def coverage(hub: Path, index: HubIndex) -> dict[str, list[Coverage]]:
    """{"parsers": [...], "scenarios": [...]}: every item of the hub with the tests that cover it."""
    nodes = _asserted(hub, PARSER_ASSERT, _PARSER)
    scenarios = _asserted(hub, SCENARIO_ASSERT, _SCENARIO)
    parsers = []
    for item in index.of_type("parsers"):
        names = _node_names(Path(hub) / item.path) | {item.name}
        parsers.append(Coverage(item.name, sorted(set().union(*(nodes.get(n, set()) for n in names)))))
    return {"parsers": parsers,
            "scenarios": [Coverage(i.name, sorted(scenarios.get(i.name, ()))) for i in index.of_type("scenarios")]}
