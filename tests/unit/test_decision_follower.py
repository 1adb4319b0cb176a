"""DecisionFollower's fold of the decisions topic, fed record by record (the Kafka loop is in the integration
tests): latest value per key wins, tombstones and expiries delete, simulated decisions are inactive, poison
values are counted and skipped, lookups cover Ip and Range in IPv4 and IPv6."""

from __future__ import annotations

import threading

import pytest

from connectors.kafka.follower import DecisionFollower
from synsec.wire.codecs import Codecs
from synsec.wire.records import decision_key, decision_to_record, parse_decision_key
from synsec.wire.registry import LocalRegistry
from synsec.engine.model import Decision

NOW = 1_700_000_000.0


class Clock:
    def __init__(self, t: float = NOW):
        self.t = t

    def __call__(self) -> float:
        return self.t


def decision(value: str, scope: str = "Ip", until: float = NOW + 3600, **kw) -> Decision:
    base = dict(origin="synsec", scenario="crowdsecurity/ssh-bf", scope=scope, value=value, type="ban",
                duration=until - NOW, until=until, id=f"id-{value}")
    base.update(kw)
    return Decision(**base)


@pytest.fixture
def codecs():
    return Codecs(LocalRegistry())


@pytest.fixture
def follower():
    calls: list[tuple] = []
    clock = Clock()
    f = DecisionFollower({}, clock=clock,
                         on_add=lambda d: calls.append(("add", d.scope, d.value, d.until)),
                         on_delete=lambda s, v, d: calls.append(("del", s, v, d.until if d else None)))
    f.calls, f.now = calls, clock
    return f


def feed(f, codecs, d: Decision | None, key: bytes | None = None):
    f.apply(key if key is not None else decision_key(d),
            None if d is None else codecs.encode("decision", decision_to_record(d)))


def test_parse_key_keeps_ipv6_colons():
    """A key splits at its first colon, so IPv6 values survive; keys without scope or value are rejected."""
    assert parse_decision_key(b"Ip:2001:db8::1") == ("Ip", "2001:db8::1")
    assert parse_decision_key(b"Range:10.0.0.0/8") == ("Range", "10.0.0.0/8")
    assert parse_decision_key(b"nocolon") is None and parse_decision_key(b":x") is None
    assert parse_decision_key(None) is None
    assert parse_decision_key(b"\xff:x") is None


def test_ban_then_tombstone(follower, codecs):
    """An Ip decision makes that address banned and calls on_add; its tombstone unbans it and calls on_delete."""
    feed(follower, codecs, decision("192.0.2.7"))
    assert follower.is_banned("192.0.2.7").value == "192.0.2.7"
    assert follower.is_banned("192.0.2.8") is None
    follower.apply(b"Ip:192.0.2.7", None)
    assert follower.is_banned("192.0.2.7") is None
    assert follower.calls == [("add", "Ip", "192.0.2.7", NOW + 3600), ("del", "Ip", "192.0.2.7", NOW + 3600)]


def test_tombstone_for_unknown_key_is_silent(follower):
    """A tombstone for a key that was never active calls nothing."""
    follower.apply(b"Ip:192.0.2.9", None)
    assert follower.calls == [] and follower.stats["deleted"] == 0


def test_latest_value_per_key_wins(follower, codecs):
    """A second value under the same key replaces the first (new until), without a delete in between."""
    feed(follower, codecs, decision("192.0.2.7", until=NOW + 60))
    feed(follower, codecs, decision("192.0.2.7", until=NOW + 7200))
    assert follower.is_banned("192.0.2.7").until == NOW + 7200
    follower.now.t = NOW + 120
    assert follower.expire() == 0               # the first value's expiry is stale, not an expiry
    assert follower.is_banned("192.0.2.7") is not None
    assert [c[0] for c in follower.calls] == ["add", "add"]


def test_expiry_by_wall_clock(follower, codecs):
    """Past its `until` a decision stops matching at once and expire() reports it as one delete."""
    feed(follower, codecs, decision("192.0.2.7", until=NOW + 60))
    follower.now.t = NOW + 60
    assert follower.is_banned("192.0.2.7") is None
    assert follower.expire() == 1 and follower.expire() == 0
    assert follower.calls[-1] == ("del", "Ip", "192.0.2.7", NOW + 60)
    assert follower.stats["expired"] == 1 and follower.active() == []


def test_already_expired_value_is_not_added(follower, codecs):
    """A record whose until is already past (read late from the start of the topic) is never active."""
    feed(follower, codecs, decision("192.0.2.7", until=NOW - 1))
    assert follower.is_banned("192.0.2.7") is None and follower.calls == []


def test_simulated_decisions_are_inactive_and_replace(follower, codecs):
    """A simulated decision does not ban; when it replaces an active one under the same key, that one is deleted."""
    feed(follower, codecs, decision("192.0.2.8", simulated=True))
    assert follower.is_banned("192.0.2.8") is None and follower.calls == []
    feed(follower, codecs, decision("192.0.2.7"))
    feed(follower, codecs, decision("192.0.2.7", simulated=True))
    assert follower.is_banned("192.0.2.7") is None
    assert [c[0] for c in follower.calls] == ["add", "del"] and follower.stats["simulated"] == 2


@pytest.mark.parametrize("scope,value,inside,outside", [
    ("Range", "10.0.0.0/8", "10.200.3.4", "11.0.0.1"),
    ("Range", "2001:db8::/32", "2001:db8:ffff::1", "2001:db9::1"),
    ("Ip", "2001:db8::7", "2001:db8::7", "2001:db8::8"),
    ("Ip", "2001:db8::7", "2001:0db8:0000::0007", "::ffff:192.0.2.7"),
])
def test_ip_and_range_lookups(follower, codecs, scope, value, inside, outside):
    """Ip and Range decisions cover the addresses inside them (IPv4, IPv6, any IPv6 spelling), not others."""
    feed(follower, codecs, decision(value, scope=scope))
    assert follower.is_banned(inside) is not None
    assert follower.is_banned(outside) is None


def test_other_scopes_never_match_an_ip(follower, codecs):
    """A Country or AS decision is kept active but is no IP ban; malformed IPs are not banned."""
    feed(follower, codecs, decision("FR", scope="Country"))
    assert [d.value for d in follower.active()] == ["FR"]
    assert follower.is_banned("192.0.2.7") is None and follower.is_banned("not-an-ip") is None


def test_longest_lasting_covering_decision_is_returned(follower, codecs):
    """When a range and an Ip both cover an address, the lookup answers with the one that ends last."""
    feed(follower, codecs, decision("192.0.2.7", until=NOW + 60))
    feed(follower, codecs, decision("192.0.2.0/24", scope="Range", until=NOW + 600))
    assert follower.is_banned("192.0.2.7").scope == "Range"


def test_poison_is_counted_and_skipped(follower, codecs, caplog):
    """Undecodable values and keys are counted and logged, nothing is added, and the next record still folds."""
    follower.apply(b"Ip:192.0.2.7", b"\x00garbage", "synsec.decisions[0]@5")
    follower.apply(b"no-scope", codecs.encode("decision", decision_to_record(decision("192.0.2.7"))))
    assert follower.stats["poison"] == 2 and follower.calls == []
    assert "synsec.decisions[0]@5" in caplog.text
    feed(follower, codecs, decision("192.0.2.7"))
    assert follower.is_banned("192.0.2.7") is not None


def test_failing_callback_does_not_stop_the_fold(codecs):
    """A bouncer callback that raises is counted; the decision is still active."""
    def boom(d):
        raise RuntimeError("script missing")

    f = DecisionFollower({}, clock=Clock(), on_add=boom)
    feed(f, codecs, decision("192.0.2.7"))
    assert f.stats["callback_errors"] == 1 and f.is_banned("192.0.2.7") is not None


def test_lookups_are_thread_safe(codecs):
    """Concurrent lookups while another thread adds and deletes never raise and end with a consistent set."""
    f = DecisionFollower({}, clock=Clock())
    values = [codecs.encode("decision", decision_to_record(decision(f"10.0.{i // 256}.{i % 256}")))
              for i in range(500)]
    errors: list[BaseException] = []
    done = threading.Event()

    def reader():
        try:
            while not done.is_set():
                f.is_banned("10.0.1.3")
                f.active()
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for i, v in enumerate(values):
        f.apply(f"Ip:10.0.{i // 256}.{i % 256}".encode(), v)
        if i % 2:
            f.apply(f"Ip:10.0.{i // 256}.{i % 256}".encode(), None)
    done.set()
    for t in threads:
        t.join()
    assert errors == [] and len(f.active()) == 250


def test_fold_by_caller_waits_for_fold_and_logs_a_replacement(codecs):
    """With fold_on_read=False (the API) reads wait for fold(now); a replaced value is logged ended under its
    (partition, offset) id and the new one added, each change numbered from base_seq."""
    f = DecisionFollower({}, "decisions", fold_on_read=False, base_seq=10)
    first, second = decision("192.0.2.7", until=NOW + 60), decision("192.0.2.7", until=NOW + 600)
    for offset, d in ((4, first), (9, second)):
        f.apply(decision_key(d), codecs.encode("decision", decision_to_record(d)), partition=1, offset=offset)
    assert f.index.head == 10 and f.index.active(NOW) == []
    f.fold(NOW)
    assert [(r.id, r.until) for r in f.index.active(NOW)] == [(11, NOW + 600)]      # lapi_id(1, 9, 1)
    delta = f.index.changes_since(10, NOW)
    assert [r.id for r in delta.new] == [11] and [r.id for r in delta.deleted] == [6] and delta.head == 13
    assert f.wait_for({1: 9}, timeout=0) and not f.wait_for({1: 10}, timeout=0)


def test_fold_by_caller_expires_at_the_time_it_is_given(codecs):
    """fold(now) ends what is over at that `now` (the API's request time), not at the follower's clock."""
    f = DecisionFollower({}, "decisions", fold_on_read=False, clock=Clock())
    feed(f, codecs, decision("192.0.2.7", until=NOW + 60))
    f.fold(NOW)
    assert len(f.index.active(NOW)) == 1
    f.fold(NOW + 60)
    assert f.index.by_id == {} and f.stats["expired"] == 1


def test_follower_history_counts_every_decision_read(codecs):
    """With a history, a follower remembers every decision it reads (replaced, expired, simulated ones too) and a
    tombstone ends the active one: what GetDecisionsCount & co read in Kafka mode."""
    from synsec.engine.history import DecisionHistory

    clock = Clock()
    f = DecisionFollower({}, clock=clock, history=DecisionHistory())
    feed(f, codecs, decision("192.0.2.7", until=NOW - 10, id="old"))          # already over when read
    feed(f, codecs, decision("192.0.2.7", id="a"))
    feed(f, codecs, decision("192.0.2.7", id="b", simulated=True))
    feed(f, codecs, decision("192.0.2.0/24", scope="Range", id="r"))
    assert sorted(p.id for p in f.decisions_for("192.0.2.7")) == ["a", "b", "old", "r"]
    feed(f, codecs, None, key=b"Range:192.0.2.0/24")
    ended = {p.id: p.until for p in f.decisions_for("192.0.2.7")}
    assert ended["r"] == NOW and ended["a"] == NOW + 3600
    assert DecisionFollower({}, clock=clock).decisions_for("192.0.2.7") == []     # no history kept: none
