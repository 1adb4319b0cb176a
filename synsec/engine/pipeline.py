"""The whole detection path on one event: parse → buckets → postoverflows → profiles → decisions.

Pure: the caller hands in lines (with a fallback time for lines that carry none) and gets back alerts and
decisions. Both runners (in-process replay and the Faust topology) drive this same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from synsec.engine.model import OVFLW, Alert, Decision, Event, Line, RuntimeAlert
from synsec.engine.parser import ParseContext, ParserPipeline
from synsec.engine.enrichers import DATEPARSE_FAILED
from synsec.engine.profiles import COUNT_PREFIX, PROFILE_COUNTS, ProfileEngine

__all__ = ["Engine", "Output", "Stats", "SOURCE_COUNTS", "add_counts", "counter_stats"]


@dataclass
class Output:
    alerts: list[Alert] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    reprocess: list[Event] = field(default_factory=list)   # split mode: OVFLW events to route again

    def extend(self, other: "Output") -> None:
        self.alerts.extend(other.alerts)
        self.decisions.extend(other.decisions)
        self.reprocess.extend(other.reprocess)


SOURCE_COUNTS = ("lines", "parsed", "unparsed", "whitelisted")


def add_counts(into: dict[str, dict[str, int]], other: dict[str, dict[str, int]], new=dict) -> None:
    """Add nested counts `{key: {name: n}}` (per source, per scenario) to `into`; a new key starts as `new()`."""
    for key, counts in other.items():
        acc = into.get(key)
        if acc is None:
            acc = into[key] = new()
        for name, n in counts.items():
            acc[name] = acc.get(name, 0) + n


def counter_stats(counters: dict[str, int]) -> dict[str, int]:
    """The engine's counter set (`ctx.counters`, shared with the enrichers and the profiles) as summary
    keys: `profiles_<name>` for the profiles' counts, `parser_<name>` for the rest; the profiles' counts and
    date-parse failures are always present (0 when nothing was counted)."""
    out = {f"parser_{DATEPARSE_FAILED}": 0, **{COUNT_PREFIX + name: 0 for name in PROFILE_COUNTS}}
    for key, n in counters.items():
        out[key if key.startswith(COUNT_PREFIX) else f"parser_{key}"] = n
    return out


@dataclass
class Stats:
    """Totals, and `sources`: the same counts per acquisition source (`Line.Src`) as plain int dicts.

    Lines come in long runs from one source, so the hot path only compares the line's source with the
    current one; the totals counted since the last change of source are charged to it at the change
    (`switch`) and whenever they are read (`settle`, done by `as_dict`)."""

    lines: int = 0
    parsed: int = 0
    unparsed: int = 0
    whitelisted: int = 0
    no_timestamp: int = 0
    alerts: int = 0
    decisions: int = 0
    overflows_whitelisted: int = 0
    sources: dict = field(default_factory=dict)     # {src: {"lines", "parsed", "unparsed", "whitelisted"}}
    source: str | None = field(default=None, repr=False)
    _mark: tuple = field(default=(0, 0, 0, 0), repr=False)

    def switch(self, src: str) -> None:
        """Lines from `src` follow: charge what was counted since the last change to the previous source."""
        self.settle()
        self.source = src

    def settle(self) -> None:
        """Bring `sources` up to date with the totals."""
        now = (self.lines, self.parsed, self.unparsed, self.whitelisted)
        if self.source is not None and now != self._mark:
            acc = self.sources.get(self.source)
            if acc is None:
                acc = self.sources[self.source] = dict.fromkeys(SOURCE_COUNTS, 0)
            for name, total, mark in zip(SOURCE_COUNTS, now, self._mark):
                acc[name] += total - mark
        self._mark = now

    def add(self, other: dict) -> None:
        """Add another Stats' `as_dict()` (a worker process's counts) to these."""
        self.settle()
        for key, value in other.items():
            if key != "sources":
                setattr(self, key, getattr(self, key) + value)
                continue
            add_counts(self.sources, value, lambda: dict.fromkeys(SOURCE_COUNTS, 0))
        self._mark = (self.lines, self.parsed, self.unparsed, self.whitelisted)   # already charged above

    def as_dict(self) -> dict:
        self.settle()
        out = {k: v for k, v in self.__dict__.items() if k not in ("source", "_mark")}
        out["sources"] = {src: dict(counts) for src, counts in self.sources.items()}
        return out


class Engine:
    """Drives the pure pieces in CrowdSec's order. One instance per stream of lines (one watermark).

    `split=True` is the topology's mode, where the steps after an overflow run in other agents: overflows
    still go through the postoverflows, but no decision is made here (the profiles agent calls `decide`)
    and a `reprocess` overflow comes back in `Output.reprocess` for the route agent instead of being
    poured into this engine's buckets (which hold only one partition's buckets).
    """

    def __init__(self, parsers: ParserPipeline, buckets, postoverflows: ParserPipeline,
                 profiles: ProfileEngine, parse_ctx: ParseContext, split: bool = False):
        self.split = split
        self.parsers = parsers
        self.buckets = buckets
        self.postoverflows = postoverflows
        self.profiles = profiles
        self.ctx = parse_ctx
        self.stats = Stats()
        self.last_ts = 0.0

    def parse_line(self, line: Line, fallback_ts: float = 0.0) -> Event | None:
        """Parse one line; None when no parser accepted it (counted as unparsed) or it is whitelisted."""
        if line.Src != self.stats.source:
            self.stats.switch(line.Src)
        self.stats.lines += 1
        evt = Event(line)
        if self.ctx.expr_ctx is not None and self.last_ts:
            self.ctx.expr_ctx.advance(self.last_ts)
        if not self.parsers.parse(evt, self.ctx):
            self.stats.unparsed += 1
            return None
        self.stats.parsed += 1
        if evt.ts == 0.0:
            self.stats.no_timestamp += 1
            evt.ts = line.Time or fallback_ts or self.last_ts
        if evt.Whitelisted:
            self.stats.whitelisted += 1
            return None
        return evt

    def process_line(self, line: Line, fallback_ts: float = 0.0) -> Output:
        evt = self.parse_line(line, fallback_ts)
        if evt is None:
            return Output()
        return self.pour(evt)

    def pour(self, evt: Event) -> Output:
        """Pour a parsed event into the buckets and turn overflows into alerts and decisions."""
        if evt.ts > self.last_ts:
            self.last_ts = evt.ts
        return self._overflows(self.buckets.process(evt))

    def pour_routed(self, evt: Event, routes: list[tuple[str, str]]) -> Output:
        """Pour an event whose routes (scenario, key) were computed elsewhere (another process, or the
        topology's route agent): the same as `pour`, split in two halves."""
        out = self.watermark(evt.ts)
        for scenario, key in routes:
            out.extend(self.pour_bucket(scenario, key, evt))
        return out

    def pour_bucket(self, scenario: str, key: str, evt: Event) -> Output:
        """Pour into one bucket without moving the watermark (the topology's bucket agent: the watermark
        comes from markers; the pour still ticks its own bucket first, so a late watermark changes nothing)."""
        return self._overflows(self.buckets.pour_one(scenario, key, evt))

    def watermark(self, ts: float) -> Output:
        """Event time moved to `ts` (an event that entered no bucket): fire due timers, exactly as pouring
        an event at `ts` would; an out-of-order `ts` fires nothing."""
        if ts > self.last_ts:
            self.last_ts = ts
        if ts > self.buckets.watermark:
            return self._overflows(self.buckets.advance(ts))
        return Output()

    def advance(self, watermark: float) -> Output:
        """Fire timers up to the event-time watermark (used when input is idle or by the topology)."""
        return self._overflows(self.buckets.advance(watermark))

    def finish(self) -> Output:
        """End of input: fire every pending timer (counters, underflows)."""
        return self._overflows(self.buckets.flush())

    def _overflows(self, alerts) -> Output:
        out = Output()
        for item in alerts:
            alert, reprocess = item if isinstance(item, tuple) else (item, False)
            alert = self.postoverflow(alert)
            if alert is None:
                continue
            self.stats.alerts += 1
            out.alerts.append(alert)
            if self.split:
                self.profiles.stamp(alert)     # id and simulation travel with the alert to other agents
                if reprocess:
                    out.reprocess.append(self.overflow_event(alert, True))
                continue
            out.decisions.extend(self.decide(alert))
            if reprocess:
                out.extend(self._overflows(self.buckets.process(self.overflow_event(alert, True))))
        return out

    def decide(self, alert: Alert) -> list[Decision]:
        """The profiles' decisions for an alert (counted)."""
        decisions = self.profiles.decide(alert)
        self.stats.decisions += len(decisions)
        return decisions

    @staticmethod
    def overflow_event(alert: Alert, reprocess: bool = False) -> Event:
        evt = Event(Line(""), type_=OVFLW)
        src = alert.Source
        evt.Overflow = RuntimeAlert(Alert=alert, Sources={src.Value or src.IP: src}, Reprocess=reprocess)
        evt.ts = alert.StopAt
        return evt

    def postoverflow(self, alert: Alert) -> Alert | None:
        """Run postoverflow stages (whitelists, ipv6→range); None when the overflow is whitelisted."""
        if not self.postoverflows.stages:
            return alert
        evt = self.overflow_event(alert)
        self.postoverflows.parse(evt, self.ctx)
        if evt.Overflow.Whitelisted:
            self.stats.overflows_whitelisted += 1
            return None
        return evt.Overflow.Alert
