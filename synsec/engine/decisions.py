"""When a decision runs, and what the latest value under a decisions key means at a time: the one rule that the
engine, the store, the profiles and expiry agents and the decisions-topic follower apply.

A decision runs from when it is taken for its duration: `until = taken_at + duration`. The engine takes it at
its alert's stop (event time: replay output); whoever acts on it — the store, the profiles agent, the API's
writer — takes it again at the wall-clock time it receives it, as CrowdSec's LAPI does when an agent pushes an
alert (a forensic replay of last month's logs bans for the next four hours, not for four hours last month).
A decision is active at `t` while it is not simulated and `t < until`; at `until` it is over.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal, Protocol

from synsec.engine.model import Decision

__all__ = ["until_of", "taken", "is_over", "is_active", "fate", "Fate"]

Fate = Literal["active", "deleted", "simulated", "expired"]


class _Timed(Protocol):
    until: float
    simulated: bool


def until_of(taken_at: float, duration: float) -> float:
    """The end of a decision taken at `taken_at` (epoch seconds) for `duration` seconds."""
    return taken_at + duration


def taken(decision: Decision, at: float) -> Decision:
    """A copy of `decision` taken at `at`: its `until` is `at + duration` (the original is left alone)."""
    return replace(decision, until=until_of(at, decision.duration))


def is_over(until: float, now: float) -> bool:
    """A decision ending at `until` is over at `now` (the end itself included)."""
    return until <= now


def is_active(decision: _Timed, now: float) -> bool:
    """Active at `now`: not simulated and not over (a `Decision`, or any record with `until` and `simulated`)."""
    return not decision.simulated and not is_over(decision.until, now)


def fate(decision: _Timed | None, now: float) -> Fate:
    """What the latest value under a `scope:value` key means at `now`: `deleted` for a tombstone (None),
    `simulated` for a simulated decision, `expired` for one already over, else `active`. Only an active one
    is applied; any other ends what was active under the key."""
    if decision is None:
        return "deleted"
    if decision.simulated:
        return "simulated"
    return "expired" if is_over(decision.until, now) else "active"
