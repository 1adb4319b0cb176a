"""A parser node's whitelist: CrowdSec's (listed, has) on IPs and ranges, memoised per source text."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from synsec.engine.model import Event, Line, RuntimeAlert
from synsec.engine.parser import ParseContext, Whitelist, _check_whitelist

CTX = ParseContext(enrichers={}, enrich_ctx=None)


def _wl() -> Whitelist:
    return Whitelist("private", frozenset({ipaddress.ip_address("192.0.2.7")}),
                     (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32")))


def _evt(source_ip: str) -> Event:
    evt = Event(Line("x"))
    evt.Meta["source_ip"] = source_ip
    return evt


def test_listed_ip_range_and_v6_range_are_whitelisted():
    """An exact IP, an IPv4 range and an IPv6 range each whitelist; another address does not but `has` holds."""
    wl = _wl()
    assert _check_whitelist(wl, _evt("192.0.2.7"), CTX) == (True, True)
    assert _check_whitelist(wl, _evt("10.1.2.3"), CTX) == (True, True)
    assert _check_whitelist(wl, _evt("2001:db8::1"), CTX) == (True, True)
    assert _check_whitelist(wl, _evt("198.51.100.1"), CTX) == (False, True)


def test_a_source_that_is_not_an_ip_leaves_has_false():
    """No IP to check: the node has no whitelist verdict (its statics still apply, as in CrowdSec)."""
    assert _check_whitelist(_wl(), _evt("not-an-ip"), CTX) == (False, False)
    assert _check_whitelist(_wl(), _evt(""), CTX) == (False, False)


def test_memo_gives_the_same_verdict_on_repeats_and_is_bounded(monkeypatch):
    """The second lookup of a source (listed, not listed or not an IP) parses nothing and gives the same
    answer (a dotted quad is never given to ipaddress); the memo never grows unbounded."""
    from synsec.engine import parser

    wl = _wl()
    parsed = []
    real = parser._parse_ip
    monkeypatch.setattr(parser, "_parse_ip", lambda v: parsed.append(v) or real(v))
    for _ in range(2):
        assert wl.ip_listed("10.9.9.9") is True
        assert wl.ip_listed("11.0.0.1") is False
        assert wl.ip_listed("nope") is None
    assert parsed == ["nope"]
    assert set(wl.memo) == {"10.9.9.9", "11.0.0.1", "nope"}
    for i in range(70000):
        wl.ip_listed(f"172.16.{i // 256 % 256}.{i % 256}-{i}")
    assert len(wl.memo) <= 65537


def test_overflow_sources_any_listed_whitelists():
    """On an overflow, any listed source among several whitelists the alert (postoverflow whitelists)."""
    evt = Event(Line("x"))
    evt.Overflow = RuntimeAlert(Alert=None, Sources={"198.51.100.1": None, "10.0.0.5": None})
    assert _check_whitelist(_wl(), evt, CTX) == (True, True)


octets = st.one_of(st.integers(0, 300).map(str), st.sampled_from(["00", "01", "007", "0", "255", "256", "1000", "",
                                                                  "\u0661", "\u00b2", " 1", "+1", "-1", "1_0"]))
texts = st.one_of(st.lists(octets, min_size=3, max_size=5).map(".".join),
                  st.sampled_from(["2001:db8::1", "::ffff:10.0.0.1", "::1", "10.0.0.1%eth0", "fe80::1%1"]))


@settings(max_examples=500, deadline=None)
@given(texts)
def test_dotted_quads_are_listed_as_ipaddress_lists_them(text):
    """The integer test on dotted quads gives exactly the verdict of ipaddress (None for what it refuses)."""
    wl = Whitelist("w", frozenset({ipaddress.ip_address("192.0.2.7"), ipaddress.ip_address("::ffff:10.0.0.1")}),
                   (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("172.16.0.0/12"),
                    ipaddress.ip_network("2001:db8::/32")))
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        expected = None
    else:
        expected = ip in wl.ips or any(ip.version == net.version and ip in net for net in wl.cidrs)
    assert wl.ip_listed(text) is expected
