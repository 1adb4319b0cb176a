"""Every parser node's generated function (`Node.run`) does what `process_node` does for it: the same verdict,
the same event and the same counts, node by node, on the shipped content and on hostile shapes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from synsec.content.loader import default_content_dir, load_content
from synsec.engine.enrichers import ENRICHERS, EnrichContext
from synsec.engine.model import Event, Line
from synsec.engine.parser import ParseContext, process_node

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "parsers"


def _samples() -> list[tuple[str, dict]]:
    out = []
    for d in sorted(p for p in GOLDEN.iterdir() if p.is_dir()):
        labels = {str(k): str(v) for k, v in (yaml.safe_load((d / "labels.yaml").read_text()) or {}).items()}
        out += [(ln, labels) for ln in (d / "input.log").read_text().split("\n") if ln]
    return out


def _walk(pipeline, line: str, labels: dict, traced: bool):
    """Parse a line node by node (the interpreted path when `traced`), recording each node's verdict."""
    ctx = ParseContext(enrichers=ENRICHERS, enrich_ctx=EnrichContext(reference_year=2024))
    if traced:
        ctx.tracer = lambda node, evt, ok: None
    evt = Event(Line(line, "f", labels))
    seen = []
    ctx.collector = lambda stage, node, e, ok: seen.append((stage, node.where, ok, dict(e.Parsed), dict(e.Meta),
                                                           dict(e.Enriched), e.Stage, e.Whitelisted, e.StrTime))
    ok = pipeline.parse(evt, ctx)
    return ok, seen, evt.to_dict(), ctx.counts.snapshot()


@pytest.fixture(scope="module")
def pipeline():
    return load_content(default_content_dir()).parsers


def test_generated_nodes_match_process_node_on_every_golden_line(pipeline):
    """On every golden parser sample, each top-level node's verdict and the event after it are the same
    whether the stages run the generated functions or process_node."""
    samples = _samples()
    assert len(samples) > 100
    for line, labels in samples:
        assert _walk(pipeline, line, labels, False) == _walk(pipeline, line, labels, True), line


HOSTILE = """\
filter: "evt.Line.Labels.type == 'x'"
onsuccess: next_stage
name: t/hostile
nodes:
  - filter: "evt.Line.Raw contains 'int'"
    statics:
      - meta: n
        expression: "int(evt.Line.Raw)"
  - filter: "len(evt.Line.Raw)"
    statics:
      - meta: never
        value: "x"
  - grok:
      pattern: "^%{WORD:word} %{NUMBER:num}"
      apply_on: Line.Raw
      statics:
        - meta: word
          expression: evt.Parsed.word
    nodes:
      - filter: "evt.Parsed.num == '1'"
        statics:
          - meta: one
            value: "yes"
  - grok:
      pattern: "^%{WORD:w2}"
      expression: "evt.Parsed.missing"
  - grok:
      pattern: "^(?:x)?"
      apply_on: Line.Raw
whitelist:
  reason: test
  ip: ["10.0.0.1"]
  expression: ["evt.Line.Raw contains 'allow'"]
statics:
  - meta: source_ip
    value: "10.0.0.1"
  - meta: done
    value: "1"
"""


@pytest.mark.parametrize("line", ["int 1", "word 1", "word 2", "allow 3", "", "x", "zz 1 allow", "int"])
def test_generated_nodes_match_process_node_on_hostile_shapes(tmp_path, line):
    """Filters that raise or give a non-bool, groks without fields or on a missing field, children, whitelists
    and statics that fail: the generated functions and process_node agree, counts included."""
    stage = tmp_path / "parsers" / "s01-parse"
    stage.mkdir(parents=True)
    (stage / "hostile.yaml").write_text(HOSTILE)
    pipe = load_content(tmp_path).parsers
    labels = {"type": "x"}
    assert _walk(pipe, line, labels, False) == _walk(pipe, line, labels, True)
    node = pipe.stages[0].nodes[0]
    evt, ctx = Event(Line(line, "f", labels)), ParseContext(enrichers=ENRICHERS, enrich_ctx=EnrichContext())
    evt.Stage = "s01-parse"
    evt2, ctx2 = Event(Line(line, "f", labels)), ParseContext(enrichers=ENRICHERS, enrich_ctx=EnrichContext())
    evt2.Stage = "s01-parse"
    assert node.run(evt, ctx, ("s01-parse",)) == process_node(node, evt2, ctx2, ("s01-parse",))
    assert evt.to_dict() == evt2.to_dict() and ctx.counts.snapshot() == ctx2.counts.snapshot()


def test_a_node_whose_function_does_not_compile_is_interpreted(tmp_path, monkeypatch):
    """A node whose generated function Python refuses (a filter too deep to inline) runs through process_node,
    with the same verdicts."""
    import synsec.engine.parser as parser_module

    real = parser_module.generated_function

    def picky(code, ns, name, filename):
        if name == "_run":
            raise SyntaxError("too many nested parentheses")
        return real(code, ns, name, filename)

    monkeypatch.setattr(parser_module, "generated_function", picky)
    stage = tmp_path / "parsers" / "s01-parse"
    stage.mkdir(parents=True)
    (stage / "hostile.yaml").write_text(HOSTILE)
    pipe = load_content(tmp_path).parsers
    assert pipe.stages[0].nodes[0].run.__name__ == "<lambda>"        # the interpreting fallback
    for line in ("int 1", "word 1", "allow 3"):
        assert _walk(pipe, line, {"type": "x"}, False) == _walk(pipe, line, {"type": "x"}, True)
    assert pipe.parse(Event(Line("word 1", "f", {"type": "x"})), ParseContext(enrichers=ENRICHERS,
                                                                           enrich_ctx=EnrichContext())) is True
