"""Issue 10 regressions below the HTTP layer: decision readers skip or clamp out-of-range `until`s from older
data (A), input normalisation and ASCII-only numbers (B), salted keys, key rules and private files (C)."""

from __future__ import annotations

import hashlib
import math
import os
import stat

import pytest

from connectors.api.inputs import InputError, parse_json, validate
from connectors.api.query import DecisionFilter, QueryError, parse_decisions_query, parse_uint, stream_body
from connectors.api.sqlite_view import SqliteDecisionView
from connectors.api.throttle import AuthThrottle
from connectors.api.topic_view import TopicDecisionView
from connectors.clickhouse.rows import decision_row
from connectors.kafka.follower import DecisionFollower
from synsec.engine.durations import MAX_DURATION
from synsec.engine.model import Decision
from synsec.store import KeyIndex, Store
from synsec.wire.codecs import Codecs
from synsec.wire.records import decision_key, decision_to_record
from synsec.wire.registry import LocalRegistry

NOW = 2_000_000_000.0


def dec(value: str, duration: float, until: float | None = None, **kw) -> Decision:
    return Decision(origin="ccscli", scenario="manual", scope="Ip", value=value, type="ban", duration=duration,
                    until=NOW + duration if until is None else until, id=f"id-{value}", **kw)


# -- A: readers of older data -----------------------------------------------------------------------------

def test_infinite_until_in_store_does_not_stop_bouncers(tmp_path):
    """Regression (issue 10 A): a store row with an infinite `until` (written before durations were bounded)
    is clamped to 10 years and counted; /v1/decisions and the stream still render, also after its deletion."""
    store = Store(tmp_path)
    view = SqliteDecisionView(store, min_interval=0)
    store.add([], [dec("192.0.2.1", math.inf), dec("192.0.2.2", math.nan), dec("192.0.2.3", 60.0)], now=NOW)
    view.refresh(NOW, force=True)
    got = {r.value: r for r in view.active(NOW)}
    assert set(got) == {"192.0.2.1", "192.0.2.3"} and got["192.0.2.1"].until == NOW + MAX_DURATION
    assert view.out_of_range == 2
    assert got["192.0.2.1"].to_lapi(NOW)["duration"] == "87600h0m0s"
    body, head = stream_body(view, True, DecisionFilter(scopes=("ip",)), 0, NOW)
    assert len(body["new"]) == 2
    store.delete_decisions(value="192.0.2.1", now=NOW)
    view.refresh(NOW + 1, force=True)
    body, _ = stream_body(view, False, DecisionFilter(scopes=("ip",)), head, NOW + 1)
    assert [d["value"] for d in body["deleted"]] == ["192.0.2.1"]
    body, _ = stream_body(view, True, DecisionFilter(scopes=("ip",)), 0, NOW + 1)
    assert [d["value"] for d in body["new"]] == ["192.0.2.3"]
    assert [r.value for r in SqliteDecisionView(store).active(NOW)] == ["192.0.2.3"]   # a restarted API too
    store.close()


def test_infinite_until_on_decisions_topic_is_clamped_or_skipped():
    """Regression (issue 10 A): the API's topic view clamps an infinite `until` and skips a NaN one, counting
    both, instead of indexing a value that makes every later response a 500."""
    codecs = Codecs(LocalRegistry())
    view = TopicDecisionView({}, codecs, topic="decisions")
    inf = dec("192.0.2.1", math.inf, until=math.inf)
    nan = dec("192.0.2.2", math.nan, until=math.nan)
    for offset, d in enumerate((inf, nan)):
        view.follower.apply(decision_key(d), codecs.encode("decision", decision_to_record(d)), offset=offset)
    view.refresh(NOW)
    got = view.active(NOW)
    assert [r.value for r in got] == ["192.0.2.1"] and got[0].until == NOW + MAX_DURATION
    assert view.out_of_range == 2 and view.poison == 0


def test_infinite_until_reaches_bouncer_client_clamped():
    """Regression (issue 10 A): the bouncer library clamps an infinite `until`, skips a NaN one, counts both."""
    codecs = Codecs(LocalRegistry())
    added = []
    f = DecisionFollower({}, clock=lambda: NOW, on_add=added.append)
    for d in (dec("192.0.2.1", math.inf, until=math.inf), dec("192.0.2.2", math.nan, until=math.nan)):
        f.apply(decision_key(d), codecs.encode("decision", decision_to_record(d)))
    assert [(d.value, d.until) for d in added] == [("192.0.2.1", NOW + MAX_DURATION)]
    assert f.stats["out_of_range"] == 2 and f.is_banned("192.0.2.1") is not None


def test_non_finite_decision_is_a_clickhouse_row():
    """Regression (issue 10 A): the ClickHouse sink turns a non-finite decision into an in-range row, not a crash."""
    for until in (math.inf, math.nan, -math.inf):
        row = decision_row(dec("192.0.2.1", until, until=until))
        assert all(0 <= v <= 2**32 - 1 for v in row[7:10])


# -- B: input ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, message", [("fe80::1%eth0", "zone id"), ("::1%1", "zone id"),
                                            ("١٩٢.٠.٢.١", "invalid IP")])
def test_zone_id_and_unicode_digits_refused_as_ban_values(value, message):
    """Regression (issue 10 B): an address with a zone id or non-ASCII digits is not a ban value."""
    with pytest.raises(InputError, match=message):
        validate({"value": value})


def test_ipv4_mapped_ban_value_is_normalised():
    """Regression (issue 10 B): `::ffff:192.0.2.205` is banned as 192.0.2.205 (and mapped ranges as IPv4 ones),
    and an `ip=` lookup with a mapped address finds the IPv4 decision."""
    assert validate({"value": "::ffff:192.0.2.205"}).value == "192.0.2.205"
    assert validate({"value": "::ffff:192.0.2.0/120", "scope": "Range"}).value == "192.0.2.0/24"
    assert parse_decisions_query({"ip": "::ffff:192.0.2.205"}).target == (4, 0xC00002CD, 0xC00002CD)


@pytest.mark.parametrize("item, message", [
    ({"value": ["192.0.2.1"]}, "value must be a string"), ({"value": "192.0.2.1", "duration": 3600},
                                                           "duration must be a string"),
    ({"value": "192.0.2.1", "reason": "a\x1b[2Jb"}, "control character"),
    ({"value": "192.0.2.1", "reason": "x" * 2000}, "longer than 1024"), ({"value": "192.0.2.1", 5: "x"}, "unknown"),
])
def test_decision_fields_must_be_bounded_strings(item, message):
    """Regression (issue 10 B): JSON numbers, lists, control characters and huge strings in a decision are 400s."""
    with pytest.raises(InputError, match=message):
        validate(item)


@pytest.mark.parametrize("text", ["١٧", "²", "9223372036854775808", "1" * 5000, "-1", "+1", " 1", "0x1", ""])
def test_unicode_digits_and_huge_numbers_are_not_ids(text):
    """Regression (issue 10 B): only ASCII digits up to 2^63-1 are ids/limits (`int('١٧')` is 17)."""
    with pytest.raises(QueryError):
        parse_uint("decision_id", text)
    assert parse_uint("limit", "9223372036854775807") == 2**63 - 1


@pytest.mark.parametrize("raw, message", [(b"[" * 5000 + b"]" * 5000, "nested too deep"), (b"[NaN]", "NaN"),
                                          (b"[Infinity]", "Infinity"), (b"\xff[]", "not UTF-8"),
                                          (b"[" + b"1" * 5000 + b"]", "invalid JSON")])
def test_hostile_json_bodies_are_input_errors(raw, message):
    """Regression (issue 10 B): deep nesting, NaN/Infinity, non-UTF-8 and 5000-digit numbers are InputErrors."""
    with pytest.raises(InputError, match=message):
        parse_json(raw)


def test_failed_authentication_is_throttled_per_address():
    """Regression (issue 10 B): after `limit` wrong keys in the window an address waits (Retry-After), others do
    not, the wait ends with the window, an IPv6 /64 counts as one client, and the table stays bounded."""
    t = AuthThrottle(limit=3, window=10.0, max_clients=100)
    for i in range(3):
        assert t.retry_after("192.0.2.1", NOW + i) == 0
        t.failed("192.0.2.1", NOW + i)
    assert t.retry_after("192.0.2.1", NOW + 3) == 7 and t.retry_after("192.0.2.2", NOW + 3) == 0
    assert t.retry_after("192.0.2.1", NOW + 10) == 0
    for i in range(3):
        t.failed(f"2001:db8::{i + 1}", NOW)
    assert t.retry_after("2001:db8::ffff", NOW) == 10
    for i in range(1000):
        t.failed(f"10.0.{i // 256}.{i % 256}", NOW)
    assert len(t) == 100


# -- C: keys and files -------------------------------------------------------------------------------------

def test_given_bouncer_key_must_be_long_and_plain(tmp_path):
    """Regression (issue 10 C): `bouncers add -k` refuses keys under 32 characters or with odd characters, and
    a key registered twice."""
    store = Store(tmp_path)
    for bad in ("a" * 16, "a" * 31, "é" * 40, "a b" * 20, "a" * 257):
        with pytest.raises(ValueError, match="32-256 characters"):
            store.add_bouncer("fw", key=bad)
    key = "Abc123._~+/=-" * 3
    assert store.add_bouncer("fw", key=key) == key and store.authenticate(key).name == "fw"
    with pytest.raises(ValueError, match="already registered"):
        store.add_bouncer("other", key=key)
    store.close()


def test_unsalted_key_rows_keep_working_and_are_upgraded(tmp_path):
    """Regression (issue 10 C): a row an older synsec wrote (plain SHA-256, no key id) still authenticates
    after migration, and upgrade_key rewrites it salted."""
    store = Store(tmp_path)
    key = "k" * 64
    with store.db:
        store.db.execute("INSERT INTO bouncers(name, key_hash, role, created_at) VALUES ('old', ?, 'bouncer', 0)",
                         (hashlib.sha256(key.encode()).hexdigest(),))
    store.close()
    store = Store(tmp_path)                       # the migration fills key_id
    assert KeyIndex(store.key_rows()).match(key) == ("old", "bouncer", True)
    store.upgrade_key("old", key)
    [(kid, stored, _, _)] = store.key_rows()
    assert stored.startswith("hmac-sha256$") and KeyIndex(store.key_rows()).match(key) == ("old", "bouncer", False)
    assert KeyIndex(store.key_rows()).match("k" * 63 + "j") is None
    store.close()


@pytest.mark.parametrize("key", ["\udcff\udcfe", "ключ" * 10, "a" * 600, "", "a\nb"])
def test_non_ascii_presented_key_matches_nothing(key):
    """Regression (issue 10 B): a non-UTF-8 (surrogate-escaped), non-ASCII or oversized X-Api-Key matches no
    key and raises nothing (it was a 500 with a traceback)."""
    assert KeyIndex([("00000000", "x", "fw", "bouncer")]).match(key) is None


def test_state_dir_and_database_are_private(tmp_path):
    """Regression (issue 10 C): a new state dir is 0700 and synsec.db (and its WAL) 0600; an older 0755/0644
    pair is tightened when opened."""
    new = tmp_path / "new"
    Store(new).close()
    assert stat.S_IMODE(new.stat().st_mode) == 0o700
    for p in new.glob("synsec.db*"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    old = tmp_path / "old"
    old.mkdir(mode=0o755)
    (old / "synsec.db").touch(mode=0o644)
    os.chmod(old, 0o755)
    os.chmod(old / "synsec.db", 0o644)
    Store(old).close()
    assert stat.S_IMODE(old.stat().st_mode) == 0o700 and stat.S_IMODE((old / "synsec.db").stat().st_mode) == 0o600


def test_error_log_lines_are_one_line_and_rate_limited():
    """Regression (issue 10 B): a traceback logged per bad request becomes one line, at most `per_second` lines
    pass each second, and the next line says how many were dropped (no log flood)."""
    import logging

    from connectors.api.server import OneLineErrors

    now = [100.0]
    flt = OneLineErrors(per_second=3, clock=lambda: now[0])
    try:
        raise ValueError("bad\nrequest")
    except ValueError as err:
        exc_info = (type(err), err, err.__traceback__)
    records = [logging.LogRecord("aiohttp.server", logging.ERROR, "f", 1, "Error handling request from %s",
                                 ("127.0.0.1",), exc_info) for _ in range(10)]
    passed = [r for r in records if flt.filter(r)]
    assert len(passed) == 3 and flt.suppressed == 7
    assert passed[0].exc_info is None and "\n" not in passed[0].getMessage()
    assert "ValueError" in passed[0].getMessage()
    now[0] += 1
    nxt = logging.LogRecord("aiohttp.server", logging.ERROR, "f", 1, "later", (), None)
    assert flt.filter(nxt) and nxt.getMessage() == "later (7 similar lines dropped)"


def test_api_key_cache_upgrades_an_unsalted_row_on_first_use(tmp_path):
    """Regression (issue 10 C): the API's key cache accepts a key of an unsalted row and rewrites the row salted,
    so old installations migrate as their bouncers pull."""
    from connectors.api.server import KeyCache
    from connectors.api.sqlite_view import StoreWriter

    store = Store(tmp_path)
    key = "0123456789abcdef" * 4
    with store.db:
        store.db.execute("INSERT INTO bouncers(name, key_hash, key_id, role, created_at) VALUES "
                         "('old', ?, ?, 'bouncer', 0)", (hashlib.sha256(key.encode()).hexdigest(),
                                                          hashlib.sha256(key.encode()).hexdigest()[:8]))
    cache = KeyCache(StoreWriter(store), clock=lambda: NOW)
    assert cache.match(key) == ("old", "bouncer")
    [(_, stored, _, _)] = store.key_rows()
    assert stored.startswith("hmac-sha256$") and cache.match(key) == ("old", "bouncer")
    assert cache.match(key[:-1] + "0") is None
    store.close()
