"""The one decision-time rule (synsec.engine.decisions): a decision runs from when it is taken, is active while not
simulated and before its `until`, and the latest value under a key is active, deleted, simulated or expired."""

from __future__ import annotations

import pytest

from synsec.engine.decisions import fate, is_active, is_over, taken, until_of
from synsec.engine.model import Decision
from synsec.store import Store

NOW = 2_000_000_000.0


def dec(until: float = NOW + 60, simulated: bool = False, duration: float = 60.0) -> Decision:
    return Decision(origin="synsec", scenario="s", scope="Ip", value="192.0.2.7", type="ban", duration=duration,
                    until=until, simulated=simulated, id="d1")


def test_taken_runs_from_when_taken_and_leaves_the_original():
    """`taken(d, at)` ends at `at + duration` and returns a copy: the engine's event-time decision is unchanged."""
    d = dec(until=1000.0 + 60, duration=60.0)
    t = taken(d, NOW)
    assert t.until == until_of(NOW, 60.0) == NOW + 60 and d.until == 1060.0 and t.id == d.id


def test_active_until_its_end_excluded():
    """A decision is active before `until`, over at `until` itself; a simulated one is never active."""
    assert is_active(dec(until=NOW + 1), NOW) and not is_active(dec(until=NOW), NOW)
    assert is_over(NOW, NOW) and not is_over(NOW + 1, NOW)
    assert not is_active(dec(simulated=True), NOW)


@pytest.mark.parametrize("value, expected", [
    (None, "deleted"), (dec(simulated=True), "simulated"), (dec(until=NOW), "expired"),
    (dec(until=NOW - 1, simulated=True), "simulated"), (dec(until=NOW + 1), "active"),
])
def test_fate_of_the_latest_value(value, expected):
    """A tombstone deletes, a simulated value is simulated even when over, a value over is expired, else active."""
    assert fate(value, NOW) == expected


def test_store_takes_a_decision_when_it_stores_it(tmp_path):
    """The store keeps `until` = time stored + duration (the rule), not the engine's event-time `until`."""
    store = Store(tmp_path)
    try:
        store.add([], [dec(until=1060.0, duration=60.0)], now=NOW)
        assert [r["until"] for r in store.decisions(now=NOW)] == [taken(dec(), NOW).until]
    finally:
        store.close()
