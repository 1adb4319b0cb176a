"""The one counter set: every count the engine and its runners keep, each under one name, in one table.

`CounterSet` holds `{name: {label values: n}}` for the names of `COUNTERS` and nothing else (`inc` of an
unknown name is a KeyError), so a count cannot be kept without being listed here — and what is listed here is
exported by one function each: the end-of-run summary (`CounterSet.summary`: `synsec replay`, `synsec run`),
the Prometheus families (`synsec.assembly.metrics.register_counts`: a worker's /metrics, the samples the store
keeps for `ccscli metrics` and the API's /metrics). The parser, the enrichers, the buckets, the profiles and
`Engine` count into the set of their engine (`Engine.counts`, built once by `synsec.assembly.build`); the
runners' line readers and the inputs of `synsec run` (tailer, journal, syslog listener, transforms) count into
the same set, and so do the worker's agents.

| name | labels | family {fixed label} | counted by |
|---|---|---|---|
| lines, parsed, unparsed, whitelisted | source | synsec_acquisition_lines_read_total, synsec_parser_hits_ok_total, synsec_parser_hits_ko_total, synsec_parser_whitelisted_total | Engine.parse |
| no_timestamp | | synsec_parser_errors_total{kind=no_timestamp} | Engine.parse (a parsed line without a time) |
| parser_dateparse_failed | | synsec_parser_errors_total{kind=dateparse_failed} | the ParseDate enricher |
| rdns_cache_hits, rdns_cache_misses, rdns_queries, rdns_rate_waits, rdns_answered, rdns_nxdomain, rdns_timeouts, rdns_errors, rdns_fcrdns_failed, rdns_dropped, rdns_wait_timeouts | | synsec_enrich_rdns_total{kind=cache_hits…} | the reverse_dns resolver (synsec.assembly.rdns) |
| parser_filter_errors, parser_whitelist_errors, parser_grok_expr_errors, parser_stash_errors, parser_static_errors | | synsec_parser_errors_total{kind=filter_errors…} | parser nodes, statics |
| poured, overflows, underflows | scenario | synsec_bucket_poured_total, synsec_bucket_overflowed_total, synsec_bucket_underflowed_total | BucketManager |
| canceled | scenario | synsec_bucket_canceled_total | BucketManager (a pour matching `cancel_on`) |
| overflows_blackholed, overflows_filtered | scenario | synsec_bucket_overflows_discarded_total{kind=blackhole, overflow_filter} | BucketManager |
| bucket_filter_errors, bucket_groupby_errors, bucket_alert_errors | scenario | synsec_bucket_errors_total{kind=filter_errors…} | BucketManager |
| overflows_whitelisted | | synsec_overflows_whitelisted_total | Engine (postoverflow whitelists) |
| alerts | scenario | synsec_alerts_total | Engine (after the postoverflows) |
| decisions | origin, scenario, type | synsec_decisions_total | ProfileEngine (Engine.decide; the API's profiles for pushed alerts) |
| profiles_allowlisted | | synsec_alerts_allowlisted_total | ProfileEngine (allowlists.yaml) |
| profiles_filter_errors, profiles_duration_expr_errors | | synsec_profile_errors_total{kind=filter, duration_expr} | ProfileEngine |
| profiles_notifications | notification | synsec_notifications_total | ProfileEngine (a matched profile's `notifications:`, queued with its alert) |
| bytes | source | synsec_acquisition_bytes_total | line readers (synsec.runner.inputs, journal, listener), the worker's parse agent |
| too_long, invalid_utf8, binary | | synsec_acquisition_line_errors_total{kind=…} | line readers; the worker's parse agent (too_long) |
| unreadable | | synsec_acquisition_line_errors_total{kind=unreadable} | syslog listener, journal reader |
| opened, rotations, truncations, resumed, transform_errors, journal_restarts, tcp_refused | | synsec_acquisition_inputs_total{kind=…} | the inputs of `synsec run` (synsec.runner.tail, sources, journal, listener) |
| worker_agent | agent, counter | synsec_worker_agent_total | the worker's agents (`Shell.count`) |

Counts are plain ints in dicts: the hot path is one dict update (`inc`). Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CounterSpec", "Family", "COUNTERS", "SPECS", "FAMILIES", "CounterSet", "RUN_SCOPES", "BREAKDOWNS"]


@dataclass(frozen=True)
class Family:
    """A Prometheus family: several counters may share it, told apart by a fixed `kind` label."""

    name: str
    help: str
    labels: tuple[str, ...]         # every label, `kind` included where the family has one


@dataclass(frozen=True)
class CounterSpec:
    name: str                       # the one name: summary key, `inc` name
    labels: tuple[str, ...]         # the labels given to `inc`, in order
    family: str
    kind: str = ""                  # the family's `kind` label value for this counter ("" when none)
    scope: str = "engine"           # engine | enrich (the reverse_dns resolver) | input (line readers) | run
                                    # (synsec run's inputs) | worker


_F = (
    Family("synsec_acquisition_lines_read_total", "Lines read and offered to the parsers, by acquisition source.",
           ("source",)),
    Family("synsec_acquisition_bytes_total", "Bytes read, by acquisition source.", ("source",)),
    Family("synsec_acquisition_line_errors_total", "Bad lines the reader met, by kind: too_long and unreadable "
           "(not in their source's format; skipped), invalid_utf8 and binary (replaced and kept).", ("kind",)),
    Family("synsec_acquisition_inputs_total", "What the inputs of synsec run met, by kind: files opened, rotated, "
           "truncated or resumed at a saved offset, transform errors, journalctl restarts, refused TCP "
           "connections.", ("kind",)),
    Family("synsec_parser_hits_ok_total", "Lines a parser accepted, by acquisition source.", ("source",)),
    Family("synsec_parser_hits_ko_total", "Lines no parser accepted, by acquisition source.", ("source",)),
    Family("synsec_parser_whitelisted_total", "Parsed lines dropped by a parser whitelist, by acquisition source.",
           ("source",)),
    Family("synsec_parser_errors_total", "Parser run-time errors (expressions; dateparse_failed: a date no layout "
           "parses; no_timestamp: a parsed line without a time), by kind.", ("kind",)),
    Family("synsec_enrich_rdns_total", "The reverse_dns enricher's lookups, by kind: cache hits and misses, queries "
           "sent, queries that waited for the rate bound, their outcomes (answered, nxdomain, timeouts, errors, "
           "fcrdns_failed), misses dropped (too many pending), waits given up.", ("kind",)),
    Family("synsec_bucket_poured_total", "Events poured into buckets, by scenario.", ("scenario",)),
    Family("synsec_bucket_overflowed_total", "Bucket overflows, by scenario.", ("scenario",)),
    Family("synsec_bucket_underflowed_total", "Buckets that leaked out without overflowing, by scenario.",
           ("scenario",)),
    Family("synsec_bucket_canceled_total", "Buckets a `cancel_on` event ended (no alert), by scenario.",
           ("scenario",)),
    Family("synsec_bucket_overflows_discarded_total", "Overflows discarded (no alert), by scenario and kind: "
           "blackhole (the key overflowed within its blackhole), overflow_filter (the filter returned false).",
           ("scenario", "kind")),
    Family("synsec_bucket_errors_total", "Bucket filter/groupby/alert errors, by scenario and kind.",
           ("scenario", "kind")),
    Family("synsec_overflows_whitelisted_total", "Overflows a postoverflow whitelist dropped (no alert).", ()),
    Family("synsec_alerts_total", "Alerts raised, by scenario.", ("scenario",)),
    Family("synsec_decisions_total", "Decisions made, by origin, scenario and type.", ("origin", "scenario", "type")),
    Family("synsec_alerts_allowlisted_total", "Alerts whose source an allowlist covers (no decision made).", ()),
    Family("synsec_profile_errors_total", "Profile run-time errors (filter, duration_expr), by kind.", ("kind",)),
    Family("synsec_notifications_total", "Notifications a matched profile names (queued with the alert for "
           "delivery, docs/notifications.md), by notification.", ("notification",)),
    Family("synsec_worker_agent_total", "The worker agents' own counts (messages, batches, dead letters, "
           "markers…).", ("agent", "counter")),
)
FAMILIES: dict[str, Family] = {f.name: f for f in _F}


def _specs() -> tuple[CounterSpec, ...]:
    src, sc = ("source",), ("scenario",)
    parser_errors = "synsec_parser_errors_total"
    out = [CounterSpec("lines", src, "synsec_acquisition_lines_read_total"),
           CounterSpec("parsed", src, "synsec_parser_hits_ok_total"),
           CounterSpec("unparsed", src, "synsec_parser_hits_ko_total"),
           CounterSpec("whitelisted", src, "synsec_parser_whitelisted_total"),
           CounterSpec("no_timestamp", (), parser_errors, "no_timestamp")]
    out += [CounterSpec(f"parser_{kind}", (), parser_errors, kind)
            for kind in ("dateparse_failed", "filter_errors", "whitelist_errors", "grok_expr_errors",
                         "stash_errors", "static_errors")]
    out += [CounterSpec(f"rdns_{kind}", (), "synsec_enrich_rdns_total", kind, "enrich")
            for kind in ("cache_hits", "cache_misses", "queries", "rate_waits", "answered", "nxdomain", "timeouts",
                         "errors", "fcrdns_failed", "dropped", "wait_timeouts")]
    out += [CounterSpec("poured", sc, "synsec_bucket_poured_total"),
            CounterSpec("overflows", sc, "synsec_bucket_overflowed_total"),
            CounterSpec("underflows", sc, "synsec_bucket_underflowed_total"),
            CounterSpec("canceled", sc, "synsec_bucket_canceled_total"),
            CounterSpec("overflows_blackholed", sc, "synsec_bucket_overflows_discarded_total", "blackhole"),
            CounterSpec("overflows_filtered", sc, "synsec_bucket_overflows_discarded_total", "overflow_filter")]
    out += [CounterSpec(f"bucket_{kind}", sc, "synsec_bucket_errors_total", kind)
            for kind in ("filter_errors", "groupby_errors", "alert_errors")]
    out += [CounterSpec("overflows_whitelisted", (), "synsec_overflows_whitelisted_total"),
            CounterSpec("alerts", sc, "synsec_alerts_total"),
            CounterSpec("decisions", ("origin", "scenario", "type"), "synsec_decisions_total"),
            CounterSpec("profiles_allowlisted", (), "synsec_alerts_allowlisted_total"),
            CounterSpec("profiles_filter_errors", (), "synsec_profile_errors_total", "filter"),
            CounterSpec("profiles_duration_expr_errors", (), "synsec_profile_errors_total", "duration_expr"),
            CounterSpec("profiles_notifications", ("notification",), "synsec_notifications_total"),
            CounterSpec("bytes", src, "synsec_acquisition_bytes_total", scope="input")]
    out += [CounterSpec(kind, (), "synsec_acquisition_line_errors_total", kind, "input")
            for kind in ("too_long", "invalid_utf8", "binary")]
    out.append(CounterSpec("unreadable", (), "synsec_acquisition_line_errors_total", "unreadable", "run"))
    out += [CounterSpec(kind, (), "synsec_acquisition_inputs_total", kind, "run")
            for kind in ("opened", "rotations", "truncations", "resumed", "transform_errors", "journal_restarts",
                         "tcp_refused")]
    out.append(CounterSpec("worker_agent", ("agent", "counter"), "synsec_worker_agent_total", scope="worker"))
    return tuple(out)


COUNTERS: tuple[CounterSpec, ...] = _specs()
SPECS: dict[str, CounterSpec] = {s.name: s for s in COUNTERS}
RUN_SCOPES = ("engine", "enrich", "input", "run")          # what `synsec replay` and `synsec run` count and summarise
# summary breakdowns: counters with exactly this one label are also given per label value, under this key
BREAKDOWNS = {"source": "sources", "scenario": "buckets"}


class CounterSet:
    """`{name: {label values: n}}` over the names of `COUNTERS`."""

    __slots__ = ("values",)

    def __init__(self) -> None:
        self.values: dict[str, dict[tuple, int]] = {spec.name: {} for spec in COUNTERS}

    def inc(self, name: str, *labels: str, n: int = 1) -> None:
        """Add `n` to the count of `name` with these label values (in the order of its spec's labels)."""
        counts = self.values[name]
        counts[labels] = counts.get(labels, 0) + n

    def total(self, name: str) -> int:
        """The count of `name`, summed over its label values."""
        return sum(self.values[name].values())

    def by(self, name: str) -> dict[tuple, int]:
        """A copy of `name`'s counts by label values (safe to read while another thread counts)."""
        return dict(self.values[name])

    def snapshot(self) -> dict[str, dict[tuple, int]]:
        """The non-zero counts, as plain dicts (picklable: what a `replay -j` worker process sends)."""
        return {name: dict(counts) for name, counts in self.values.items() if counts}

    def take(self) -> dict[str, dict[tuple, int]]:
        """`snapshot()`, then every count back to zero."""
        out = self.snapshot()
        self.clear()
        return out

    def clear(self) -> None:
        for counts in self.values.values():
            counts.clear()

    def add(self, other: "CounterSet | dict[str, dict[tuple, int]]") -> None:
        """Add another set's counts (or a `snapshot()`) to these."""
        values = other.values if isinstance(other, CounterSet) else other
        for name, counts in values.items():
            mine = self.values[name]
            for labels, n in counts.items():
                mine[tuple(labels)] = mine.get(tuple(labels), 0) + n

    def summary(self, scopes: tuple[str, ...] = RUN_SCOPES) -> dict:
        """Every counter of `scopes` by name (its total, 0 when never counted), and the counters with one
        `BREAKDOWNS` label per label value: `sources` {source: {lines, parsed, …}}, `buckets` {scenario:
        {poured, overflows, …, alerts}} (every counter of that label present, for each value seen)."""
        out: dict = {}
        groups: dict[str, tuple[list[str], dict]] = {}
        for spec in COUNTERS:
            if spec.scope not in scopes:
                continue
            counts = self.by(spec.name)
            out[spec.name] = sum(counts.values())
            if len(spec.labels) == 1 and spec.labels[0] in BREAKDOWNS:
                names, per = groups.setdefault(BREAKDOWNS[spec.labels[0]], ([], {}))
                names.append(spec.name)
                for (value,), n in counts.items():
                    per.setdefault(value, {})[spec.name] = n
        for key, (names, per) in groups.items():
            out[key] = {value: {name: got.get(name, 0) for name in names}
                        for value, got in sorted(per.items()) if any(got.values())}
        return out
