"""DecisionIndex: ip/range lookups (IPv4 and IPv6), stream deltas by sequence, expiry, bounded log."""

from __future__ import annotations

from connectors.api.index import DecisionIndex
from connectors.api.model import DecisionRecord, target_of

NOW = 1_000_000.0


def rec(i, value, scope="Ip", until=NOW + 3600, origin="synsec", scenario="synsec/ssh-bf", type="ban"):
    return DecisionRecord(id=i, origin=origin, type=type, scope=scope, value=value, scenario=scenario,
                          until=until, target=target_of(scope, value))


def ids(recs):
    return sorted(r.id for r in recs)


def build(*recs):
    idx = DecisionIndex()
    for seq, r in enumerate(recs, 1):
        idx.add(r, seq)
    return idx


def test_ip_lookup_finds_exact_ip_and_containing_ranges():
    """An ip= lookup returns the Ip decision on it and every Range containing it, nothing else."""
    idx = build(rec(1, "192.0.2.7"), rec(2, "192.0.2.0/24", "Range"), rec(3, "192.0.0.0/16", "Range"),
                rec(4, "198.51.100.0/24", "Range"), rec(5, "192.0.2.8"), rec(6, "0.0.0.0/0", "Range"))
    assert ids(idx.containing(target_of("ip", "192.0.2.7"), NOW)) == [1, 2, 3, 6]
    assert ids(idx.containing(target_of("ip", "192.0.3.1"), NOW)) == [3, 6]
    assert ids(idx.containing(target_of("ip", "203.0.113.1"), NOW)) == [6]


def test_ipv6_ranges_and_no_cross_family_match():
    """IPv6 decisions match IPv6 addresses inside them; an IPv4 /0 does not match IPv6 and vice versa."""
    idx = build(rec(1, "2001:db8::/32", "Range"), rec(2, "2001:db8::1"), rec(3, "0.0.0.0/0", "Range"),
                rec(4, "::/0", "Range"))
    assert ids(idx.containing(target_of("ip", "2001:db8::1"), NOW)) == [1, 2, 4]
    assert ids(idx.containing(target_of("ip", "2001:db9::1"), NOW)) == [4]
    assert ids(idx.containing(target_of("ip", "10.0.0.1"), NOW)) == [3]


def test_range_contains_and_contained():
    """range=…: contains=true gives decisions covering the range; contains=false those inside it."""
    idx = build(rec(1, "10.0.0.0/8", "Range"), rec(2, "10.1.0.0/16", "Range"), rec(3, "10.1.2.3"),
                rec(4, "10.2.0.0/16", "Range"), rec(5, "11.0.0.1"))
    assert ids(idx.containing(target_of("range", "10.1.0.0/16"), NOW)) == [1, 2]
    assert ids(idx.contained(target_of("range", "10.1.0.0/16"), NOW)) == [2, 3]
    assert ids(idx.contained(target_of("range", "10.0.0.0/8"), NOW)) == [1, 2, 3, 4]


def test_expired_and_removed_decisions_are_invisible():
    """A decision past `until` is not served even before its expiry is logged; a removed one is gone."""
    idx = build(rec(1, "192.0.2.1", until=NOW - 1), rec(2, "192.0.2.0/24", "Range"))
    assert ids(idx.containing(target_of("ip", "192.0.2.1"), NOW)) == [2]
    idx.remove(2, 3)
    assert idx.containing(target_of("ip", "192.0.2.1"), NOW) == [] and idx.active(NOW) == []
    assert ids(idx.pop_expired(NOW)) == [1] and idx.pop_expired(NOW) == []


def test_changes_since_gives_new_and_deleted_after_a_sequence():
    """A delta holds decisions added after the bouncer's sequence and those ended after it; one added and
    ended in the same window is only in deleted."""
    idx = build(rec(1, "192.0.2.1"), rec(2, "192.0.2.2"))
    idx.add(rec(3, "192.0.2.3"), 3)
    idx.remove(1, 4)
    idx.add(rec(4, "192.0.2.4"), 5)
    idx.remove(4, 6, "expired")
    d = idx.changes_since(2, NOW)
    assert d.complete and d.head == 6
    assert ids(d.new) == [3] and ids(d.deleted) == [1, 4]
    assert idx.changes_since(6, NOW).new == [] and idx.changes_since(6, NOW).deleted == []


def test_unknown_sequence_is_incomplete():
    """A sequence older than the retained log (or ahead of it) is reported incomplete, not guessed."""
    idx = DecisionIndex(max_changes=4)
    for i in range(1, 11):
        idx.add(rec(i, f"192.0.2.{i}"), i)
    assert idx.floor > 0
    assert not idx.changes_since(1, NOW).complete
    assert not idx.changes_since(99, NOW).complete
    assert idx.changes_since(idx.floor, NOW).complete


def test_lookup_cost_does_not_grow_with_decisions():
    """An ip= lookup touches one dict per prefix length in use, not every decision (100k decisions)."""
    idx = DecisionIndex()
    for i in range(100_000):
        idx.add(rec(i, f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"), i + 1)
    idx.add(rec(200_000, "10.0.0.0/24", "Range"), 200_001)
    assert len(idx._plens[4]) == 1
    assert ids(idx.containing(target_of("ip", "10.0.0.5"), NOW)) == [5, 200_000]
