"""Fuzz of the store's allowlist check against a reference model: for random IPv4/IPv6 items and queries (IPs,
ranges, IPv4-mapped IPv6, junk text), `allowlisted_by` answers exactly when an item holds the query or the query
holds an item (CrowdSec's IsAllowlistedBy), and junk is refused without an error. CI mode is derandomized and
bounded; `SYNSEC_FUZZ_LONG=1` runs many more examples."""

from __future__ import annotations

import ipaddress
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synsec.store import Store
from synsec.store.allowlists import AllowlistError, allowlist_item

LONG = os.environ.get("SYNSEC_FUZZ_LONG") == "1"
EXAMPLES = int(os.environ.get("SYNSEC_FUZZ_EXAMPLES", "5000" if LONG else "150"))


def _v4(draw_int, plen):
    return ipaddress.ip_network(f"{ipaddress.IPv4Address(draw_int)}/{plen}", strict=False)


v4_net = st.builds(_v4, st.integers(0, 2**32 - 1).map(lambda i: i & 0xFFFF00FF | 0x0A000000),
                   st.integers(8, 32))          # 10.x.0.y-ish: items and queries meet often
v6_net = st.builds(lambda i, p: ipaddress.ip_network(f"{ipaddress.IPv6Address((0x20010db8 << 96) | i)}/{p}",
                                                     strict=False), st.integers(0, 2**16 - 1), st.integers(96, 128))
net = st.one_of(v4_net, v6_net)
junk = st.one_of(st.text(max_size=40), st.sampled_from(["10.0.0.0/33", "1.2.3.4.5", "::ffff:10.0.0.1/200",
                                                        "fe80::1%eth0", "", " ", "10.0.0.1/-1", "0x0a000001"]))


def _query_text(n) -> st.SearchStrategy[str]:
    texts = [str(n) if n.num_addresses > 1 else str(n.network_address)]
    if n.version == 4 and n.num_addresses == 1:
        texts.append(f"::ffff:{n.network_address}")
    return st.sampled_from(texts)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=not LONG,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(items=st.lists(net, min_size=1, max_size=8), queries=st.lists(net.flatmap(_query_text), max_size=6),
       bad=st.lists(junk, max_size=3))
def test_check_matches_the_reference(tmp_path_factory, items, queries, bad):
    store = _STORES.get("s")
    if store is None:
        store = _STORES["s"] = Store(tmp_path_factory.mktemp("fz"))
        store.db.execute("PRAGMA synchronous=OFF")          # one store for every example: speed only
    store.create_allowlist("l", "", 0.0)
    try:
        store.add_allowlist_items("l", [str(i) for i in items], 0.0)
        for q in queries:
            qn = allowlist_item(q)
            want = any(qn.version == i.version and (qn.subnet_of(i) or i.subnet_of(qn)) for i in items)
            assert bool(store.allowlisted_by(q, 1.0)) == want, (q, items)
        for text in bad:
            try:
                allowlist_item(text)
            except AllowlistError:
                assert store.allowlisted_by(text, 1.0) == []
    finally:
        store.delete_allowlist("l")


_STORES: dict[str, Store] = {}
