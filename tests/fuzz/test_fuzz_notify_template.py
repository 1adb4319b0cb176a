"""Fuzz of the notification template evaluator: hostile `format` text compiles or fails with a TemplateError,
renders or fails with a TemplateError, never reaches a Python attribute and never exceeds its output bound.

Hypothesis builds template texts from Go's text/template grammar (actions, range/if/with/else/end, variables,
pipelines, function calls, field paths with dunder names, trim markers, token soup). CI mode is derandomized
and bounded (a few seconds); `SYNSEC_FUZZ_LONG=1` runs many more examples."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synsec.engine.notify_template import FUNCS, TemplateError, compile_template, render

LONG = os.environ.get("SYNSEC_FUZZ_LONG") == "1"
EXAMPLES = int(os.environ.get("SYNSEC_FUZZ_EXAMPLES", "50000" if LONG else "700"))
SECRET = "fuzz-secret-never-printed"
FIELDS = ["Decisions", "Value", "Type", "Source", "Cn", "MachineID", "__class__", "__globals__", "__dict__",
          "keys", "items", "get", "Scenario", "Events", "Meta", "Key", "upper", "_x", "a"]
ATOMS = [".", "$", "$a", "$i", "1", "-3", "2.5", '"x"', "`raw`", "true", "false", "nil", "(len .)",
         "(index . 0)", '"%s %d %v %q %%"'] + [f".{f}" for f in FIELDS] + [f"$a.{f}" for f in FIELDS]
WORDS = sorted(FUNCS) + ["and", "or", "range", "if", "else", "end", "with", "define", "template", "call",
                         "getattr", "__import__"]
OPS = ["|", ":=", "=", ",", "(", ")", "{{", "}}", "{{-", "-}}", "/*", "*/"]

atom = st.sampled_from(ATOMS)
cmd = st.one_of(atom, st.builds(lambda f, a: f"{f} {' '.join(a)}", st.sampled_from(sorted(FUNCS) + ["and", "or"]),
                                st.lists(atom, max_size=3)))
pipe = st.builds(lambda cs: " | ".join(cs), st.lists(cmd, min_size=1, max_size=3))


def _blocks(inner):
    return st.one_of(
        st.builds(lambda p, b: f"{{{{range $i, $a := {p}}}}}{b}{{{{end}}}}", pipe, inner),
        st.builds(lambda p, b, e: f"{{{{if {p}}}}}{b}{{{{else}}}}{e}{{{{end}}}}", pipe, inner, inner),
        st.builds(lambda p, b: f"{{{{with {p} -}}}} {b}{{{{- end}}}}", pipe, inner),
        st.builds(lambda p: f"{{{{$a := {p}}}}}", pipe),
        st.builds(lambda a, b: a + b, inner, inner))


leaf = st.one_of(st.builds(lambda p: f"{{{{{p}}}}}", pipe), st.sampled_from(["text ", "\n", "{{/* c */}}"]))
template = st.recursive(leaf, _blocks, max_leaves=12)
soup = st.lists(st.sampled_from(ATOMS + WORDS + OPS + [" ", "\n"]), max_size=30).map("".join)
DATA = [{"scenario": "s", "machine_id": "m", "source": {"cn": "FR", "value": "1.2.3.4"}, "meta": [],
         "decisions": [{"value": "1.2.3.4", "type": "ban", "duration": "4h", "scenario": "s"}] * 3}] * 4


class Holder:
    secret = SECRET


def _check(text: str) -> None:
    try:
        tpl = compile_template(text)
    except TemplateError:
        return
    for data in (DATA, [], None, {"k": Holder.__name__}):
        try:
            out = render(tpl, data, max_output=5000, max_steps=5000)
        except TemplateError as err:
            assert SECRET not in str(err)
            continue
        assert len(out) <= 5000 and SECRET not in out and "<class" not in out and "<function" not in out


@settings(max_examples=EXAMPLES, derandomize=not LONG, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(st.one_of(template, soup))
def test_templates_fail_cleanly_and_stay_bounded(text):
    """Any template text either compiles or raises TemplateError, and rendering stays inside its bounds."""
    _check(text)


def test_nested_ranges_are_bounded():
    """Ranges nested to multiply their iterations stop at the step bound, not after billions of steps."""
    tpl = compile_template("{{range 1000}}{{range 1000}}{{range 1000}}x{{end}}{{end}}{{end}}")
    try:
        render(tpl, None, max_steps=10_000)
    except TemplateError as err:
        assert "steps" in str(err)
    else:
        raise AssertionError("a billion iterations rendered")
