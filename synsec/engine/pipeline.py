"""The whole detection path on one event: parse → buckets → postoverflows → profiles → decisions.

Pure: the caller hands in lines (with a fallback time for lines that carry none) and gets back alerts and
decisions. Both runners (in-process replay and the Faust topology) drive this same code, through the stage
API of `Engine` (parse, route, pour, advance/finish, decide; `process` composes them for in-process runs);
what follows an overflow is `Inline` or `Split` (docs/architecture.md, "The engine's stage API").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from synsec.engine.counters import CounterSet
from synsec.engine.model import OVFLW, Alert, Decision, Event, Line, RuntimeAlert
from synsec.engine.parser import ParseContext, ParserPipeline
from synsec.engine.profiles import ProfileEngine
from synsec.engine.ties import tie_key

__all__ = ["Engine", "Inline", "Split", "INLINE", "SPLIT", "Output"]


@dataclass
class Output:
    alerts: list[Alert] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    reprocess: list[Event] = field(default_factory=list)   # `Split`: OVFLW events to route again

    def extend(self, other: "Output") -> None:
        self.alerts.extend(other.alerts)
        self.decisions.extend(other.decisions)
        self.reprocess.extend(other.reprocess)


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
    Every count goes to `counts`, the counter set of the parse context (`synsec.engine.counters`), which the
    enrichers, the buckets and the profiles share (`synsec.assembly.build` wires them).
    """

    def __init__(self, parsers: ParserPipeline, buckets, postoverflows: ParserPipeline,
                 profiles: ProfileEngine, parse_ctx: ParseContext, after: Inline | Split = INLINE):
        self.after = after
        self.parsers = parsers
        self.buckets = buckets
        self.postoverflows = postoverflows
        self.profiles = profiles
        self.ctx = parse_ctx
        self.counts: CounterSet = parse_ctx.counts
        buckets.counts = self.counts          # a partition's manager (the topology) counts here too
        self.last_event_time = 0.0      # newest time of an event parsed or poured here (0: none yet)
        self._ties: list[tuple[Event, list | None]] = []   # same-time events not poured yet, with their routes
        self._overflowed: list[Event] = []                 # Inline: reprocess overflows not poured back yet
        self.sort_ties = True    # False: same-time events in arrival order, as CrowdSec's `-order-event` (hubtest)

    def parse(self, line: Line, fallback_ts: float = 0.0) -> Event | None:
        """Parse one line; None when no parser accepted it (counted as unparsed) or it is whitelisted. A line
        without a time gets `line.Time`, else `fallback_ts`, else the last event time."""
        inc, src = self.counts.inc, line.Src
        inc("lines", src)
        evt = Event(line)
        if self.ctx.expr_ctx is not None and self.last_event_time:
            self.ctx.expr_ctx.advance(self.last_event_time)
        if not self.parsers.parse(evt, self.ctx):
            inc("unparsed", src)
            self._stamp(evt.ts or line.Time or fallback_ts or self.last_event_time)
            return None
        inc("parsed", src)
        if evt.ts == 0.0:
            inc("no_timestamp")
            evt.ts = line.Time or fallback_ts or self.last_event_time
        self._stamp(evt.ts)
        if evt.Whitelisted:
            inc("whitelisted", src)
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
        """The profiles' decisions for an alert (they count them)."""
        return self.profiles.decide(alert)

    def process(self, line: Line, fallback_ts: float = 0.0) -> Output:
        """The in-process run of one line: `parse`, then `pour` (event time moves to the event's)."""
        evt = self.parse(line, fallback_ts)
        if evt is None:
            return Output()
        return self.pour(evt)

    def _pour_ties(self) -> Output:
        """Pour the waiting same-time events in tie order, then the reprocess overflows they made."""
        ties, self._ties = self._ties, []
        if len(ties) > 1 and self.sort_ties:
            ties.sort(key=_tie_of)
        out = Output()
        buckets, overflows = self.buckets, self._overflows
        for evt, routes in ties:
            if routes is None:
                alerts = buckets.process(evt)
                if alerts:
                    overflows(alerts, out)
                continue
            if evt.ts > buckets.watermark:
                overflows(buckets.advance(evt.ts), out)
            for scenario, key in routes:
                alerts = buckets.pour_one(scenario, key, evt)
                if alerts:
                    overflows(alerts, out)
        if self._overflowed:
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

    def _overflows(self, alerts, out: Output | None = None) -> Output:
        """Alerts of the buckets → postoverflows, counted, into `out` (a new Output when None), then `after`."""
        if out is None:
            out = Output()
        for item in alerts:
            alert, reprocess = item if isinstance(item, tuple) else (item, False)
            alert = self._postoverflow(alert)
            if alert is None:
                continue
            self.counts.inc("alerts", alert.Scenario)
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
            self.counts.inc("overflows_whitelisted")
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
