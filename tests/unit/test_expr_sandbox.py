"""Hostile expression text cannot leave the expr sandbox, write to events, crash the compiler or exhaust memory.

Regression tests for issue 10's expr findings: `str.format` reached module globals (and the environment) from
an event; filters could mutate events; a Python keyword as a method name, a method on an int literal or deep
nesting crashed the tools with SyntaxError/RecursionError; constant folding built ranges and strings of any size.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from synsec.cli.ccscli import ccscli
from synsec.engine.errors import ExprError, SynsecError, Where
from synsec.engine.expr import ExprRuntimeError, compile_expr, compile_predicate
from synsec.engine.expr.codegen import CompileError
from synsec.engine.expr.lexer import LexError
from synsec.engine.expr.parser import MAX_DEPTH, ParseError
from synsec.engine.expr.regex import RegexError
from synsec.engine.model import OVFLW, Alert, Event, Line, RuntimeAlert, Source

W = Where("parsers/s01-parse/x.yaml", 7, "statics.expression")
ESCAPE = ("'{0.GetMeta.__globals__[dataclass].__globals__[sys].modules[os].environ[SYNSEC_SANDBOX_SECRET]}'"
          ".format(evt)")


def ev(**meta) -> Event:
    e = Event(Line("raw text", Labels={"type": "nginx"}))
    e.Meta.update(meta)
    return e


def run(text: str, *args, params=("evt",)):
    return compile_expr(text, where=W, params=params)(*(args or (ev(),)))


def snapshot(e: Event) -> tuple:
    return (e.to_dict(), dict(e.Unmarshaled), e.Type, e.Process, e.Overflow)


def test_format_escape_to_environment_is_a_load_error(monkeypatch):
    """The finding's `'{0.GetMeta.__globals__...environ[X]}'.format(evt)` does not compile: `format` is no method."""
    monkeypatch.setenv("SYNSEC_SANDBOX_SECRET", "leaked-token-1f3a")
    with pytest.raises(ExprError) as err:
        compile_expr(ESCAPE, where=W)
    assert "unknown method format" in str(err.value) and str(err.value).startswith(f"{W}:")


def test_lint_rejects_format_escape_in_parser_statics(tmp_path, monkeypatch):
    """`ccscli lint` reports the escape in a parser static as path:line: field (it used to pass with 0 errors)."""
    monkeypatch.setenv("SYNSEC_SANDBOX_SECRET", "leaked-token-1f3a")
    cfg = tmp_path / "cfg"
    (cfg / "parsers" / "s01-parse").mkdir(parents=True)
    text = ESCAPE.replace('"', '\\"')
    (cfg / "parsers" / "s01-parse" / "p.yaml").write_text(
        f'name: p\nfilter: "true"\nonsuccess: next_stage\nstatics:\n  - meta: leak\n    expression: "{text}"\n')
    res = CliRunner().invoke(ccscli, ["--config-dir", str(cfg), "lint", "-o", "json"])
    assert res.exit_code == 1, res.output
    errors = json.loads(res.stdout)["errors"]
    assert [(Path(e["path"]).name, e["line"]) for e in errors] == [("p.yaml", 6)]
    assert "format" in errors[0]["message"] and "leaked-token" not in res.output


@pytest.mark.parametrize("text", [
    "'{0}'.format(evt)", "'{x}'.format_map(evt.Meta)", "evt.Meta.update({'x': 'y'})", "evt.Meta.clear()",
    "evt.Meta.pop('a')", "evt.Meta.get('a')", "evt.Unmarshaled.setdefault('a', 1)", "evt.copy()",
    "evt.to_dict()", "evt.__class__()", "evt._secret()", "evt.Line.Raw.upper()", "evt.Time.replace(year=1)",
    "Alert.Source.to_dict()", "[1].append(2)", "evt.GetMeta('a').__class__()", "evt.GetMeta()",
    "evt.SetMeta('a')", "evt.Line.GetMeta('a')",
])
def test_only_allowlisted_methods_compile(text):
    """A method that CrowdSec's expr environment does not offer (or a wrong arity) is a load error."""
    with pytest.raises(ExprError):
        compile_expr(text, where=W, params=("evt", "Alert"))


def test_documented_writers_fill_unmarshaled():
    """ParseKV and UnmarshalJSON still write into evt.Unmarshaled, as CrowdSec documents."""
    e = ev()
    run("""ParseKV('a=b c="d e"', evt.Unmarshaled, 'kv') ?? UnmarshalJSON('{"n": 1}', evt.Unmarshaled, 'js')""", e)
    run("""UnmarshalJSON('[2]', evt.Unmarshaled.js, 'm') ?? ParseKV('x=y', get(evt, 'Unmarshaled'), 'kv2')""", e)
    assert e.Unmarshaled == {"kv": {"a": "b", "c": "d e"}, "js": {"n": 1.0, "m": [2.0]}, "kv2": {"x": "y"}}
    with pytest.raises(ExprError, match="evt.Unmarshaled"):
        compile_expr("ParseKV('a=b', Alert.Labels, 'x')", where=W, params=("Alert",))


def test_allowlisted_methods_keep_working():
    """CrowdSec's methods (GetMeta, SetMeta, SetParsed, ParseIPSources, Alert/Source/RuntimeAlert getters) run."""
    e = ev(source_ip="192.0.2.7", a="x")
    assert run("evt.GetMeta('a') == 'x' && evt.GetType() == 'log'", e) is True
    assert run("evt.ParseIPSources()", e) == ["192.0.2.7"]
    assert run("evt.SetMeta('k', 'v') && evt.SetParsed('p', 'q')", e) is True
    assert e.Meta["k"] == "v" and e.Parsed["p"] == "q"
    alert = Alert("s/x", Source(Value="192.0.2.9", AsNumber="64500", AsName="EX"), 3, 0.0, 1.0, Meta={"m": "v"})
    got = run("[Alert.GetValue(), Alert.GetScope(), Alert.GetScenario(), Alert.GetEventsCount(), "
              "Alert.GetMeta('m'), Alert.HasRemediation(), Alert.Source.GetAsNumberName()]", alert,
              params=("Alert",))
    assert got == ["192.0.2.9", "Ip", "s/x", 3, "v", True, "64500 EX"]
    ovf = Event(type_=OVFLW)
    ovf.Overflow = RuntimeAlert(alert, Sources={"192.0.2.9": alert.Source})
    assert run("evt.Overflow.GetSources() == ['192.0.2.9'] && evt.ParseIPSources() == ['192.0.2.9']", ovf)


def test_method_on_untyped_value_checks_the_class_at_run_time():
    """`#.GetMeta(...)` in a predicate works on an Event and is a runtime error on anything else."""
    e = ev(a="x")
    e.Unmarshaled["evts"] = [ev(a="y")]
    assert run("map(evt.Unmarshaled.evts, {#.GetMeta('a')})", e) == ["y"]
    e.Unmarshaled["evts"] = [{"GetMeta": 1}]
    with pytest.raises(ExprRuntimeError, match="has no method GetMeta"):
        run("map(evt.Unmarshaled.evts, {#.GetMeta('a')})", e)


@pytest.mark.parametrize("text,at_load", [
    ("evt['GetMeta']", True), ("evt['__class__']", True), ("evt.Time.__class__", False), ("evt['_secret']", True),
    ("evt.Line['__slots__']", True), ("Sprintf('%v', evt.copy)", True), ("evt.Overflow?.Alert.to_dict", False),
])
def test_no_private_attribute_or_method_value_by_any_route(text, at_load):
    """Index and member access reach data fields only: no dunder/private name, no bound method as a value. On
    the Event and its Line (whose fields CrowdSec knows at compile time) such a name is already a load error."""
    e = ev()
    e.Overflow = RuntimeAlert(Alert("s", Source(), 1, 0.0, 0.0))
    if at_load:
        with pytest.raises(ExprError, match="has no field"):
            run(text, e)
        return
    with pytest.raises(ExprRuntimeError, match="cannot fetch"):
        run(text, e)


def test_get_builtin_reaches_data_fields_only():
    """`get(obj, name)` gives nil for a method, a dunder or a private name, the value for a field."""
    assert run("[get(evt, 'GetMeta'), get(evt, '__class__'), get(evt, '_x'), get(evt.Line, 'Raw')]") == \
        [None, None, None, "raw text"]


def test_event_is_read_only_to_filters():
    """Filters that used to mutate the event are load errors; ParseKV/UnmarshalJSON never write a string map."""
    e = ev(a="b")
    e.Overflow = RuntimeAlert(Alert("s", Source(), 1, 0.0, 0.0), Sources={"k": Source()})
    before = snapshot(e)
    for text in ("evt.Meta.update({'x': 'y'})", "evt.Meta.clear()", "evt.Meta.pop('a')",
                 "evt.Parsed.setdefault('x', 'y')"):
        with pytest.raises(ExprError):
            compile_expr(text, where=W)
    for text in ("UnmarshalJSON('{}', evt.Meta, 'x')", "ParseKV('a=b', evt.Parsed, 'x')",
                 "ParseKV('a=b', evt.Overflow.Alert.Labels, 'x')", "UnmarshalJSON('{}', evt.Line.Labels, 'x')"):
        with pytest.raises(ExprError, match="evt.Unmarshaled or a map in it"):
            compile_expr(text, where=W)
    for text in ("ParseKV('a=b', get(evt, 'Meta'), 'x')", "UnmarshalJSON('{}', get(evt.Line, 'Labels'), 'x')",
                 "ParseKV('a=b', {}, 'x')", "ParseKV('a=b', get(evt.Overflow, 'Sources'), 'x')"):
        with pytest.raises(ExprRuntimeError, match="cannot write into"):
            run(text, e)
    for text in ("evt.Meta.a == 'b'", "sort(keys(evt.Meta))", "reverse(values(evt.Meta))", "evt.GetMeta('a')"):
        run(text, e)
    assert snapshot(e) == before


@pytest.mark.parametrize("text", [
    "evt.Meta.x.if()", "(1).foo()", "evt.not()", "evt.in()", "evt.Meta.x.class()", "evt.lambda()",
    "1.e()", "'a'.__init__()", "nil.GetMeta('a')",
])
def test_python_keyword_or_literal_receiver_is_a_load_error(text):
    """A keyword as a method name or a method on a literal gives ExprError, never Python's SyntaxError."""
    with pytest.raises(ExprError):
        compile_expr(text, where=W)


@pytest.mark.parametrize("text", [
    "[" * 5000 + "]" * 5000, "(" * 5000 + "1" + ")" * 5000, "-" * 5000 + "1", "not " * 3000 + "true",
    "evt" + ".a" * 5000, "evt.Meta.a" + "[0]" * 3000, " + ".join(["'a'"] * 3000),
    "(evt.Meta.a == 'x' or " * 300 + "true" + ")" * 300, "{'a': " * 3000 + "1" + "}" * 3000,
    "any([1], {" * 200 + "true" + "})" * 200, "1 ? " * 3000 + "1" + " : 2" * 3000,
])
def test_deep_nesting_is_a_load_error(text):
    """5,000 nested brackets, unary operators, members or sigma-style groups: a clean load error."""
    with pytest.raises(ExprError, match="nested too deeply"):
        compile_expr(text, where=W)


@pytest.mark.parametrize("text", [
    "evt.Meta.a; " * 100_000 + "1", "[" + "evt.Meta.a, " * 100_000 + "1]", "evt.Meta.a; " * 6000 + "1",
    "let v = 1; " + "v; " * 30_000 + "v", "{" + "'k': 1, " * 20_000 + "}",
])
def test_huge_expression_is_a_quick_load_error(text):
    """Past MAX_NODES nodes (or 4x as many tokens) an expression is a load error within a second or two,
    sequences included, instead of many seconds of compiling."""
    started = time.process_time()
    with pytest.raises(ExprError, match="expression too large"):
        compile_expr(text, where=W)
    assert time.process_time() - started < 3.0


def test_nesting_up_to_the_limit_compiles():
    """Nesting just under MAX_DEPTH compiles and runs (the limit is far above hub content's 14 levels)."""
    depth = MAX_DEPTH - 2
    assert run("(" * depth + "1" + ")" * depth) == 1
    assert run("(evt.Meta.a == 'x' or " * (depth // 2) + "true" + ")" * (depth // 2)) is True


def test_long_flat_or_chain_compiles():
    """A 1,500-term sigma-style `or` list compiles (balanced, not nested 3,000 deep) and keeps its meaning."""
    terms = [f"evt.Meta.a == 'v{i}'" for i in range(1500)]
    c = compile_expr(" or ".join(terms), where=W)
    assert c(ev(a="v1499")) is True and c(ev(a="v0")) is True and c(ev(a="zz")) is False
    c = compile_expr(" && ".join(f"evt.Meta.a != 'v{i}'" for i in range(1500)), where=W)
    assert c(ev(a="zz")) is True and c(ev(a="v750")) is False


@pytest.mark.parametrize("text,match", [
    ("1..100000000", "more than 1000000 elements"), ("len(1..100000000)", "more than 1000000 elements"),
    ("repeat('a', 1000000000)", "longer than"), ("repeat(evt.Meta.a, 1000000000)", "longer than"),
    ("Replace(repeat('a', 1000), 'a', repeat('b', 100000), -1)", "longer than"),
    ("ReplaceAll(repeat('a', 100000), '', repeat('b', 100))", "longer than"),
    ("Sprintf('%1000000d%1000000d', 1, 2)", "longer than"),
])
def test_folding_and_runtime_build_bounded_values(text, match):
    """Huge ranges and strings are neither folded at load nor built at run time: a counted runtime error."""
    c = compile_expr(text, where=W)
    with pytest.raises(ExprRuntimeError, match=match):
        c(ev(a="a"))


def test_sprintf_width_past_go_limit_is_badwidth():
    """`Sprintf('%0999999999d', 1)` prints Go's %!(BADWIDTH), without building a gigabyte of zeros."""
    assert run("Sprintf('%0999999999d', 1)") == "%!(BADWIDTH)%!(NOVERB)%!(EXTRA int=1)"
    assert run("Sprintf('%.99999999f', 1.0)").startswith("%!(BADPREC)")


def test_large_int_products_are_not_folded_into_python_text():
    """An int product past int64 is left to run time (its 4,300-digit repr used to crash the compiler)."""
    text = " * ".join(["9223372036854775807"] * 40)
    assert run(text) == 9223372036854775807 ** 40


@pytest.mark.parametrize("cls", [LexError, ParseError, CompileError, RegexError, ExprError, ExprRuntimeError])
def test_expr_errors_are_synsec_errors(cls):
    """Every error the expr package raises on purpose is in the SynsecError tree."""
    assert issubclass(cls, SynsecError)


@pytest.mark.parametrize("text", [
    "any(1..10000, {any(1..10000, {false})})", "map(1..100, {1..1000000})",
    "map(1..100, {repeat(evt.Meta.a, 1000000)})", "reduce(1..200000, {#acc + evt.Meta.a + 'aaaaaaaaaa'}, '')",
    "[" + ", ".join(["repeat('a', 1000000)"] * 3000) + "]", "len(map(1..1000, {Sprintf('%500000d', #)}))",
])
def test_bounded_operations_nested_in_predicates_hit_the_budget(text):
    """Bounded ranges and strings multiplied by predicates or literals stop at MAX_WORK: a runtime error."""
    c = compile_expr(text, where=W)
    with pytest.raises(ExprRuntimeError, match="more than 10000000 elements"):
        c(ev(a="a"))


def test_everyday_predicates_stay_within_the_budget():
    """Walking a data-file-sized list or building a few strings per event is far below the budget."""
    assert run("count(1..100000, {# % 2 == 0}) + len(repeat('ab', 1000) + Sprintf('%5d', 1))") == 52005


def test_filter_with_huge_non_bool_result_fails_fast():
    """A filter whose value is a list of a million 1 MiB strings is an error whose message stays short."""
    c = compile_predicate("map(1..1000000, {repeat('a', 1000000)})", where=W)
    with pytest.raises(ExprRuntimeError, match="expected bool, but got list") as err:
        c(ev())
    assert len(str(err.value)) < 400


def test_match_glob_has_no_recursion_limit():
    """`Match` on a 3,000-character pattern answers (it raised RecursionError); past 200,000 steps it is an error."""
    assert run("Match(repeat('*', 3000), repeat('a', 1000))") is True
    assert run("Match(repeat('?', 3000), repeat('a', 1000))") is False
    assert run("Match('a*b', '{' + repeat('a', 1000000))") is False
    with pytest.raises(ExprRuntimeError, match="too long"):
        run("Match(repeat('*a', 300), repeat('a', 3000) + 'b')")
