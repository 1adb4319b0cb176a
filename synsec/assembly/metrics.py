"""The engine's counters as labelled Prometheus families (CrowdSec's `cscli metrics` vocabulary).

The engine keeps plain int dicts (`Engine.stats` with its per-source counts, no-timestamp lines and
whitelisted overflows, `BucketManager.stats` per scenario, and `ctx.counters`: the parser's error counts,
date-parse failures and the profiles' counts, one dict shared by the parser, the enrichers and the profiles);
`register_engine` exposes them as families read at each render, so a long-running process (the worker)
registers once and renders on every scrape, with the input reader's bad lines when it is given them
(`line_errors`). Alerts and decisions are counted by whoever makes them (`count_outputs`). `replay_samples`
is what `synsec replay` and `synsec run` add to the embedded store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from synsec.engine.profiles import COUNT_PREFIX
from synsec.metrics import Counters, Sample

__all__ = ["register_engine", "declare_outputs", "count_outputs", "replay_samples", "FAMILIES",
           "LINES", "PARSED", "UNPARSED", "WHITELISTED", "PARSER_ERRORS", "POURED", "OVERFLOWED",
           "UNDERFLOWED", "BUCKET_ERRORS", "BUCKETS", "ALERTS", "DECISIONS", "ALLOWLISTED", "PROFILE_ERRORS",
           "LINE_ERRORS", "OVERFLOWS_WHITELISTED"]

LINES = "synsec_acquisition_lines_read_total"
LINE_ERRORS = "synsec_acquisition_line_errors_total"
PARSED = "synsec_parser_hits_ok_total"
UNPARSED = "synsec_parser_hits_ko_total"
WHITELISTED = "synsec_parser_whitelisted_total"
PARSER_ERRORS = "synsec_parser_errors_total"
POURED = "synsec_bucket_poured_total"
OVERFLOWED = "synsec_bucket_overflowed_total"
OVERFLOWS_WHITELISTED = "synsec_overflows_whitelisted_total"
UNDERFLOWED = "synsec_bucket_underflowed_total"
BUCKET_ERRORS = "synsec_bucket_errors_total"
BUCKETS = "synsec_buckets"
ALERTS = "synsec_alerts_total"
DECISIONS = "synsec_decisions_total"
ALLOWLISTED = "synsec_alerts_allowlisted_total"
PROFILE_ERRORS = "synsec_profile_errors_total"

# name: (kind, help, labels)
FAMILIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    LINES: ("counter", "Lines read and offered to the parsers, by acquisition source.", ("source",)),
    LINE_ERRORS: ("counter", "Bad lines the reader met, by kind: too_long and unreadable (not in "
                             "their source's format; skipped), invalid_utf8 and binary (replaced and kept).",
                  ("kind",)),
    PARSED: ("counter", "Lines a parser accepted, by acquisition source.", ("source",)),
    UNPARSED: ("counter", "Lines no parser accepted, by acquisition source.", ("source",)),
    WHITELISTED: ("counter", "Parsed lines dropped by a parser whitelist, by acquisition source.", ("source",)),
    PARSER_ERRORS: ("counter", "Parser run-time errors (expressions; dateparse_failed: a date no layout "
                               "parses; no_timestamp: a parsed line without a time), by kind.", ("kind",)),
    POURED: ("counter", "Events poured into buckets, by scenario.", ("scenario",)),
    OVERFLOWED: ("counter", "Bucket overflows, by scenario.", ("scenario",)),
    OVERFLOWS_WHITELISTED: ("counter", "Overflows a postoverflow whitelist dropped (no alert).", ()),
    UNDERFLOWED: ("counter", "Buckets that leaked out without overflowing, by scenario.", ("scenario",)),
    BUCKET_ERRORS: ("counter", "Bucket filter/groupby/alert errors, by scenario and kind.", ("scenario", "kind")),
    BUCKETS: ("gauge", "Live buckets, by scenario.", ("scenario",)),
    ALERTS: ("counter", "Alerts raised, by scenario.", ("scenario",)),
    DECISIONS: ("counter", "Decisions made, by origin, scenario and type.", ("origin", "scenario", "type")),
    ALLOWLISTED: ("counter", "Alerts whose source an allowlist covers (no decision made).", ()),
    PROFILE_ERRORS: ("counter", "Profile run-time errors (filter, duration_expr), by kind.", ("kind",)),
}
_PROFILE_ERRORS = ((COUNT_PREFIX + "filter_errors", "filter"),
                   (COUNT_PREFIX + "duration_expr_errors", "duration_expr"))      # (engine key, kind label)

_SOURCE_FAMILIES = ((LINES, "lines"), (PARSED, "parsed"), (UNPARSED, "unparsed"), (WHITELISTED, "whitelisted"))
_BUCKET_FAMILIES = ((POURED, "poured"), (OVERFLOWED, "overflows"), (UNDERFLOWED, "underflows"))
_BUCKET_ERRORS = ("filter_errors", "groupby_errors", "alert_errors")


def _collect(counters: Counters, name: str, fn) -> None:
    kind, help_text, labels = FAMILIES[name]
    counters.collect(name, help_text, labels, fn, kind)


def register_engine(counters: Counters, engine, *, managers: Callable[[], Iterable] | None = None,
                    overflows_whitelisted: Callable[[], int] | None = None, live_buckets: bool = True,
                    line_errors: Callable[[], dict[str, int]] | None = None) -> Counters:
    """Families computed from `engine`'s counts at each render. Bucket counts come from `engine.buckets`,
    or, when buckets live in several managers (the worker: one per buckets-in partition), summed over what
    `managers()` returns; whitelisted overflows likewise from `overflows_whitelisted()`. `live_buckets`:
    also the live-bucket gauge (it walks the bucket stores). `line_errors()`: the input reader's bad lines by
    kind (`InputStats.errors()`), when there is a reader."""
    managers = managers or (lambda: [engine.buckets])
    overflows_whitelisted = overflows_whitelisted or (lambda: engine.stats.overflows_whitelisted)

    def per_source(field: str):
        def fn():
            stats = engine.stats                      # read at render: a runner may swap in a fresh Stats
            stats.settle()
            return [((src,), counts[field]) for src, counts in stats.sources.items()]
        return fn

    def per_scenario(fields: tuple[str, ...], with_kind: bool = False):
        def fn():
            total: dict[tuple, int] = {}
            for manager in managers():
                for name, counts in manager.stats.items():
                    for field in fields:
                        if counts.get(field):
                            key = (name, field) if with_kind else (name,)
                            total[key] = total.get(key, 0) + counts[field]
            return total.items()
        return fn

    def live():
        total: dict[tuple, int] = {}
        for manager in managers():
            for name, n in manager.live_by_scenario().items():
                total[(name,)] = total.get((name,), 0) + n
        return total.items()

    for name, field in _SOURCE_FAMILIES:
        _collect(counters, name, per_source(field))
    def engine_counts():
        return dict(engine.ctx.counters)              # a copy: another thread may count while we render

    def parser_errors():
        out = [((k,), v) for k, v in engine_counts().items() if not k.startswith(COUNT_PREFIX)]
        return out + ([(("no_timestamp",), n)] if (n := engine.stats.no_timestamp) else [])

    _collect(counters, PARSER_ERRORS, parser_errors)
    _collect(counters, OVERFLOWS_WHITELISTED, lambda: [((), overflows_whitelisted())])
    if line_errors is not None:
        _collect(counters, LINE_ERRORS, lambda: [((kind,), n) for kind, n in line_errors().items() if n])
    _collect(counters, ALLOWLISTED, lambda: [((), engine_counts().get(COUNT_PREFIX + "allowlisted", 0))])
    _collect(counters, PROFILE_ERRORS, lambda: [((kind,), n) for key, kind in _PROFILE_ERRORS
                                                if (n := engine_counts().get(key, 0))])
    for name, field in _BUCKET_FAMILIES:
        _collect(counters, name, per_scenario((field,)))
    _collect(counters, BUCKET_ERRORS, per_scenario(_BUCKET_ERRORS, with_kind=True))
    if live_buckets:
        _collect(counters, BUCKETS, live)
    return counters


def declare_outputs(counters: Counters) -> Counters:
    for name in (ALERTS, DECISIONS):
        kind, help_text, labels = FAMILIES[name]
        counters.declare(name, help_text, labels, kind)
    return counters


def count_outputs(counters: Counters, alerts: Iterable = (), decisions: Iterable = ()) -> None:
    """Count engine `Alert`s by scenario and `Decision`s by origin, scenario and type."""
    for alert in alerts:
        counters.inc(ALERTS, scenario=alert.Scenario)
    for d in decisions:
        counters.inc(DECISIONS, origin=d.origin, scenario=d.scenario, type=d.type)


def replay_samples(engine, alerts: Iterable, decisions: Iterable,
                   line_errors: dict[str, int] | None = None) -> list[Sample]:
    """The counter samples of one replay or run (what the store adds up run after run), with the input
    reader's bad lines by kind; gauges are left out."""
    counters = declare_outputs(register_engine(Counters(), engine, live_buckets=False,
                                               line_errors=lambda: line_errors or {}))
    count_outputs(counters, alerts, decisions)
    return [s for s in counters.samples() if FAMILIES[s.name][0] == "counter" and s.value]
