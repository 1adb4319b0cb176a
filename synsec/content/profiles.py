"""profiles.yaml, simulation.yaml and allowlists.yaml → the engine's ProfileEngine pieces."""

from __future__ import annotations

from datetime import datetime, timezone

from synsec.content.spec import Doc, check_keys, get_bool, get_list, get_str
from synsec.content.yamlload import kind_of, line_of, load_documents
from synsec.engine.durations import DurationError, parse_duration
from synsec.engine.errors import ErrorCollector, LoadError
from synsec.engine.history import target
from synsec.engine.profiles import AllowEntry, Allowlist, DecisionTemplate, Profile, Simulation

__all__ = ["load_profiles", "load_simulation", "load_allowlists", "ON_ERROR"]

PROFILE_KEYS = frozenset({"name", "debug", "filters", "decisions", "duration_expr", "notifications",
                          "on_success", "on_failure", "on_error"})
ON_ERROR = ("break", "continue", "apply", "ignore")
DECISION_KEYS = frozenset({"type", "scope", "duration", "value", "origin"})


def _decision(d: Doc) -> DecisionTemplate | None:
    check_keys(d, DECISION_KEYS)
    text = get_str(d, "duration", "4h") or "4h"
    try:
        duration = parse_duration(text)
    except DurationError as err:
        d.error("duration", str(err))
        return None
    return DecisionTemplate(get_str(d, "type", "ban") or "ban", get_str(d, "scope", "") or "", duration)


def _profile(doc: Doc, expr_ctx, errors: ErrorCollector, notification_names: frozenset | None) -> Profile | None:
    from synsec.engine.expr import compile_expr, compile_predicate

    check_keys(doc, PROFILE_KEYS)
    name = get_str(doc, "name", required=True) or ""
    get_bool(doc, "debug")
    filters = []
    for i, text in enumerate(get_list(doc, "filters")):
        where = doc.item_where("filters", i)
        if not isinstance(text, str):
            errors.add(LoadError(where, f"expected an expression (a string), got {kind_of(text)}"))
            continue
        try:
            filters.append(compile_predicate(text, where=where, params=("Alert",), ctx=expr_ctx))
        except LoadError as err:
            errors.add(err)
    decisions = []
    for i, item in enumerate(get_list(doc, "decisions")):
        t = _decision(doc.item("decisions", i, item))
        if t is not None:
            decisions.append(t)
    duration_expr = None
    text = get_str(doc, "duration_expr")
    if text:
        try:
            duration_expr = compile_expr(text, where=doc.where("duration_expr"),
                                         params=("Alert",), ctx=expr_ctx)
        except LoadError as err:
            errors.add(err)
    flow = {}
    for key in ("on_success", "on_failure"):
        flow[key] = get_str(doc, key, "") or ""
        if flow[key] not in ("", "break", "continue"):
            doc.error(key, f"expected break or continue, got {flow[key]!r}")
    on_error = get_str(doc, "on_error", "") or ""
    if on_error not in ("", *ON_ERROR):
        doc.error("on_error", f"expected one of {', '.join(ON_ERROR)}, got {on_error!r}")
        on_error = ""
    return Profile(name, tuple(filters), tuple(decisions), duration_expr, flow["on_success"], flow["on_failure"],
                   on_error, _notifications(doc, notification_names))


def _notifications(doc: Doc, known: frozenset | None) -> tuple[str, ...]:
    """The names of `notifications:`, each one the `name` of a file of notifications/ (`known`)."""
    out = []
    for i, name in enumerate(get_list(doc, "notifications")):
        if not isinstance(name, str) or not name:
            doc.errors.add(LoadError(doc.item_where("notifications", i), f"expected a notification name, got "
                                                                          f"{kind_of(name)}"))
            continue
        if known is not None and name not in known:
            have = ", ".join(sorted(known)[:10]) or "none"
            doc.errors.add(LoadError(doc.item_where("notifications", i), f"no notification named {name!r} in "
                                                                          f"notifications/ (configured: {have})"))
            continue
        out.append(name)
    return tuple(out)


def load_profiles(path: str, text: str, expr_ctx, errors: ErrorCollector,
                  notification_names: frozenset | None = frozenset()) -> list[Profile]:
    """`notification_names`: the notifications a profile may name (None: any name)."""
    out = []
    try:
        for line, data in load_documents(text, path):
            p = _profile(Doc(data, path, "", errors, line), expr_ctx, errors, notification_names)
            if p is not None:
                out.append(p)
    except LoadError as err:
        errors.add(err)
    return out


def load_simulation(path: str, text: str, errors: ErrorCollector) -> Simulation:
    try:
        docs = list(load_documents(text, path))
    except LoadError as err:
        errors.add(err)
        return Simulation()
    if not docs:
        return Simulation()
    doc = Doc(docs[0][1], path, "", errors, docs[0][0])
    check_keys(doc, {"simulation", "exclusions"})
    return Simulation(get_bool(doc, "simulation"), frozenset(str(x) for x in get_list(doc, "exclusions")))


def _expiry(d: Doc) -> float | None:
    """The expiry as a Unix time; a date without a zone is UTC (the loader reads no local clock or zone)."""
    raw = get_str(d, "expiration", "")
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()
    except (ValueError, OverflowError):
        d.error("expiration", f"invalid date {raw[:40]!r} (RFC 3339, e.g. 2026-12-31T00:00:00Z)")
        return None


def load_allowlists(path: str, text: str, errors: ErrorCollector) -> Allowlist:
    """`- name: x\\n  items: [{value: 192.0.2.0/24, expiration: 2026-12-31T00:00:00Z, description: ...}]`"""
    entries = []
    try:
        docs = list(load_documents(text, path))
    except LoadError as err:
        errors.add(err)
        return Allowlist()
    for _, data in docs:
        lists = data if isinstance(data, list) else [data]
        for li, lst in enumerate(lists):
            ld = Doc(lst, path, f"[{li}]", errors, line_of(lists, li) or line_of(lst))
            check_keys(ld, {"name", "description", "items"})
            for i, item in enumerate(get_list(ld, "items")):
                d = ld.item("items", i, item)
                check_keys(d, {"value", "expiration", "description"})
                value = get_str(d, "value", required=True) or ""
                net = target(value)
                if net is None:
                    d.error("value", f"invalid IP or CIDR {value[:70]!r}")
                    continue
                entries.append(AllowEntry(net, _expiry(d), get_str(d, "description", "") or ""))
    return Allowlist(tuple(entries))
