"""The engine's stage API (docs/architecture.md, "The engine's stage API"): its public surface, and that the
stages composed by hand, or split as the topology splits them, give what `Engine.process` gives."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from synsec.assembly.build import EngineOptions, build_engine, split_engine
from synsec.engine.buckets import BucketManager
from synsec.engine.model import Line
from synsec.engine.pipeline import INLINE, SPLIT, Engine

SAMPLES = Path(__file__).resolve().parents[2] / "scenarios" / "samples"
STAGES = {"parse", "route", "pour", "advance", "finish", "decide", "process"}
REF_TS = 1_772_000_000.0


def _lines() -> list[Line]:
    return [Line(text, "auth-demo.log", {"type": "syslog"})
            for text in (SAMPLES / "auth-demo.log").read_text().splitlines() if text]


@pytest.fixture()
def fresh():
    """A new inline engine (and its content) for each test: buckets and counts start empty."""
    return build_engine(EngineOptions(reference_year=2026))


def test_engine_public_surface_is_the_stage_api():
    """Engine's public methods are exactly the five stages, `finish` and the composed `process` (no growth)."""
    public = {name for name, _ in inspect.getmembers(Engine, inspect.isfunction) if not name.startswith("_")}
    assert public == STAGES


def test_runners_choose_inline_or_split_at_build_time(fresh):
    """build_engine handles overflows inline; split_engine (the buckets agent's) handles them split."""
    engine, content = fresh
    assert engine.after is INLINE
    assert split_engine(engine, BucketManager(content.scenarios)).after is SPLIT


def test_stages_by_hand_give_what_process_gives(fresh):
    """parse → route → pour(routes) (or advance when no route) + finish: the alerts and decisions of process."""
    engine, content = fresh
    by_hand, _ = build_engine(EngineOptions(reference_year=2026), content)
    composed, staged = [], []
    for line in _lines():
        composed.append(engine.process(line, REF_TS))
        evt = by_hand.parse(line, REF_TS)
        if evt is not None:
            routes = by_hand.route(evt)
            staged.append(by_hand.pour(evt, routes) if routes else by_hand.advance(evt.ts))
    composed.append(engine.finish())
    staged.append(by_hand.finish())
    alerts = [a.UUID for out in composed for a in out.alerts]
    assert alerts and alerts == [a.UUID for out in staged for a in out.alerts]
    assert [d.to_dict() for out in composed for d in out.decisions] == \
        [d.to_dict() for out in staged for d in out.decisions]


def test_split_engine_alerts_alike_and_leaves_decisions_to_decide(fresh):
    """Split: the same alerts as inline but no decision; `decide` on each alert then gives inline's decisions."""
    engine, content = fresh
    parser, _ = build_engine(EngineOptions(reference_year=2026), content)
    split = split_engine(parser, BucketManager(content.scenarios))
    inline, alerts = [], []
    for line in _lines():
        inline.append(engine.process(line, REF_TS))
        evt = parser.parse(line, REF_TS)
        if evt is not None:
            for out in (split.advance(evt.ts), split.pour(evt, parser.route(evt), moves_time=False)):
                assert not out.decisions
                alerts.extend(out.alerts)
    inline.append(engine.finish())
    alerts.extend(split.finish().alerts)
    assert [a.UUID for a in alerts] == [a.UUID for out in inline for a in out.alerts]
    decided = [d.to_dict() for a in alerts for d in parser.decide(a)]
    assert decided and decided == [d.to_dict() for out in inline for d in out.decisions]
