"""The expr language: precedence, operators, Go semantics, member access, chains, let, predicates, errors."""

from __future__ import annotations

import pytest

from synsec.engine.errors import ExprError, Where
from synsec.engine.expr import ExprRuntimeError, compile_expr, compile_predicate
from synsec.engine.model import Alert, Event, Line, Source

W = Where("scenarios/x.yaml", 12, "filter")


def ev(**meta) -> Event:
    e = Event(Line("raw text", Labels={"type": "nginx"}))
    e.Meta.update(meta)
    return e


def run(text: str, *args, params=("evt",)):
    return compile_expr(text, where=W, params=params)(*(args or (ev(),)))


@pytest.mark.parametrize("text,expected", [
    ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("2 ** 3 ** 2", 512.0), ("2 ^ 3", 8.0), ("-2 ** 2", -4.0),
    ("10 - 4 - 3", 3), ("7 % 4 * 2", 6), ("1 + 2 == 3", True), ("not true == false", True),
    ("true || false && false", True), ("(true || false) && false", False), ("1 < 2 == true", True),
    ("1 in [1, 2] and 3 > 2", True), ("1..3 == [1, 2, 3]", True), ("(nil ?? 1) + 1", 2),
    ("true ? 1 : 2 + 3", 1), ("false ? 1 : false ? 2 : 3", 3), ("1 < 2 < 3", True), ("3 > 2 > 2", False),
    ("1 < 2 < 3 == true", True), ("1 < 2 < 3 > 2", True), ("1 == 1 == true", True),
])
def test_precedence_table(text, expected):
    """Operators bind with expr v1.17's precedence and associativity."""
    assert run(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("1 == 1.0", True), ("true == 1", False), ("'a' + 'b'", "ab"), ("7 / 2", 3.5), ("4 / 2", 2.0),
    ("-7 % 3", -1), ("7 % -3", 1), ("'x' != 'y'", True), ("'abc' contains 'b'", True),
    ("'abc' startsWith 'ab'", True), ("'abc' endsWith 'bc'", True), ("'abc' not contains 'z'", True),
    ("'ab' matches '^a.$'", True), ("'ab' not matches 'z'", True), ("2 not in [1, 3]", True),
    ("'k' in {'k': 1}", True), ("'z' in {'k': 1}", False), ("!true", False), ("not false", True),
    ("-(3)", -3), ("+3", 3), ("[1, 2, 3][1]", 2), ("[1, 2, 3][-1]", 3), ("'hello'[1:3]", "el"),
    ("[1, 2, 3][:2]", [1, 2]), ("[1, 2, 3][1:]", [2, 3]), ("{'a': {'b': 2}}.a.b", 2), ("{'a': 1}['a']", 1),
    ("0x10 + 0b11 + 0o7 + 1_000", 1026), ("1.5e1", 15.0), ("'\\x41\\u00e9\\n'", "Aé\n"), ("`raw\\n`", "raw\\n"),
    ("\"d'q\"", "d'q"), ("1 / 0", float("inf")), ("true ?: false", True), ("nil == nil", True),
])
def test_each_operator(text, expected):
    """Each operator follows Go/expr semantics (numeric ==, float /, Go %, string ops, in on lists and maps)."""
    assert run(text) == expected


def test_strmap_missing_key_reads_empty():
    """A missing key in Meta/Parsed/Enriched/Labels reads as "" (Go map[string]string)."""
    assert run("evt.Meta.nope") == ""
    assert run("evt.Line.Labels.nope == ''") is True
    assert run("evt.Parsed['nope']") == ""


def test_plain_map_missing_key_reads_nil():
    """A missing key in a plain map (Unmarshaled, literals) reads as nil."""
    e = ev()
    e.Unmarshaled["a"] = {"b": 1}
    assert run("evt.Unmarshaled.a.c", e) is None
    assert run("evt.Unmarshaled.a.b", e) == 1


def test_member_on_nil_raises_runtime_error_with_text():
    """Member access on nil is a runtime error whose message carries the place and expression text."""
    with pytest.raises(ExprRuntimeError) as info:
        run("evt.Overflow.Alert.Source.IP")
    assert "scenarios/x.yaml:12" in str(info.value) and "evt.Overflow.Alert" in str(info.value)


def test_optional_chaining_and_coalesce():
    """`?.` turns a nil anywhere in the chain into nil; `??` supplies the default."""
    assert run("evt.Overflow?.Alert.Source.IP") is None
    assert run("evt.Overflow?.Alert.Source.IP ?? 'none'") == "none"
    assert run("evt.Unmarshaled?.x?.y") is None
    assert run("'v' ?? 'd'") == "v"


def test_let_binds_a_name():
    """`let x = ...; body` evaluates the value once and binds it in the body."""
    assert run("let x = evt.Meta.a + 'b'; x + x", ev(a="a")) == "abab"
    assert run("let a = 1; let b = a + 1; a + b") == 3


@pytest.mark.parametrize("text,expected", [           # expr v1.17.8's own examples (expr_test.go), then ours
    ("if 1 > 2 { 333 * 2 + 1 } else { 444 }", 444),
    ("let a = 3;\n let b = 2;\n if a>b {let c = a + b; c+1} else {10 + b}\n", 6),
    ('if "a" < "b" {let x = "a"; x} else {"abc"}', "a"),
    ('if 1 == 2 { "no" } else if 1 == 1 { "yes" } else { "maybe" }', "yes"),
    ("1; 2; 3", 3),
    ("let a = 1; len('xy'); let b = 2; a + b", 3),
    ("let x = 1; x;", 1),
    ("(1; 2) + 1", 3),
    ("let x = 1; (let y = x + 1; y * 10) + x", 21),
    ("(let x = 1; x) + (let x = 2; x)", 3),
    ("if evt.Meta.a == 'x' { 'hit' } else { 'miss' }", "miss"),
    ("if false { 1 } else if false { 2 } else if true { 3 } else { 4 }", 3),
    ("map([1, 2], { let z = # * 2; z + 1 })", [3, 5]),
    ("filter([1, 2, 3], { let odd = # % 2 == 1; odd })", [1, 3]),
    ("[1, 2] | map(# * 3)", [3, 6]),
    ("'a,b' | Split(',') | join('-')", "a-b"),
    ("evt.Meta.missing ?? 'd'", ""),
    ("evt.Unmarshaled.x ?? 'd'", "d"),
    ("evt.Unmarshaled?.a?.b ?? nil ?? 7", 7),
])
def test_expr_1_17_grammar(text, expected):
    """`if {} else {}` (with `else if`), `;` sequences, nested and sibling lets, `|` pipes and `??` as expr 1.17."""
    assert run(text) == expected


@pytest.mark.parametrize("text,fragment", [
    ("if true { 1 }", "expected 'else'"),
    ("if true { 1 } else { 2 } + 1", "unexpected token op('+')"),
    ("if true {} else { 1 }", "unexpected token"),
    ("1;;2", "unexpected token op(';')"),
    ("(1;)", "unexpected token"),
    ("any([1], #; true)", "wrap predicate with brackets"),
    ("let x = 1; let x = 2; x", "cannot redeclare variable x"),
    ("let x = 1; map([1], { let x = #; x })", "cannot redeclare variable x"),
    ("let evt = 1; evt", "cannot redeclare evt"),
    ("let Upper = 1; Upper", "cannot redeclare function Upper"),
    ("let map = 1; map", "cannot redeclare function map"),
    ("let if = 1; 2", "unexpected token op('if')"),
    ("(let x = 1; x) + x", "unknown name x"),
    ("if " * 60 + "true { 1 } else { 2 }" * 60, "nested too deeply"),
    ("if false { 1 } else " * 60 + "{ 2 }", "nested too deeply"),
    ("".join(f"let v{i} = {i}; " for i in range(60)) + "v0", "nested too deeply"),
])
def test_expr_1_17_grammar_errors(text, fragment):
    """Bad `if`/`let`/sequence text is a load error naming the place; the depth limit applies to the new forms."""
    with pytest.raises(ExprError) as info:
        compile_expr(text, where=W)
    assert str(info.value).startswith("scenarios/x.yaml:12: filter:") and fragment in str(info.value)


def test_predicates_with_pointer_and_field_shorthand():
    """any/all/none/one/filter/map/count work with `#`, `#index` and the `.Field` shorthand."""
    items = "[{'n': 1, 'k': 'a'}, {'n': 2, 'k': 'b'}, {'n': 3, 'k': 'a'}]"
    assert run(f"any({items}, {{.n > 2}})") is True
    assert run(f"all({items}, .n > 0)") is True
    assert run(f"none({items}, {{.k == 'z'}})") is True
    assert run(f"one({items}, {{.n == 2}})") is True
    assert run(f"map(filter({items}, {{.k == 'a'}}), {{#.n}})") == [1, 3]
    assert run(f"count({items}, {{.k == 'a'}})") == 2
    assert run("map([10, 20], {#index})") == [0, 1]
    assert run("find([1, 2, 3], # > 1)") == 2
    assert run("findIndex([1, 2, 3], # > 1)") == 1
    assert run("reduce([1, 2, 3], #acc + #)") == 6
    assert run("sum([1, 2, 3])") == 6
    assert run("[1, 2] | map(# * 2) | sum()") == 6
    assert run("any(nil, {# == 1})") is False


def test_nested_predicates_see_their_own_pointer():
    """An inner predicate's `#` is its own item; the outer one is unaffected."""
    assert run("map([[1, 2], [3]], {count(#, {# > 1})})") == [1, 1]


def test_event_and_alert_methods():
    """Methods on model objects (evt.GetMeta, Alert.GetScope) are called with CrowdSec names."""
    assert run("evt.GetMeta('a') == 'x' && evt.GetType() == 'log'", ev(a="x")) is True
    alert = Alert("s", Source(Scope="Ip", Value="1.2.3.4"), 3, 0.0, 1.0, Remediation=True)
    f = compile_predicate('Alert.Remediation == true && Alert.GetScope() == "Ip"', where=W, params=("Alert",))
    assert f(alert) is True


def test_constant_list_in_compiles_to_frozenset():
    """`x in ['a','b']` with a literal list is a frozenset lookup, and literals are folded at load."""
    c = compile_expr("evt.Meta.t in ['a', 'b'] && 1 + 1 == 2", where=W)
    assert "frozenset" not in c.source and "_set" in c.source
    assert c.fn.__globals__[next(k for k in c.fn.__globals__ if k.startswith("_set"))] == frozenset({"a", "b"})
    assert "1 + 1" not in c.source
    assert c(ev(t="b")) is True


def test_strmap_access_is_a_plain_get():
    """`evt.Meta.x` compiles to a dict get with "" default, no generic member helper."""
    src = compile_expr("evt.Meta.log_type == 'x'", where=W).source
    assert "v_evt.Meta.get('log_type', '')" in src and "_rt_member" not in src


def test_predicate_result_must_be_bool():
    """compile_predicate returns a Python bool, and a non-bool result is a runtime error."""
    assert compile_predicate("evt.Meta.a == 'x'", where=W)(ev(a="x")) is True
    with pytest.raises(ExprRuntimeError, match="expected bool"):
        compile_predicate("evt.Meta.a", where=W)(ev(a="x"))


@pytest.mark.parametrize("text,fragment,column", [
    ("evt.Meta.a ==", "unexpected token", 14),
    ("Nope(evt.Meta.a)", "unknown func Nope", 1),
    ("Upper(1, 2)", "wrong number of arguments", 1),
    ("evt.Meta.a matches '('", "invalid regexp", 20),
    ("nil ?? 1 + 1", "cannot be mixed", 10),
    ("foo.bar", "unknown name foo", 1),
    ("'unterminated", "literal not terminated", 1),
    ("# > 1", "pointer accessor outside predicate", 1),
])
def test_load_errors_name_place_column_and_text(text, fragment, column):
    """Syntax errors, unknown functions, bad arity and bad regexps are ExprError with path:line, column, text."""
    with pytest.raises(ExprError) as info:
        compile_expr(text, where=W)
    msg = str(info.value)
    assert msg.startswith("scenarios/x.yaml:12: filter:")
    assert fragment in msg and f"column {column}" in msg and repr(text) in msg


def test_missing_data_file_is_a_load_error():
    """File('x') with a name the context does not hold fails at load, naming the file."""
    with pytest.raises(ExprError, match="nope.txt"):
        compile_expr("any(File('nope.txt'), {# == evt.Meta.a})", where=W)


def test_runtime_errors_are_wrapped():
    """Every exception while evaluating becomes ExprRuntimeError carrying the cause."""
    with pytest.raises(ExprRuntimeError) as info:
        run("evt.Meta.a + 1")
    assert isinstance(info.value.cause, TypeError)


def test_comments_and_multiline_text():
    """`//` and `/* */` comments are skipped; multi-line expressions compile."""
    assert run("1 + /* two */ 2 // trailing\n + 3") == 6


def test_user_text_cannot_reach_python_names():
    """Dunder/underscore attributes are not reachable from expressions."""
    with pytest.raises((ExprError, ExprRuntimeError)):
        run("evt.__class__")
    with pytest.raises(ExprError):
        compile_expr("evt._secret()", where=W)


@pytest.mark.parametrize("text,message", [
    ("evt.THISPROPERTYSHOULDERROR == true", "type Event has no field THISPROPERTYSHOULDERROR"),
    ("evt.Line.Foo == 'x'", "type Line has no field Foo"),
    ("evt?.meta.source_ip", "type Event has no field meta"),            # fields are case-sensitive, as in Go
])
def test_an_unknown_field_of_the_event_is_a_load_error(text, message):
    """CrowdSec's expr knows pipeline.Event and Line at compile time: a field neither has is a load error
    ("has no field"), not a value read as nil at run time."""
    with pytest.raises(ExprError, match=message):
        compile_expr(text, where=W, params=("evt",))


def test_a_crowdsec_event_field_synsec_lacks_still_compiles():
    """evt.Appsec (CrowdSec's AppSec events, which synsec does not produce) compiles, for hub content that names
    it, and fails as a run-time expression error; known fields and maps compile as before."""
    fn = compile_expr("evt.Appsec.MatchedRules", where=W, params=("evt",))
    with pytest.raises(ExprRuntimeError):
        fn(ev())
    assert run("evt.Line.Labels.type + evt.Meta.missing + evt.Stage") == "nginx"
