"""Compiled statics keep CrowdSec's ProcessStatics rules: skip empty, count errors, fail on non-text values."""

from __future__ import annotations

from synsec.engine.errors import Where
from synsec.engine.expr import compile_expr
from synsec.engine.model import Event, Line
from synsec.engine.parser import ParseContext, Static
from synsec.engine.statics import compile_statics

W = Where("parsers/s01-parse/x.yaml", 3, "statics")


def _x(text: str):
    return compile_expr(text, where=W)


def _ctx(enrichers=None) -> ParseContext:
    return ParseContext(enrichers=enrichers or {}, enrich_ctx=None)


def test_writes_each_kind_in_order():
    """meta/parsed/enriched keys, evt.X targets and map targets are written; later entries see earlier ones."""
    apply = compile_statics((
        Static("parsed", "a", value="1"),
        Static("meta", "b", expr=_x("evt.Parsed.a + '2'")),
        Static("target", "evt.StrTime", expr=_x("evt.Meta.b")),
        Static("target", "evt.Parsed.c", value="3"),
        Static("enriched", "d", expr=_x("len(evt.Parsed.a) == 1")),
        Static("target", "evt.Line.Src", value="src"),
    ))
    evt, ctx = Event(Line("x")), _ctx()
    assert apply(evt, ctx) is True
    assert (evt.Parsed["a"], evt.Meta["b"], evt.StrTime, evt.Parsed["c"], evt.Enriched["d"], evt.Line.Src) == \
        ("1", "12", "12", "3", "true", "src")


def test_empty_values_are_skipped_but_parsedate_runs():
    """An empty value leaves the key unset, except that the ParseDate method is called with it."""
    seen = []
    apply = compile_statics((Static("meta", "a", expr=_x("evt.Parsed.missing")),
                             Static("method", "ParseDate", expr=_x("evt.StrTime"))))
    evt = Event(Line("x"))
    assert apply(evt, _ctx({"ParseDate": lambda v, e, c: seen.append(v) or {"MarshaledTime": "t"}})) is True
    assert "a" not in evt.Meta and seen == [""] and evt.Enriched["MarshaledTime"] == "t"


def test_errors_are_counted_and_a_map_value_fails_the_node():
    """A raising expression counts static_errors and is skipped; a map value counts and fails the statics."""
    evt, ctx = Event(Line("x")), _ctx()
    apply = compile_statics((Static("meta", "a", expr=_x("int(evt.Parsed.word)")),
                             Static("meta", "b", value="kept"),
                             Static("meta", "inf", expr=_x("1 / int(evt.Parsed.zero)"))))
    evt.Parsed.update(word="abc", zero="0")
    assert apply(evt, ctx) is True and evt.Meta == {"b": "kept", "inf": "+Inf"} and ctx.counts.total("parser_static_errors") == 1
    fail = compile_statics((Static("meta", "m", expr=_x("{'k': 1}")), Static("meta", "after", value="x")))
    assert fail(evt, ctx) is False and "after" not in evt.Meta and ctx.counts.total("parser_static_errors") == 2


def test_a_float_static_is_written_as_go_percent_f():
    """An expression giving a float is written as CrowdSec writes it (`fmt.Sprintf("%f")`): 401.000000."""
    from synsec.engine.statics import as_text

    assert as_text(401.0) == "401.000000" and as_text(7.181) == "7.181000" and as_text(3) == "3"


def test_a_static_value_is_its_yaml_source_text(tmp_path):
    """`value:` is read as Go's YAML decoders read it into a string field: the scalar as written (`yes`, `010`,
    `1.50`, `True`, `0x1F`), "" for null; PyYAML's bool/int/float readings would give true, 8, 1.5."""
    from synsec.content.loader import load_content
    from synsec.engine.enrichers import ENRICHERS, EnrichContext

    stage = tmp_path / "parsers" / "s00-raw"
    stage.mkdir(parents=True)
    written = {"a": "yes", "b": "010", "c": "1.50", "d": "True", "e": "0x1F", "f": "'quoted: yes'", "g": "~"}
    statics = "".join(f"  - meta: {k}\n    value: {v}\n" for k, v in written.items())
    (stage / "p.yaml").write_text(f"name: t/p\nstatics:\n{statics}")
    content = load_content(tmp_path)
    evt = Event(Line("x"))
    assert content.parsers.parse(evt, ParseContext(enrichers=ENRICHERS, enrich_ctx=EnrichContext())) is True
    assert dict(evt.Meta) == {"a": "yes", "b": "010", "c": "1.50", "d": "True", "e": "0x1F", "f": "quoted: yes"}


def test_expressions_run_inline_unless_their_names_clash():
    """Expressions are generated into the statics function (no call); one whose helper of another context would
    take a name already bound is called instead, and both read their own context's data."""
    from synsec.engine.expr import ExprContext

    one = ExprContext(files={"f.txt": ["a"]})
    two = ExprContext(files={"f.txt": ["b"]})
    statics = (Static("meta", "x", expr=compile_expr("evt.Parsed.p + '!'", where=W)),
               Static("meta", "one", expr=compile_expr("join(File('f.txt'), ',')", where=W, ctx=one)),
               Static("meta", "two", expr=compile_expr("join(File('f.txt'), ',')", where=W, ctx=two)))
    apply = compile_statics(statics)
    names = apply.__code__.co_names
    assert "_x0" not in names and "_x1" not in names and "_x2" in names
    evt = Event(Line("x"))
    evt.Parsed["p"] = "v"
    assert apply(evt, _ctx()) is True and (evt.Meta["x"], evt.Meta["one"], evt.Meta["two"]) == ("v!", "a", "b")


def test_inlined_code_that_does_not_compile_falls_back_to_calls(monkeypatch):
    """When the function with the expressions inline does not compile (too deep for Python), the statics still
    apply, calling each compiled expression."""
    import synsec.engine.statics as statics_module

    real = statics_module.generated_function

    def picky(code, ns, name, filename):
        if "v_evt.Parsed" in code:
            raise RecursionError("too deep")
        return real(code, ns, name, filename)

    monkeypatch.setattr(statics_module, "generated_function", picky)
    apply = compile_statics((Static("meta", "x", expr=compile_expr("evt.Parsed.p + '!'", where=W)),))
    assert "_x0" in apply.__code__.co_names
    evt = Event(Line("x"))
    evt.Parsed["p"] = "v"
    assert apply(evt, _ctx()) is True and evt.Meta["x"] == "v!"
