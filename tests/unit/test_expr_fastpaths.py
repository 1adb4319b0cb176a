"""The one-operation forms of `any(File(..), {...})` give exactly what the generic per-line loop gives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synsec.engine.errors import Where
from synsec.engine.expr import ExprContext, compile_expr
from synsec.engine.model import Event, Line

W = Where("scenarios/fast.yaml", 1, "filter")
SHAPES = [
    "{X endsWith #}", "{X startsWith #}", "{X contains #}", "{X == #}", "{# == X}",
    "{Upper(X) contains Upper(#)}", "{Lower(X) contains Lower(#)}", "{len(#) > 0 && X endsWith #}",
    "{X matches #}", "{Upper(X) matches Upper(#)}",
]
alphabet = st.sampled_from(list("abAB.*/?-ßé ") + ["xy"])
text = st.lists(alphabet, max_size=8).map("".join)


def _pair(shape: str, lines: list[str]):
    """(fast compiled, generic compiled): the generic one hides the file behind a `let`, defeating the fast path."""
    ctx = ExprContext(files={"f.txt": lines})
    body = shape.replace("X", "evt.Meta.x")
    fast = compile_expr(f"any(File('f.txt'), {body})", where=W, ctx=ctx)
    slow = compile_expr(f"let lines = File('f.txt'); any(lines, {body})", where=W, ctx=ctx)
    return fast, slow


def _event(value: str) -> Event:
    e = Event(Line(""))
    e.Meta["x"] = value
    return e


@pytest.mark.parametrize("shape", SHAPES)
def test_shape_compiles_to_one_operation(shape):
    """Each supported predicate shape over a data file compiles without a per-event loop."""
    fast, slow = _pair(shape, ["ab", ".a"])
    assert " for " not in fast.source and " for " in slow.source


@settings(max_examples=60, deadline=None)
@given(shape=st.sampled_from(SHAPES), lines=st.lists(text, max_size=6), value=text)
def test_fast_path_equals_generic_loop(shape, lines, value):
    """For any file contents and subject, the fast form and the generic loop agree (or both fail)."""
    if "matches" in shape:
        lines = [ln.replace("*", "").replace("?", "") for ln in lines]   # keep patterns valid RE2
    fast, slow = _pair(shape, lines)
    evt = _event(value)
    assert fast(evt) == slow(evt)


@settings(max_examples=60, deadline=None)
@given(nets=st.lists(st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(8, 32)), max_size=6),
       ip=st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)))
def test_ip_range_lookup_equals_generic_loop(nets, ip):
    """`any(File(ranges), {IpInRange(ip, #)})` as a sorted-interval lookup matches the per-range loop."""
    lines = [f"{a}.{b}.0.0/{n}" for a, b, n in nets] + ["bad-line", "2001:db8::/32"]
    ip_text = "%d.%d.%d.1" % ip
    ctx = ExprContext(files={"r.txt": lines})
    fast = compile_expr("any(File('r.txt'), {IpInRange(evt.Meta.x, #)})", where=W, ctx=ctx)
    slow = compile_expr("let r = File('r.txt'); any(r, {IpInRange(evt.Meta.x, #)})", where=W, ctx=ctx)
    assert "_ips" in fast.source
    evt = _event(ip_text)
    assert fast(evt) == slow(evt)


def test_ipv6_and_mapped_addresses_in_range_set():
    """The range set handles IPv6 ranges and IPv4-mapped IPv6 addresses like Go's net.IPNet.Contains."""
    ctx = ExprContext(files={"r.txt": ["10.0.0.0/8", "2001:db8::/32"]})
    fast = compile_expr("any(File('r.txt'), {IpInRange(evt.Meta.x, #)})", where=W, ctx=ctx)
    assert fast(_event("2001:db8::5")) is True
    assert fast(_event("::ffff:10.1.1.1")) is True
    assert fast(_event("2001:db9::5")) is False
