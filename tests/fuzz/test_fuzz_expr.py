"""Fuzz of the expr compiler: hostile expression text never escapes the sandbox, crashes it or writes an event.

Hypothesis builds expression texts from expr's grammar (identifiers, evt.* paths, method calls with any name --
Python keywords, dunders, `format` --, literals, every operator, nesting, helper calls with random arguments,
strings such as `{0.__class__}`) and token soup. For each text:

* compiling raises nothing but a SynsecError (an ExprError naming path:line: field);
* evaluating a compiled text (as an expression and as a filter) raises nothing but ExprRuntimeError, and never
  from a MemoryError or RecursionError;
* the value of a sentinel environment variable never shows in a result, an error message or the event;
* the event and the alert are unchanged, unless the text calls one of CrowdSec's documented writers.

CI mode is derandomized and bounded (~20 s); `SYNSEC_FUZZ_LONG=1` runs many more examples
(`SYNSEC_FUZZ_EXAMPLES=n` sets the count). The number of texts tried is printed at the end of the module.
"""

from __future__ import annotations

import os
import resource
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synsec.engine.errors import SynsecError, Where
from synsec.engine.expr import ExprContext, ExprRuntimeError, compile_expr, compile_predicate, helper_names
from synsec.engine.expr.registry import REGISTRY
from synsec.engine.model import Alert, Event, Line, Source

LONG = os.environ.get("SYNSEC_FUZZ_LONG") == "1"
EXAMPLES = int(os.environ.get("SYNSEC_FUZZ_EXAMPLES", "100000" if LONG else "2000"))
SENTINEL_VAR = "SYNSEC_FUZZ_SENTINEL"
SENTINEL = uuid.uuid4().hex
WRITERS = ("SetMeta", "SetParsed", "ParseKV", "ParseKVLax", "UnmarshalJSON")    # CrowdSec's documented writers
W = Where("fuzz.yaml", 1, "filter")
TRIED = {"texts": 0, "compiled": 0, "ran": 0, "runtime_errors": 0}

# --- the grammar -----------------------------------------------------------------------------------------
NAMES = ["evt", "Alert", "x", "nil", "true", "false", "if", "class", "lambda", "None", "True", "import",
         "__class__", "__globals__", "_x", "os", "sys", "environ", "self", "v_evt", "_rt_member", "__builtins__"]
PATHS = ["evt", "evt.Meta", "evt.Meta.source_ip", "evt.Meta.log_type", "evt.Parsed", "evt.Parsed.request",
         "evt.Line", "evt.Line.Raw", "evt.Line.Labels.type", "evt.Unmarshaled", "evt.Unmarshaled.j",
         "evt.Unmarshaled.evts", "evt.Time", "evt.Overflow", "evt.Enriched", "evt.Type", "Alert",
         "Alert.Source", "Alert.Source.Value", "Alert.Events", "Alert.Meta", "Alert.Labels"]
METHODS = ["GetMeta", "SetMeta", "SetParsed", "GetType", "ParseIPSources", "GetValue", "GetScope",
           "GetScenario", "GetEventsCount", "GetSources", "GetAsNumberName", "HasRemediation", "format",
           "format_map", "update", "clear", "pop", "get", "copy", "to_dict", "setdefault", "upper", "join",
           "__class__", "__init__", "__subclasses__", "mro", "_x", "if", "class", "in", "not", "lambda", "e",
           "append", "replace", "keys", "items", "__getattribute__", "__reduce__", "Hour", "Weekday", "String",
           "Unix", "Month"]
FIELDS = ["Meta", "Parsed", "Line", "Raw", "Labels", "Unmarshaled", "Source", "Value", "Time", "j", "a",
          "__class__", "__globals__", "__dict__", "_x", "GetMeta", "copy", "format", "tzinfo", "year", "real",
          "__slots__", "f_globals", "gi_frame", "if", "not", "in", "environ", SENTINEL_VAR]
STRINGS = ["", "a", "x", "192.0.2.7", "{0}", "{0.__class__}", "{0.GetMeta.__globals__}", "{x}", "%v", "%s",
           "%d", "%0999999999d", "%.999999999f", "%q", "%x", "%*d", "%!", "__class__", "__globals__",
           SENTINEL_VAR, "environ", "os", "\\x41", "'", "`", "a.b[1].c", "k=v k2=\"q\"", "{\"a\": [1, 2]}",
           "%", "\\u00e9", "(?i)a+", "[", "*", "GetMeta", "log", "http_access-log"]
INTS = ["0", "1", "2", "3", "7", "-1", "10", "100", "3000", "1000000000", "9223372036854775807", "0x10", "0b11",
        "1048577", "1_000", "99999999999999999999"]
FLOATS = ["0.5", "1e3", "1.5e300", "1e999", ".5", "2.0"]
OPS = ["+", "-", "*", "/", "%", "**", "^", "==", "!=", "<", ">", "<=", ">=", "and", "or", "&&", "||", "in",
       "not in", "matches", "not matches", "contains", "startsWith", "endsWith", "..", "??", "|"]
PREDICATES = ["any", "all", "none", "one", "filter", "map", "count", "sum", "find", "findIndex", "findLast",
              "findLastIndex", "groupBy", "sortBy", "reduce"]
HELPERS = [h for h in helper_names() if h not in PREDICATES and h not in ("File", "RegexpInFile")]


def _quote(s: str) -> st.SearchStrategy[str]:
    escaped = s.replace("\\", "\\\\").replace("'", "\\'")
    return st.sampled_from([f"'{escaped}'", "`" + s.replace("`", "") + "`",
                            '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'])


def _string_literal() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(STRINGS).flatmap(_quote),
                     st.text(alphabet="{}0._%abcdGM'\"\\`#", max_size=12).map(lambda s: repr(s)))


ATOMS = st.one_of(st.sampled_from(NAMES), st.sampled_from(PATHS), st.sampled_from(PATHS), st.sampled_from(INTS),
                  st.sampled_from(FLOATS), _string_literal(), _string_literal(),
                  st.sampled_from(["#", "#index", "#acc", ".Meta", "[]", "{}", "[]", "{}"]))


def _args(inner, low: int = 0, high: int = 3) -> st.SearchStrategy[str]:
    return st.lists(inner, min_size=low, max_size=high).map(", ".join)


def _compound(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, st.sampled_from(OPS), inner).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.tuples(st.sampled_from(["not ", "!", "-", "+"]), inner).map("".join),
        inner.map(lambda e: f"({e})"),
        st.tuples(inner, st.sampled_from([".", "?."]), st.sampled_from(FIELDS)).map("".join),
        st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(inner, inner, inner).map(lambda t: f"{t[0]}[{t[1]}:{t[2]}]"),
        st.tuples(inner, st.sampled_from(METHODS), _args(inner)).map(lambda t: f"{t[0]}.{t[1]}({t[2]})"),
        st.tuples(st.sampled_from(HELPERS + ["Nope", "eval", "__import__", "open"]), _args(inner, 0, 4))
        .map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(PREDICATES), inner, inner).map(lambda t: f"{t[0]}({t[1]}, {{{t[2]}}})"),
        st.tuples(inner, inner, inner).map(lambda t: f"{t[0]} ? {t[1]} : {t[2]}"),
        st.tuples(inner, inner).map(lambda t: f"let v = {t[0]}; {t[1]}"),
        st.tuples(inner, inner, inner).map(lambda t: f"let v = {t[0]}; let w = {t[1]}; {t[2]}"),
        st.tuples(inner, inner, inner).map(lambda t: f"if {t[0]} {{ {t[1]} }} else {{ {t[2]} }}"),
        st.tuples(inner, inner, inner, inner).map(lambda t: f"if {t[0]} {{ {t[1]} }} else if {t[2]} {{ {t[3]} }} "
                                                            "else { nil }"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]}; {t[1]})"),
        _args(inner, 0, 4).map(lambda a: f"[{a}]"),
        st.lists(st.tuples(_string_literal(), inner), max_size=3)
        .map(lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}"),
        st.tuples(inner, st.sampled_from(["upper", "lower", "trim", "len", "Upper"])).map(
            lambda t: f"{t[0]} | {t[1]}()"),
    )


def _helper_call(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A registered helper with an argument count it accepts (so that more texts compile and run)."""
    def one(name: str) -> st.SearchStrategy[str]:
        h = REGISTRY[name]
        high = h.min_args + 2 if h.max_args is None else h.max_args
        return st.lists(inner, min_size=h.min_args, max_size=high).map(lambda a: f"{name}({', '.join(a)})")
    return st.sampled_from(sorted(n for n in REGISTRY if n not in ("File", "RegexpInFile"))).flatmap(one)


def _typed(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(_compound(inner), _helper_call(inner), _helper_call(inner))


EXPRESSIONS = st.recursive(ATOMS, _typed, max_leaves=24)
TOKENS = st.lists(st.one_of(ATOMS, st.sampled_from(OPS + ["(", ")", "[", "]", "{", "}", ",", ":", ";", "?",
                                                          ".", "#", "let", "=", "?.", "::", "$", "@",
                                                          "if", "else", "??", "|"])),
                  max_size=25).map(" ".join)
TEXTS = st.one_of(EXPRESSIONS, EXPRESSIONS, TOKENS,
                  st.tuples(st.sampled_from(["(", "[", "-", "not ", "any([1], {"]), st.integers(1, 400))
                  .map(lambda t: t[0] * t[1] + "1"))


# --- the checks ------------------------------------------------------------------------------------------
def sample() -> tuple[Event, Alert]:
    e = Event(Line("GET /index.php HTTP/1.1", Src="/var/log/nginx.log", Labels={"type": "nginx"}))
    e.Meta.update(log_type="http_access-log", source_ip="192.0.2.7", http_path="/index.php")
    e.Parsed.update(request="/index.php", verb="GET")
    inner = Event(Line("inner"))
    inner.Meta["a"] = "b"
    e.Unmarshaled.update(j={"a": [1, 2], "b": "x"}, evts=[inner])
    alert = Alert("crowdsecurity/ssh-bf", Source(Value="192.0.2.7", IP="192.0.2.7"), 5, 0.0, 1.0,
                  Meta={"m": "v"}, Labels={"k": "v"})
    return e, alert


def state(e: Event, alert: Alert) -> tuple[str, str]:
    """(what only a documented writer may change: Meta, Parsed, Unmarshaled; everything else)."""
    inner = [x.to_dict() if isinstance(x, Event) else x for x in e.Unmarshaled.get("evts", [])]
    written = repr((dict(e.Meta), dict(e.Parsed), {k: v for k, v in e.Unmarshaled.items() if k != "evts"}, inner))
    d = e.to_dict()
    del d["meta"], d["parsed"]
    return written, repr((d, e.Type, e.Process, e.Overflow, alert.to_dict(), alert.Meta))


def mentions_sentinel(value, budget: int = 200_000) -> bool:
    """Whether the sentinel occurs in a value, walked without building its (maybe huge) repr."""
    stack = [value]
    seen: set[int] = set()
    while stack and budget > 0:
        item = stack.pop()
        budget -= 1
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, str):
            if SENTINEL in item:
                return True
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, Event):
            stack.extend(state(item, sample()[1]))
        elif SENTINEL in repr(item)[:10000]:
            return True
    return False


def check(text: str) -> None:
    """One fuzzed text: only project errors, no sentinel anywhere, no write without a documented writer."""
    TRIED["texts"] += 1
    assert SENTINEL not in text
    try:
        compiled = compile_expr(text, where=W, params=("evt", "Alert"), ctx=ExprContext())
    except SynsecError as err:
        assert SENTINEL not in str(err)
        return
    TRIED["compiled"] += 1
    for fn in (compiled, compile_predicate(text, where=W, params=("evt", "Alert"), ctx=ExprContext())):
        evaluate(text, fn)


def evaluate(text: str, fn) -> None:
    e, alert = sample()
    before = state(e, alert)
    try:
        result = fn(e, alert)
    except ExprRuntimeError as err:
        TRIED["runtime_errors"] += 1
        assert not isinstance(err.cause, (MemoryError, RecursionError)), f"{text!r}: {err}"
        assert SENTINEL not in str(err)
        result = None
    TRIED["ran"] += 1
    after = state(e, alert)
    assert not mentions_sentinel(result) and SENTINEL not in after[0] + after[1], text
    assert after[1] == before[1], f"{text!r} changed the line, the alert or a field no writer may touch"
    if not any(w in text for w in WRITERS):
        assert after[0] == before[0], f"{text!r} changed the event without a documented writer"


@pytest.fixture(scope="module", autouse=True)
def sentinel_and_memory_cap():
    """The sentinel in the environment, and an address-space cap so an unbounded allocation is a MemoryError."""
    os.environ[SENTINEL_VAR] = SENTINEL
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        used = int(f.read().split()[0]) * resource.getpagesize()
    cap = used + (3 << 30)
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    yield
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    del os.environ[SENTINEL_VAR]
    print(f"\nexpr fuzz: {TRIED['texts']} texts tried, {TRIED['compiled']} compiled, {TRIED['ran']} evaluations "
          f"({TRIED['runtime_errors']} runtime errors), long={LONG}")


FUZZ = settings(max_examples=EXAMPLES, derandomize=not LONG, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


@FUZZ
@given(TEXTS)
def test_fuzzed_expressions_stay_in_the_sandbox(text):
    """No fuzzed text escapes: project errors only, the sentinel never shows, filters do not write."""
    check(text)


@pytest.mark.parametrize("text", [
    "'{0.GetMeta.__globals__[dataclass].__globals__[sys].modules[os].environ[SYNSEC_FUZZ_SENTINEL]}'.format(evt)",
    "'{0.__class__}'.format(evt)", "evt.Meta.update({'x': 'y'})", "evt.Meta.x.if()", "(1).foo()",
    "[" * 5000 + "]" * 5000, "1..100000000", "repeat('a', 1000000000)", "Sprintf('%0999999999d', 1)",
    "get(evt, 'GetMeta')", "evt['__class__']", "Sprintf('%v', get(evt.Time, 'tzinfo'))",
    "map(1..1000000, {repeat('a', 1000000)})", "ParseKV('a=b', get(Alert, 'Labels'), 'x')",
    "if true { " * 1000 + "1" + " } else { 2 }" * 1000, "if false { 1 } else " * 1000 + "{ 2 }",
    "let v = 1; " * 1000 + "v", "1; " * 3000 + "evt.Meta", "let v = evt.Meta; v.update({'x': 'y'})",
    "let v = evt; v.__class__", "if true { evt.Meta.x.if() } else { 1 }", "(evt.Meta; evt.Parsed)['__class__']",
])
def test_known_escapes_stay_in_the_sandbox(text):
    """The issue's findings, run through the same checks as the fuzzed texts."""
    check(text)
