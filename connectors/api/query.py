"""LAPI query parameters: parsed and validated (QueryError → 400), then applied to a DecisionView.

`GET /v1/decisions`: ip, range, scope, value, type, origins, scopes, scenarios_containing,
scenarios_not_containing, contains (CrowdSec's names and meanings). `GET /v1/decisions/stream`: startup,
scopes, origins, scenarios_containing, scenarios_not_containing. Unknown parameters are rejected, as
CrowdSec's LAPI does for /v1/decisions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from connectors.api.model import DecisionRecord, Target, parse_ip, parse_network
from connectors.api.view import DecisionView
from synsec.engine.durations import DurationError, parse_duration
from synsec.store.alert_filter import AlertFilter
from synsec.engine.errors import SynsecError

__all__ = ["QueryError", "DecisionFilter", "DecisionsQuery", "parse_decisions_query", "parse_stream_query",
           "select", "stream_body", "parse_bool", "parse_uint", "MAX_INT", "parse_alerts_query",
           "ALERTS_KEYS", "DELETE_ALERTS_KEYS"]

MAX_INT = 2**63 - 1          # SQLite's INTEGER; ids and limits above it are refused, not overflowed
_UINT = re.compile(r"[0-9]{1,19}")   # ASCII digits only: str.isdigit and int() also take '²' and '١٧'

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}
_FILTER_KEYS = {"type", "origins", "scopes", "scenarios_containing", "scenarios_not_containing"}
DECISIONS_KEYS = _FILTER_KEYS | {"ip", "range", "scope", "value", "contains"}
# community_pull/additional_pull: sent by newer bouncer libraries; synsec has no central API to pull from
STREAM_KEYS = (_FILTER_KEYS - {"type"}) | {"startup", "community_pull", "additional_pull"}


class QueryError(SynsecError, ValueError):
    """A malformed query parameter; the message is returned with a 400."""


def parse_bool(name: str, text: str) -> bool:
    """Go's strconv.ParseBool, which CrowdSec uses."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise QueryError(f"{name}: {text!r} is not a boolean (true or false)")


def parse_uint(name: str, text: str, maximum: int = MAX_INT) -> int:
    """A non-negative integer in ASCII digits, at most `maximum`; QueryError otherwise."""
    if not _UINT.fullmatch(text) or int(text) > maximum:
        shown = text if len(text) <= 30 else text[:30] + "…"
        raise QueryError(f"{name}: {shown!r} is not an integer between 0 and {maximum}")
    return int(text)


def _list(text: str | None) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip()) if text else ()


@dataclass(frozen=True)
class DecisionFilter:
    """The attribute filters shared by both routes. Empty means no restriction."""

    types: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()         # lower case
    origins: tuple[str, ...] = ()
    scenarios_containing: tuple[str, ...] = ()
    scenarios_not_containing: tuple[str, ...] = ()

    def accepts(self, rec: DecisionRecord) -> bool:
        if self.types and rec.type not in self.types:
            return False
        if self.scopes and rec.scope.lower() not in self.scopes:
            return False
        if self.origins and rec.origin not in self.origins:
            return False
        if self.scenarios_containing and not any(s in rec.scenario for s in self.scenarios_containing):
            return False
        return not any(s in rec.scenario for s in self.scenarios_not_containing)


def _filter(params: Mapping[str, str], default_scopes: str = "") -> DecisionFilter:
    return DecisionFilter(types=_list(params.get("type")),
                          scopes=tuple(s.lower() for s in _list(params.get("scopes", default_scopes))),
                          origins=_list(params.get("origins")),
                          scenarios_containing=_list(params.get("scenarios_containing")),
                          scenarios_not_containing=_list(params.get("scenarios_not_containing")))


def _check_keys(params: Mapping[str, str], allowed: set[str]) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise QueryError(f"unknown parameter(s): {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")


@dataclass(frozen=True)
class DecisionsQuery:
    filter: DecisionFilter
    target: Target | None = None
    contains: bool = True
    scope: str | None = None
    value: str | None = None


def parse_decisions_query(params: Mapping[str, str]) -> DecisionsQuery:
    _check_keys(params, DECISIONS_KEYS)
    if "ip" in params and "range" in params:
        raise QueryError("give ip or range, not both")
    target = None
    if "ip" in params:
        try:
            ip = parse_ip(params["ip"].strip())
        except ValueError:
            raise QueryError(f"ip: {params['ip']!r} is not an IPv4 or IPv6 address") from None
        target = (ip.version, int(ip), int(ip))
    elif "range" in params:
        try:
            net = parse_network(params["range"].strip(), strict=False)
        except ValueError:
            raise QueryError(f"range: {params['range']!r} is not a CIDR range (e.g. 192.0.2.0/24)") from None
        target = (net.version, int(net.network_address), int(net.broadcast_address))
    contains = parse_bool("contains", params["contains"]) if "contains" in params else True
    scope = params.get("scope") or None
    return DecisionsQuery(filter=_filter(params), target=target, contains=contains, scope=scope,
                          value=params.get("value") or None)


def parse_stream_query(params: Mapping[str, str]) -> tuple[bool, DecisionFilter]:
    """(startup, filter). Scopes default to `ip,range`, as in CrowdSec."""
    _check_keys(params, STREAM_KEYS)
    startup = parse_bool("startup", params["startup"]) if "startup" in params else False
    for name in ("community_pull", "additional_pull"):
        if name in params:
            parse_bool(name, params[name])
    return startup, _filter(params, default_scopes="ip,range")


def select(view: DecisionView, q: DecisionsQuery, now: float) -> list[DecisionRecord]:
    """Decisions for `GET /v1/decisions`: an index lookup by target or value, then the attribute filters."""
    if q.target is not None:
        recs = view.containing(q.target, now) if q.contains else view.contained(q.target, now)
        if q.value is not None:
            recs = [r for r in recs if r.value == q.value]
        if q.scope is not None:
            recs = [r for r in recs if r.scope.lower() == q.scope.lower()]
    elif q.value is not None:
        recs = view.by_value(q.scope or "ip", q.value, now) if q.scope else \
            [r for s in ("ip", "range") for r in view.by_value(s, q.value, now)]
    else:
        recs = view.active(now)
        if q.scope is not None:
            recs = [r for r in recs if r.scope.lower() == q.scope.lower()]
    return [r for r in recs if q.filter.accepts(r)]


def stream_body(view: DecisionView, startup: bool, flt: DecisionFilter, last_seq: int,
                now: float) -> tuple[dict, int]:
    """The `{"new": …, "deleted": …}` body for one bouncer pull, and the sequence it brings the bouncer to.
    An ended decision is not sent as deleted while another decision on the same value still applies."""
    delta = None if startup else view.changes_since(last_seq, now)
    if delta is None or not delta.complete:
        head = view.head()
        new, deleted = view.active(now), view.recently_ended(now)
    else:
        head, new, deleted = delta.head, delta.new, delta.deleted
    new = [r for r in new if flt.accepts(r)]
    deleted = [r for r in deleted if flt.accepts(r)
               and not any(flt.accepts(o) for o in view.by_value(r.scope, r.value, now))]
    body = {"new": [r.to_lapi(now) for r in new] or None,
            "deleted": [r.to_lapi(now) for r in deleted] or None}
    return body, head


# GET /v1/alerts and DELETE /v1/alerts: CrowdSec's filters (`value` alone: any scope; synsec's ccscli sends it)
# `contains` and `include_capi` (sent by cscli) are checked as booleans and change nothing: `ip`/`range` match as
# `AlertFilter` says, and synsec keeps no alerts of pulled blocklists.
ALERTS_KEYS = {"scope", "value", "scenario", "ip", "range", "since", "until", "simulated", "has_active_decision",
               "decision_type", "limit", "origin", "contains", "include_capi"}
DELETE_ALERTS_KEYS = {"scope", "value", "scenario", "ip", "range", "since", "until", "has_active_decision",
                      "alert_source", "contains", "limit"}


def _ago(name: str, text: str, now: float) -> float:
    try:
        return now - parse_duration(text)
    except DurationError as err:
        raise QueryError(f"{name}: {err}") from None


def parse_alerts_query(params: Mapping[str, str], now: float,
                       allowed: set[str] = ALERTS_KEYS) -> tuple[AlertFilter, int]:
    """(filter, limit) of an alerts query; `since=1h`: started within the last hour, `until=1h`: before it."""
    _check_keys(params, allowed)
    get = {k: v.strip() for k, v in params.items() if v.strip()}
    ip = network = None
    if "ip" in get:
        try:
            ip = str(parse_ip(get["ip"]))
        except ValueError:
            raise QueryError(f"ip: {get['ip'][:60]!r} is not an IPv4 or IPv6 address") from None
    if "range" in get:
        try:
            network = parse_network(get["range"], strict=False)
        except ValueError:
            raise QueryError(f"range: {get['range'][:60]!r} is not a CIDR range") from None
    flags = {k: parse_bool(k, get[k]) for k in ("simulated", "has_active_decision", "contains", "include_capi")
             if k in get}
    limit = parse_uint("limit", get["limit"]) if "limit" in get else 50
    return AlertFilter(scope=get.get("scope"), value=get.get("value"), scenario=get.get("scenario"), ip=ip,
                       network=network, since=_ago("since", get["since"], now) if "since" in get else None,
                       until=_ago("until", get["until"], now) if "until" in get else None,
                       simulated=None if flags.get("simulated", True) else False,
                       has_active_decision=flags.get("has_active_decision"),
                       decision_type=get.get("decision_type"),
                       origin=get.get("origin") or get.get("alert_source"), now=now), limit
