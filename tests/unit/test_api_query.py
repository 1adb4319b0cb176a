"""LAPI query parsing (400 on malformed parameters), filters, and stream bodies over the SQLite view."""

from __future__ import annotations

import pytest

from connectors.api.inputs import InputError, parse_import, validate
from connectors.api.query import (QueryError, parse_decisions_query, parse_stream_query, select,
                                  stream_body)
from connectors.api.sqlite_view import SqliteDecisionView, StoreWriter
from synsec.store import Store

NOW = 2_000_000_000.0


@pytest.fixture
def env(tmp_path):
    store = Store(tmp_path)
    writer = StoreWriter(store)
    yield store, writer, SqliteDecisionView(store, min_interval=0)
    store.close()


def add(writer, value, scope="Ip", duration="4h", reason="synsec/test", origin="ccscli", type="ban"):
    return writer.add_decisions([validate({"value": value, "scope": scope, "duration": duration,
                                           "reason": reason, "type": type}, origin=origin)], NOW)[0]


@pytest.mark.parametrize("params, message", [
    ({"ip": "1.2.3"}, "ip"), ({"range": "10.0.0.0/33"}, "range"), ({"contains": "maybe"}, "contains"),
    ({"ip": "1.2.3.4", "range": "1.2.3.0/24"}, "not both"), ({"bogus": "1"}, "unknown parameter"),
])
def test_malformed_decisions_query_is_rejected(params, message):
    """Malformed /v1/decisions parameters raise QueryError with a message naming the problem."""
    with pytest.raises(QueryError, match=message):
        parse_decisions_query(params)


def test_stream_query_defaults_and_errors():
    """Stream: startup defaults to false, scopes to ip,range; a non-boolean startup is rejected."""
    startup, flt = parse_stream_query({})
    assert startup is False and flt.scopes == ("ip", "range")
    assert parse_stream_query({"startup": "true", "scopes": "IP"})[0] is True
    with pytest.raises(QueryError, match="startup"):
        parse_stream_query({"startup": "yes"})
    with pytest.raises(QueryError, match="unknown"):
        parse_stream_query({"ip": "1.2.3.4"})


def test_select_by_ip_scope_and_filters(env):
    """ip= returns the IP's and containing ranges' decisions; origins/type/scenario filters narrow them."""
    _, writer, view = env
    add(writer, "192.0.2.7", reason="synsec/ssh-bf")
    add(writer, "192.0.2.0/24", "Range", reason="crowdsecurity/http-probing", origin="ccscli-import")
    add(writer, "2001:db8::/48", "range", type="captcha")
    view.refresh(NOW)
    got = lambda p: sorted(r.value for r in select(view, parse_decisions_query(p), NOW))  # noqa: E731
    assert got({"ip": "192.0.2.7"}) == ["192.0.2.0/24", "192.0.2.7"]
    assert got({"ip": "192.0.2.7", "origins": "ccscli"}) == ["192.0.2.7"]
    assert got({"ip": "192.0.2.7", "scenarios_containing": "http"}) == ["192.0.2.0/24"]
    assert got({"ip": "192.0.2.7", "scenarios_not_containing": "http,xyz"}) == ["192.0.2.7"]
    assert got({"ip": "2001:db8::42"}) == ["2001:db8::/48"]
    assert got({"ip": "2001:db8::42", "type": "ban"}) == []
    assert got({"scope": "RANGE", "value": "192.0.2.0/24"}) == ["192.0.2.0/24"]
    assert got({"range": "192.0.2.0/25", "contains": "false"}) == ["192.0.2.7"]
    assert got({}) == ["192.0.2.0/24", "192.0.2.7", "2001:db8::/48"]


def test_stream_startup_then_deltas(env):
    """startup=true sends all active as new; later pulls send only what changed since the bouncer's
    sequence; empty lists are JSON null, as CrowdSec sends them."""
    _, writer, view = env
    startup, flt = parse_stream_query({"startup": "true"})
    view.refresh(NOW)
    body, head = stream_body(view, True, flt, 0, NOW)
    assert body == {"new": None, "deleted": None}
    a = add(writer, "192.0.2.1")
    view.refresh(NOW)
    body, head = stream_body(view, False, flt, head, NOW)
    assert [d["value"] for d in body["new"]] == ["192.0.2.1"] and body["deleted"] is None
    d = body["new"][0]
    assert d == {"id": a, "origin": "ccscli", "type": "ban", "scope": "Ip", "value": "192.0.2.1",
                 "duration": "4h0m0s", "scenario": "synsec/test"}
    writer.delete_decisions({"num": a}, NOW)
    view.refresh(NOW)
    body, head2 = stream_body(view, False, flt, head, NOW)
    assert body["new"] is None and [x["value"] for x in body["deleted"]] == ["192.0.2.1"] and head2 > head
    assert stream_body(view, False, flt, head2, NOW)[0] == {"new": None, "deleted": None}
    body, _ = stream_body(view, True, flt, 0, NOW)  # startup: recently deleted ones as deleted
    assert body["new"] is None and [x["value"] for x in body["deleted"]] == ["192.0.2.1"]


def test_expiry_is_sent_as_deleted(env):
    """A decision whose duration runs out reaches bouncers as a deleted entry."""
    _, writer, view = env
    flt = parse_stream_query({})[1]
    view.refresh(NOW)
    head = view.head()
    add(writer, "192.0.2.9", duration="10s")
    view.refresh(NOW + 1)
    body, head = stream_body(view, False, flt, head, NOW + 1)
    assert body["new"][0]["duration"] == "9s"
    view.refresh(NOW + 11)
    body, head = stream_body(view, False, flt, head, NOW + 11)
    assert body["new"] is None and [x["value"] for x in body["deleted"]] == ["192.0.2.9"]


def test_deletion_hidden_while_another_decision_covers_the_value(env):
    """Ending one of two decisions on an IP does not tell bouncers to unban it."""
    _, writer, view = env
    flt = parse_stream_query({})[1]
    first = add(writer, "192.0.2.5", reason="a")
    add(writer, "192.0.2.5", reason="b")
    view.refresh(NOW)
    head = view.head()
    writer.delete_decisions({"num": first}, NOW)
    view.refresh(NOW)
    assert stream_body(view, False, flt, head, NOW)[0] == {"new": None, "deleted": None}


def test_filters_apply_to_stream(env):
    """origins and scenarios_containing restrict the stream as they do /v1/decisions."""
    _, writer, view = env
    add(writer, "192.0.2.1", reason="synsec/ssh-bf")
    add(writer, "192.0.2.2", reason="synsec/http-probing")
    view.refresh(NOW)
    _, flt = parse_stream_query({"startup": "true", "scenarios_containing": "ssh", "origins": "ccscli"})
    assert [d["value"] for d in stream_body(view, True, flt, 0, NOW)[0]["new"]] == ["192.0.2.1"]
    _, flt = parse_stream_query({"startup": "true", "origins": "synsec"})
    assert stream_body(view, True, flt, 0, NOW)[0]["new"] is None


@pytest.mark.parametrize("item, message", [
    ({"value": "1.2.3"}, "invalid IP"), ({"value": "10.0.0.1/24", "scope": "Range"}, "invalid range"),
    ({"value": "10.0.0.0/33", "scope": "range"}, "invalid range"), ({"value": "1.2.3.4", "duration": "4"},
                                                                    "invalid duration"),
    ({"value": "1.2.3.4", "duration": "-1h"}, "negative"), ({"value": "1.2.3.4", "scope": "Country"},
                                                             "invalid country"),
    ({"value": "FRA", "scope": "country"}, "invalid country"), ({"value": "AS99999999999", "scope": "AS"},
                                                                 "invalid AS number"),
    ({"value": "x", "scope": "user:name"}, "invalid scope"), ({"value": "a b", "scope": "username"}, "no spaces"),
    ({"value": "x" * 300, "scope": "username"}, "at most 256"),
    ({"value": ""}, "missing value"), ({"value": "1.2.3.4", "colour": "red"}, "unknown field"),
])
def test_invalid_decision_inputs_are_rejected(item, message):
    """ccscli decisions with bad IPs, ranges, durations or scopes are refused with a clear error."""
    with pytest.raises(InputError, match=message):
        validate(item)


def test_decision_inputs_of_every_scope_are_normalised():
    """Country in upper case, AS without its prefix, custom scopes kept as given; Ip and Range as before."""
    got = [(d.scope, d.value) for d in (validate({"value": "fr", "scope": "country"}),
                                        validate({"value": "as13335", "scope": "As"}),
                                        validate({"value": "alice@example.org", "scope": "username"}),
                                        validate({"value": "2001:DB8::/32", "scope": "range"}))]
    assert got == [("Country", "FR"), ("AS", "13335"), ("username", "alice@example.org"), ("Range", "2001:db8::/32")]


def test_import_validates_every_entry_before_any():
    """An import with one bad line fails as a whole and names the line; good input is normalised."""
    with pytest.raises(InputError, match="line 3: invalid IP"):
        parse_import("192.0.2.1\n2001:DB8::1\nnot-an-ip\n", "values", {"origin": "ccscli-import"})
    got = parse_import("value,scope,duration\n192.0.2.0/24,range,1h\n2001:DB8::1,,\n", "csv", {})
    assert [(d.scope, d.value, d.duration) for d in got] == [("Range", "192.0.2.0/24", 3600.0),
                                                              ("Ip", "2001:db8::1", 14400.0)]


def test_delta_across_an_api_restart_comes_from_the_store(env):
    """A bouncer that pulled before the API restarted still gets the deletion made while it was down."""
    store, writer, view = env
    flt = parse_stream_query({})[1]
    a = add(writer, "192.0.2.20")
    add(writer, "192.0.2.21")
    view.refresh(NOW)
    _, head = stream_body(view, True, flt, 0, NOW)
    writer.delete_decisions({"num": a}, NOW)
    add(writer, "192.0.2.22")
    restarted = SqliteDecisionView(store, min_interval=0)
    restarted.refresh(NOW)
    body, _ = stream_body(restarted, False, flt, head, NOW)
    assert [d["value"] for d in body["deleted"]] == ["192.0.2.20"]
    assert [d["value"] for d in body["new"]] == ["192.0.2.22"]
