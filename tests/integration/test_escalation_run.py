"""`synsec run` escalates with `duration_expr`: GetDecisionsCount reads the store (decisions of earlier runs)
and the run's own decisions (not stored yet when the next alert is decided)."""

from __future__ import annotations

import time

from tests.integration.test_run_live import Run, append, proc_guard, wait_for  # noqa: F401
from synsec.store import Store
from tests.unit.test_decision_history import bursts, escalation_content


def test_run_escalates_4h_8h_12h_across_restarts(tmp_path, proc_guard):
    """Two bans in a first run last 4h and 8h; after a restart, the third lasts 12h (counted from the store)."""
    content, log, state = escalation_content(tmp_path), tmp_path / "auth.log", tmp_path / "state"
    log.write_text("")
    now = time.time() - 3600
    first = Run(state, "-f", str(log), "--type", "syslog", "--config-dir", str(content))
    proc_guard.append(first)
    append(log, bursts("192.0.2.77", [now, now + 600]))
    wait_for(lambda: len([o for o in first.objects() if "decision" in o]) == 2)
    first.stop()
    append(log, bursts("192.0.2.77", [now + 1200]))
    second = Run(state, "-f", str(log), "--type", "syslog", "--config-dir", str(content))
    proc_guard.append(second)
    wait_for(lambda: any("decision" in o for o in second.objects()))
    second.stop()
    made = [o["decision"]["duration"] for run in (first, second) for o in run.objects() if "decision" in o]
    assert made == ["4h0m0s", "8h0m0s", "12h0m0s"], made
    store = Store(state)
    try:
        assert sorted(d["duration"] / 3600 for d in store.decisions(value="192.0.2.77")) == [4, 8, 12]
    finally:
        store.close()
