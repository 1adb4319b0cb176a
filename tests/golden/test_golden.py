"""Golden tests: every shipped parser, scenario and postoverflow replays its sample to the expected result
(format in tests/golden/README.md), and a meta-test fails when shipped content has no golden."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from synsec.content.loader import default_content_dir, find_yaml, load_content
from synsec.engine.model import Event, Line
from synsec.engine.parser import ParserPipeline
from synsec.engine.pipeline import Engine
from synsec.assembly.build import EngineOptions, build_engine

GOLDEN = Path(__file__).resolve().parent
CONTENT = default_content_dir()
YEAR = 2024


def _dirs(kind: str) -> list[Path]:
    return sorted(p for p in (GOLDEN / kind).iterdir() if p.is_dir()) if (GOLDEN / kind).is_dir() else []


@pytest.fixture(scope="module")
def content():
    return load_content(CONTENT)


def _engine(content, scenarios: list[str] | None, postoverflows: bool) -> Engine:
    """The runner's engine on a subset of the shipped content."""
    subset = dataclasses.replace(
        content, scenarios=[s for s in content.scenarios if scenarios is None or s.name in scenarios],
        postoverflows=content.postoverflows if postoverflows else ParserPipeline([]))
    return build_engine(EngineOptions(reference_year=YEAR), subset)[0]


def _lines(d: Path) -> list[str]:
    return [ln for ln in (d / "input.log").read_text().split("\n") if ln != ""]


def _labels(d: Path) -> dict:
    return {str(k): str(v) for k, v in (yaml.safe_load((d / "labels.yaml").read_text()) or {}).items()}


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


@pytest.mark.parametrize("d", _dirs("parsers"), ids=lambda p: p.name)
def test_parser_golden(content, d):
    """Each line of the parser sample parses (or not) with the expected Meta, Parsed and time."""
    expected = yaml.safe_load((d / "expected.yaml").read_text())
    engine = _engine(content, [], False)
    lines, labels = _lines(d), _labels(d)
    assert len(expected["lines"]) == len(lines), "every input line needs an expectation"
    for exp in expected["lines"]:
        evt = Event(Line(lines[exp["line"] - 1], str(d / "input.log"), labels))
        ok = engine.parsers.parse(evt, engine.ctx)
        assert ok == exp["parsed"], f"line {exp['line']}: parsed={ok}, expected {exp['parsed']}"
        if not ok:
            continue
        for key, value in (exp.get("meta") or {}).items():
            assert evt.Meta.get(key, "") == str(value), f"line {exp['line']}: Meta.{key}"
        for key, value in (exp.get("parsed_fields") or {}).items():
            assert evt.Parsed.get(key, "") == str(value), f"line {exp['line']}: Parsed.{key}"
        if exp.get("time"):
            assert evt.ts == pytest.approx(_utc(exp["time"]).timestamp()), f"line {exp['line']}: time"
        if exp.get("time_without_year"):
            got = datetime.fromtimestamp(evt.ts, timezone.utc).strftime("%m-%dT%H:%M:%SZ")
            assert got == exp["time_without_year"], f"line {exp['line']}: time"


def _replay(engine: Engine, d: Path) -> list:
    labels, alerts = _labels(d), []
    for text in _lines(d):
        alerts += engine.process(Line(text, str(d / "input.log"), labels)).alerts
    return alerts + engine.finish().alerts


@pytest.mark.parametrize("d", _dirs("scenarios") + _dirs("postoverflows") + _dirs("demo"), ids=lambda p: p.name)
def test_scenario_golden(content, d):
    """Replaying the sample gives exactly the expected alerts (scenario, source, events_count, overflow time)."""
    expected = yaml.safe_load((d / "expected.yaml").read_text())
    names = expected.get("scenarios")
    engine = _engine(content, None if names in (None, "all") or d.parent.name == "demo" else names,
                     bool(expected.get("postoverflows")))
    got = _replay(engine, d)
    with_time = Counter()
    for a in expected.get("alerts") or []:
        with_time[(a["scenario"], str(a["source_ip"]), a["events_count"])] += 1
    assert Counter((a.Scenario, a.Source.Value, a.EventsCount) for a in got) == with_time
    for a in expected.get("alerts") or []:
        if a.get("overflow_at"):
            at = _utc(a["overflow_at"]).timestamp()
            assert any(x.Scenario == a["scenario"] and x.Source.Value == str(a["source_ip"])
                       and x.StopAt == pytest.approx(at, abs=0.5) for x in got), f"overflow time of {a}"
    counts = Counter(a.Scenario for a in got)
    for scen, n in (expected.get("alert_counts") or {}).items():
        assert counts.get(scen, 0) == n, scen


def test_demo_goldens_are_the_samples():
    """The demo goldens replay exactly the sample logs `scripts/demo.sh` shows."""
    for d in _dirs("demo"):
        assert (d / "input.log").read_bytes() == (CONTENT / "samples" / f"{d.name}.log").read_bytes()


def _names(root: Path) -> set[str]:
    names = set()
    for path in find_yaml(root):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("name"):
                names.add(str(doc["name"]).split("/", 1)[-1])
    return names


@pytest.mark.parametrize("kind", ["parsers", "scenarios", "postoverflows"])
def test_every_shipped_item_has_a_golden(kind):
    """Meta-test: a shipped parser/scenario/postoverflow without a golden sample fails the suite."""
    shipped = _names(CONTENT / kind)
    assert shipped, f"no shipped {kind} found: the meta-test would be vacuous"
    have = {p.name for p in _dirs(kind)}
    assert shipped - have == set(), f"{kind} without a golden sample: {sorted(shipped - have)}"
