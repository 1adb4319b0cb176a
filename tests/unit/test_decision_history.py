"""Escalation: `duration_expr` with GetDecisionsCount & co answers from the decision history — the engine's own
decisions in replay, the store's and the run's in `synsec run` (tests/integration/test_escalation_run.py)."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from synsec.assembly.build import EngineOptions, build_engine
from synsec.engine.history import DecisionHistory
from synsec.engine.model import Decision
from synsec.runner.replay import replay
from synsec.store import Store

REPO = Path(__file__).resolve().parents[2]
ESCALATE = """name: escalating_ban
filters:
  - Alert.Remediation == true && Alert.GetScope() == "Ip"
decisions:
  - type: ban
    duration: 4h
duration_expr: "Sprintf('%dh', (GetDecisionsCount(Alert.GetValue()) + 1) * 4)"
on_success: break
"""
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc).timestamp()


def escalation_content(base: Path) -> Path:
    """The shipped content with only synsec/ssh-bf and the escalating profile."""
    content = base / "content"
    shutil.copytree(REPO / "scenarios", content)
    for path in (content / "scenarios").glob("*.yaml"):
        if path.name != "ssh-bf.yaml":
            path.unlink()
    (content / "profiles.yaml").write_text(ESCALATE)
    return content


def bursts(ip: str, starts: list[float], n: int = 6) -> str:
    """`n` ssh failures from `ip` one second apart at each start (ISO stamps)."""
    return "".join(f"{datetime.fromtimestamp(t + i, timezone.utc):%Y-%m-%dT%H:%M:%S+00:00} bastion sshd[2000]: "
                   f"Failed password for root from {ip} port {40000 + i} ssh2\n"
                   for t in starts for i in range(n))


def _ban(value: str, at: float, duration: float, did: str, scope: str = "Ip") -> Decision:
    return Decision("synsec", "s", scope, value, "ban", duration, at + duration, id=did)


def test_history_counts_ranges_mapped_addresses_and_time():
    """A Range decision counts for the IPs it holds, an IPv4-mapped IPv6 value for its IPv4; since and active
    follow `now`; a bounded history forgets the oldest."""
    h = DecisionHistory(limit=3)
    h.record([_ban("192.0.2.0/24", 100.0, 50.0, "r")], 100.0)
    h.record([_ban("192.0.2.7", 200.0, 1000.0, "i")], 200.0)
    h.now = 300.0
    assert h.count("192.0.2.7") == 2 and h.count("::ffff:192.0.2.7") == 2
    assert h.count("192.0.2.8") == 1 and h.count("198.51.100.1") == 0 and h.count("not-an-ip") == 0
    assert h.count("192.0.2.7", since=150.0) == 1
    assert h.active_count("192.0.2.7") == 1 and h.time_left("192.0.2.7") == 900.0
    h.record([_ban("192.0.2.9", 300.0, 10.0, "x"), _ban("192.0.2.9", 300.0, 10.0, "y")], 300.0)
    assert h.count("192.0.2.8") == 0            # "r" forgotten (limit 3)
    assert h.count("192.0.2.9") == 2


def test_replay_escalates_4h_8h_12h(tmp_path):
    """Three bans of one IP in a replay last 4h, 8h and 12h; a replay of the same log gives the same, whatever
    the store holds (replay reads only its own history)."""
    content = escalation_content(tmp_path)
    log = tmp_path / "auth.log"
    log.write_text(bursts("192.0.2.77", [T0, T0 + 600, T0 + 1200]) + bursts("198.51.100.3", [T0 + 60]))
    opts = EngineOptions.from_flags(config_dir=content)
    for _ in range(2):
        result = replay([str(log)], {"type": "syslog"}, opts, reference_ts=T0)
        durations = [d.duration / 3600 for d in result.decisions if d.value == "192.0.2.77"]
        assert durations == [4, 8, 12]
        assert [d.duration / 3600 for d in result.decisions if d.value == "198.51.100.3"] == [4]


def test_store_is_a_decision_source(tmp_path):
    """The store answers every decision on an IP and the ranges holding it; a deleted one ends when deleted; an
    engine whose history reads the store starts counting from what it holds."""
    store = Store(tmp_path / "state")
    store.add([], [_ban("192.0.2.7", 0, 3600.0, "a"), _ban("192.0.2.0/24", 0, 3600.0, "r", "Range"),
                   _ban("198.51.100.1", 0, 3600.0, "o")], now=1000.0)
    store.delete_decisions(decision_id="a", now=1500.0)
    got = {p.id: p for p in store.decisions_for("192.0.2.7")}
    assert set(got) == {"a", "r"} and got["a"].until == 1500.0 and got["r"].until == 4600.0
    assert {p.id for p in store.decisions_for("::ffff:192.0.2.7")} == {"a", "r"}
    assert store.decisions_for("203.0.113.1") == [] and store.decisions_for("x'; DROP TABLE decisions") == []
    engine, content = build_engine(EngineOptions.from_flags(config_dir=escalation_content(tmp_path)))
    engine.profiles.history.source = store
    assert content.expr_ctx.history is engine.profiles.history
    engine.profiles.history.now = 2000.0
    assert engine.profiles.history.count("192.0.2.7") == 2 and engine.profiles.history.active_count("192.0.2.7") == 1
    store.close()
