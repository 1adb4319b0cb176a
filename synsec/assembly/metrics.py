"""The engine's counter set as labelled Prometheus families (CrowdSec's `cscli metrics` vocabulary).

Every counter of `synsec.engine.counters.COUNTERS` has its family there; `register_counts` declares the families
of the counters of some scopes over a `CounterSet`, read at each render, so a long-running process (the worker)
registers once and renders on every scrape. `register_engine` adds the live-bucket gauge (`synsec_buckets`,
summed over the bucket managers). `run_samples` is what `synsec replay` and `synsec run` add to the embedded
store (the same families, without the gauge), and `register_samples` serves such samples again (the API's
/metrics: the store's). No family name or counter key is listed anywhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from synsec.engine.counters import COUNTERS, FAMILIES, RUN_SCOPES, SPECS, CounterSet
from synsec.metrics import Counters, Sample

__all__ = ["register_counts", "register_engine", "register_samples", "run_samples", "families_meta", "LINES", "PARSED", "UNPARSED",
           "WHITELISTED", "PARSER_ERRORS", "POURED", "OVERFLOWED", "UNDERFLOWED", "BUCKET_ERRORS", "BUCKETS",
           "ALERTS", "DECISIONS", "ALLOWLISTED", "PROFILE_ERRORS", "LINE_ERRORS", "OVERFLOWS_WHITELISTED"]

LINES = SPECS["lines"].family
PARSED = SPECS["parsed"].family
UNPARSED = SPECS["unparsed"].family
WHITELISTED = SPECS["whitelisted"].family
PARSER_ERRORS = SPECS["parser_dateparse_failed"].family
POURED = SPECS["poured"].family
OVERFLOWED = SPECS["overflows"].family
UNDERFLOWED = SPECS["underflows"].family
BUCKET_ERRORS = SPECS["bucket_alert_errors"].family
OVERFLOWS_WHITELISTED = SPECS["overflows_whitelisted"].family
ALERTS = SPECS["alerts"].family
DECISIONS = SPECS["decisions"].family
ALLOWLISTED = SPECS["profiles_allowlisted"].family
PROFILE_ERRORS = SPECS["profiles_filter_errors"].family
LINE_ERRORS = SPECS["too_long"].family
BUCKETS = "synsec_buckets"
_BUCKETS_HELP = "Live buckets, by scenario."


def _family_samples(counts: CounterSet, family: str, specs: list) -> Callable[[], list]:
    labels = FAMILIES[family].labels

    def fn() -> list:
        out = []
        for spec in specs:
            for values, n in counts.by(spec.name).items():
                given = dict(zip(spec.labels, values), kind=spec.kind)
                out.append((tuple(given[name] for name in labels), n))
        return out
    return fn


def _by_family(scopes: Iterable[str]) -> dict[str, list]:
    """{family: its counters} of the counters of `scopes`, in `COUNTERS` order."""
    by_family: dict[str, list] = {}
    for spec in COUNTERS:
        if spec.scope in scopes:
            by_family.setdefault(spec.family, []).append(spec)
    return by_family


def register_counts(counters: Counters, counts: CounterSet, scopes: Iterable[str] = RUN_SCOPES) -> Counters:
    """Declare the family of every counter of `scopes` (in `COUNTERS` order), its samples read from `counts`
    at each render."""
    for family, specs in _by_family(scopes).items():
        counters.collect(family, FAMILIES[family].help, FAMILIES[family].labels,
                         _family_samples(counts, family, specs), "counter")
    return counters


def register_engine(counters: Counters, engine, *, managers: Callable[[], Iterable] | None = None,
                    scopes: Iterable[str] = RUN_SCOPES) -> Counters:
    """`register_counts` over `engine.counts`, and the live-bucket gauge summed over what `managers()` returns
    (default: `engine.buckets`; the worker: one manager per buckets-in partition)."""
    managers = managers or (lambda: [engine.buckets])

    def live():
        total: dict[tuple, int] = {}
        for manager in managers():
            for name, n in manager.live_by_scenario().items():
                total[(name,)] = total.get((name,), 0) + n
        return total.items()

    register_counts(counters, engine.counts, scopes)
    counters.gauge(BUCKETS, _BUCKETS_HELP, ("scenario",), live)
    return counters


def register_samples(counters: Counters, samples: Callable[[], Iterable[Sample]],
                     scopes: Iterable[str] = RUN_SCOPES) -> Counters:
    """Declare the family of every counter of `scopes`, its samples those of `samples()` (e.g. the store's, in
    any label order) at each render."""
    for family in _by_family(scopes):
        labels = FAMILIES[family].labels

        def fn(family=family, labels=labels) -> list:
            return [(tuple(s.get(name) for name in labels), s.value) for s in samples() if s.name == family]
        counters.collect(family, FAMILIES[family].help, labels, fn, "counter")
    return counters


def families_meta(scopes: Iterable[str] = RUN_SCOPES) -> dict[str, tuple[str, str]]:
    """{family: (kind, help)} of the counters of `scopes`."""
    return {spec.family: ("counter", FAMILIES[spec.family].help) for spec in COUNTERS if spec.scope in scopes}


def run_samples(counts: CounterSet, scopes: Iterable[str] = RUN_SCOPES) -> list[Sample]:
    """The non-zero samples of a replay's or a run's counts (what the store adds up run after run)."""
    return [s for s in register_counts(Counters(), counts, scopes).samples() if s.value]
