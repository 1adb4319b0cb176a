"""The whole detection path on one event: parse → buckets → postoverflows → profiles → decisions.

Pure: the caller hands in lines (with a fallback time for lines that carry none) and gets back alerts and
decisions. Both runners (in-process replay and the Faust topology) drive this same code, through the stage
API of `Engine` (parse, route, pour, advance/finish, decide; `process` composes them for in-process runs);
what follows an overflow is `Inline` or `Split` (docs/architecture.md, "The engine's stage API").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from synsec.engine.model import OVFLW, Alert, Decision, Event, Line, RuntimeAlert
from synsec.engine.parser import ParseContext, ParserPipeline
from synsec.engine.enrichers import DATEPARSE_FAILED
from synsec.engine.profiles import COUNT_PREFIX, PROFILE_COUNTS, ProfileEngine
from synsec.engine.ties import tie_key

__all__ = ["Engine", "Inline", "Split", "INLINE", "SPLIT", "Output", "Stats", "SOURCE_COUNTS", "add_counts",
           "counter_stats"]


@dataclass
class Output:
    alerts: list[Alert] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    reprocess: list[Event] = field(default_factory=list)   # `Split`: OVFLW events to route again

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


class Inline:
    """After an overflow, in this process (`synsec replay`, `synsec run`): the profiles decide here, and a
    `reprocess` overflow is poured back into this engine's buckets as an OVFLW event, after the events of its
    time (synsec.engine.ties)."""

    def overflowed(self, engine: "Engine", alert: Alert, reprocess: bool, out: Output) -> None:
        out.decisions.extend(engine.decide(alert))
        if reprocess:
            engine._overflowed.append(_overflow_event(alert, True))


class Split:
    """After an overflow, in the topology: the steps after the buckets run in other agents. The alert is
    stamped (its id and simulation travel with it), no decision is made here (the profiles agent calls
    `Engine.decide`), and a `reprocess` overflow comes back in `Output.reprocess` for the router instead of
    being poured here (this engine holds only one partition's buckets)."""

    def overflowed(self, engine: "Engine", alert: Alert, reprocess: bool, out: Output) -> None:
        engine.profiles.stamp(alert)
        if reprocess:
            out.reprocess.append(_overflow_event(alert, True))


INLINE, SPLIT = Inline(), Split()


class Engine:
    """Drives the pure pieces in CrowdSec's order; one instance per stream of lines (one event-time watermark,
    `buckets.watermark`). The stages (docs/architecture.md, "The engine's stage API"):

    `parse` a line → an event; `route` an event → its buckets; `pour` an event into its buckets; `advance`
    event time (fire due timers) and `finish` (end of input: fire them all); `decide` on an alert. `process`
    composes parse → pour for in-process runs. What happens after an overflow is `after`: `INLINE` (decide
    and reprocess here) or `SPLIT` (the topology's buckets agent), chosen by `synsec.assembly.build`.

    Events of the same time are poured in one order whatever the input order (synsec.engine.ties): `pour`
    (hence `process`) holds a run of same-time events and pours it sorted when an event of another time comes,
    or on `advance` to that time or `finish`.
    """

    def __init__(self, parsers: ParserPipeline, buckets, postoverflows: ParserPipeline,
                 profiles: ProfileEngine, parse_ctx: ParseContext, after: Inline | Split = INLINE):
        self.after = after
        self.parsers = parsers
        self.buckets = buckets
        self.postoverflows = postoverflows
        self.profiles = profiles
        self.ctx = parse_ctx
        self.stats = Stats()
        self.last_event_time = 0.0      # newest time of an event parsed or poured here (0: none yet)
        self._ties: list[tuple[Event, list | None]] = []   # same-time events not poured yet, with their routes
        self._overflowed: list[Event] = []                 # Inline: reprocess overflows not poured back yet

    def parse(self, line: Line, fallback_ts: float = 0.0) -> Event | None:
        """Parse one line; None when no parser accepted it (counted as unparsed) or it is whitelisted. A line
        without a time gets `line.Time`, else `fallback_ts`, else the last event time."""
        if line.Src != self.stats.source:
            self.stats.switch(line.Src)
        self.stats.lines += 1
        evt = Event(line)
        if self.ctx.expr_ctx is not None and self.last_event_time:
            self.ctx.expr_ctx.advance(self.last_event_time)
        if not self.parsers.parse(evt, self.ctx):
            self.stats.unparsed += 1
            self._stamp(evt.ts or line.Time or fallback_ts or self.last_event_time)
            return None
        self.stats.parsed += 1
        if evt.ts == 0.0:
            self.stats.no_timestamp += 1
            evt.ts = line.Time or fallback_ts or self.last_event_time
        self._stamp(evt.ts)
        if evt.Whitelisted:
            self.stats.whitelisted += 1
            return None
        return evt

    def _stamp(self, ts: float) -> None:
        if self.ctx.expr_ctx is not None:
            self.ctx.expr_ctx.stamp(ts)

    def route(self, evt: Event) -> list[tuple[str, str]]:
        """The (scenario, bucket key) pairs `evt` goes to (filters and groupbys)."""
        return self.buckets.route(evt)

    def pour(self, evt: Event, routes: list[tuple[str, str]] | None = None, *, moves_time: bool = True) -> Output:
        """Pour a parsed event into its buckets and turn overflows into alerts (and decisions, inline).

        `routes`: computed here when None, else given (by another process or the topology's router).
        Event time moves to `evt.ts` (due timers fire), and the event waits for the other events of its time
        (synsec.engine.ties): it is poured, with them and in their order, when an event of another time comes
        (its output then), on `advance` to its time or on `finish`. `moves_time=False`: the topology's buckets
        agent, which orders records itself and whose event time comes from markers through `advance` (poured
        at once; a pour still ticks its own bucket first, so a late watermark changes nothing)."""
        if not moves_time:
            out = Output()
            for scenario, key in self.route(evt) if routes is None else routes:
                out.extend(self._overflows(self.buckets.pour_one(scenario, key, evt)))
            return out
        if evt.ts > self.last_event_time:
            self.last_event_time = evt.ts
        out = self._pour_ties() if self._ties and self._ties[0][0].ts != evt.ts else Output()
        self._ties.append((evt, routes))
        return out

    def advance(self, ts: float) -> Output:
        """Event time moves on to `ts` (an event that entered no bucket, idle input, the topology's markers):
        the events waiting for their ties up to `ts` are poured, the watermark moves there and the timers due
        strictly before it fire; a `ts` behind it fires nothing."""
        out = self._pour_ties() if self._ties and self._ties[0][0].ts <= ts else Output()
        if ts > self.buckets.watermark:
            out.extend(self._overflows(self.buckets.advance(ts)))
            out.extend(self._pour_overflowed())
        return out

    def finish(self) -> Output:
        """End of input: pour the events still waiting for their ties, fire every pending timer (counters,
        underflows)."""
        out = self._pour_ties()
        out.extend(self._overflows(self.buckets.flush()))
        out.extend(self._pour_overflowed())
        return out

    def decide(self, alert: Alert) -> list[Decision]:
        """The profiles' decisions for an alert (counted)."""
        decisions = self.profiles.decide(alert)
        self.stats.decisions += len(decisions)
        return decisions

    def process(self, line: Line, fallback_ts: float = 0.0) -> Output:
        """The in-process run of one line: `parse`, then `pour` (event time moves to the event's)."""
        evt = self.parse(line, fallback_ts)
        if evt is None:
            return Output()
        return self.pour(evt)

    def _pour_ties(self) -> Output:
        """Pour the waiting same-time events in tie order, then the reprocess overflows they made."""
        ties, self._ties = self._ties, []
        if len(ties) > 1:
            ties.sort(key=_tie_of)
        out = Output()
        buckets = self.buckets
        for evt, routes in ties:
            if routes is None:
                out.extend(self._overflows(buckets.process(evt)))
                continue
            if evt.ts > buckets.watermark:
                out.extend(self._overflows(buckets.advance(evt.ts)))
            for scenario, key in routes:
                out.extend(self._overflows(buckets.pour_one(scenario, key, evt)))
        out.extend(self._pour_overflowed())
        return out

    def _pour_overflowed(self) -> Output:
        """Pour the reprocess overflows (OVFLW events) back into these buckets (inline), by time then tie key;
        those that these make, after them."""
        out = Output()
        while self._overflowed:
            batch, self._overflowed = sorted(self._overflowed, key=_time_and_tie), []
            for evt in batch:
                out.extend(self._overflows(self.buckets.process(evt)))
        return out

    def _overflows(self, alerts) -> Output:
        out = Output()
        for item in alerts:
            alert, reprocess = item if isinstance(item, tuple) else (item, False)
            alert = self._postoverflow(alert)
            if alert is None:
                continue
            self.stats.alerts += 1
            out.alerts.append(alert)
            self.after.overflowed(self, alert, reprocess, out)
        return out

    def _postoverflow(self, alert: Alert) -> Alert | None:
        """Run postoverflow stages (whitelists, ipv6→range); None when the overflow is whitelisted."""
        if not self.postoverflows.stages:
            return alert
        evt = _overflow_event(alert)
        self.postoverflows.parse(evt, self.ctx)
        if evt.Overflow.Whitelisted:
            self.stats.overflows_whitelisted += 1
            return None
        return evt.Overflow.Alert


def _tie_of(item: tuple[Event, list | None]) -> str:
    return tie_key(item[0])


def _time_and_tie(evt: Event) -> tuple[float, str]:
    return evt.ts, tie_key(evt)


def _overflow_event(alert: Alert, reprocess: bool = False) -> Event:
    """An overflow as the OVFLW event the postoverflows (and, reprocessed, the buckets) see."""
    evt = Event(Line(""), type_=OVFLW)
    src = alert.Source
    evt.Overflow = RuntimeAlert(Alert=alert, Sources={src.Value or src.IP: src}, Reprocess=reprocess)
    evt.ts = alert.StopAt
    return evt
