"""synsec.runner.live.LiveRunner with an injected wall clock: idle time moves buckets, state survives a restart."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from synsec.content.loader import default_content_dir, load_content
from synsec.runner.acquis import FileSource
from synsec.assembly.build import EngineOptions, build_engine
from synsec.runner.live import LiveOptions, LiveRunner, load_state
from synsec.runner.tail import Tailer

T0 = 1_700_000_000.0          # the fake wall clock's start (2023-11-14T22:13:20Z)

COUNTER = """\
type: counter
name: test/ssh-count
description: "failed logins per IP over 10s (a counter overflows when its duration ends)"
filter: "evt.Meta.log_type == 'ssh_failed-auth'"
groupby: evt.Meta.source_ip
capacity: -1
duration: 10s
labels:
  remediation: true
"""


class FakeClock:
    def __init__(self, now: float = T0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def content():
    return load_content(default_content_dir())


@pytest.fixture(scope="module")
def counter_content(tmp_path_factory):
    root = tmp_path_factory.mktemp("content") / "cfg"
    shutil.copytree(default_content_dir(), root)
    (root / "scenarios" / "test-counter.yaml").write_text(COUNTER)
    return load_content(root)


def _failure(ts: float, ip: str = "192.0.2.10", port: int = 40000) -> str:
    stamp = datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return f"{stamp} bastion sshd[2000]: Failed password for root from {ip} port {port} ssh2\n"


def _runner(content, log: Path, clock: FakeClock, state_dir: Path | None = None, restore=None):
    engine, _ = build_engine(EngineOptions(reference_year=2023), content)
    saved = (restore or {}).get("positions", {})
    tailer = Tailer([FileSource((str(log),), {"type": "syslog"})], engine.counts, saved=saved)
    emitted = []
    runner = LiveRunner(engine, content, tailer, emitted.append, state_dir=state_dir, clock=clock,
                        opts=LiveOptions(lateness_s=2.0, save_s=0.0), restore=restore)
    runner.start()
    return runner, emitted


def _files(tmp_path: Path) -> tuple[Path, Path, FakeClock]:
    """An empty log, a state dir and a fake clock at T0."""
    log, state_dir = tmp_path / "auth.log", tmp_path / "state"
    log.write_text("")
    state_dir.mkdir()
    return log, state_dir, FakeClock()


def _write(log: Path, lines: list[str]) -> None:
    with log.open("a") as fh:
        fh.writelines(lines)


def test_idle_wall_time_underflows_buckets_and_expires_blackholes(tmp_path, content):
    """Without new lines, advancing the wall clock underflows half-full buckets and ends blackholes."""
    log = tmp_path / "auth.log"
    log.write_text("")
    clock = FakeClock()
    runner, emitted = _runner(content, log, clock)
    _write(log, [_failure(T0 + i, port=40000 + i) for i in range(6)] + [_failure(T0, "198.51.100.7")])
    clock.now = T0 + 6
    runner.step()
    assert [a.Source.Value for out in emitted for a in out.alerts] == ["192.0.2.10"]
    buckets = runner.engine.buckets
    assert ("synsec/ssh-bf", "198.51.100.7") in buckets.live_buckets()
    clock.now = T0 + 30
    runner.step()
    assert ("synsec/ssh-bf", "198.51.100.7") in buckets.live_buckets()      # (5+1)*10s not over yet
    clock.now = T0 + 3600
    runner.step()
    assert buckets.live_buckets() == [] and dict(buckets.buckets) == {}      # underflowed, blackholes over


def test_idle_time_follows_the_log_clock_not_the_host_clock(tmp_path, content):
    """Lines stamped an hour behind the wall clock (skew, zone) do not underflow at once: idle time runs on."""
    log = tmp_path / "auth.log"
    log.write_text("")
    clock = FakeClock(T0 + 3600)
    runner, _ = _runner(content, log, clock)
    _write(log, [_failure(T0)])
    runner.step()
    clock.now += 30
    runner.step()
    assert ("synsec/ssh-bf", "192.0.2.10") in runner.engine.buckets.live_buckets()
    clock.now += 60
    runner.step()
    assert ("synsec/ssh-bf", "192.0.2.10") not in runner.engine.buckets.live_buckets()


def test_counter_overflows_on_idle_wall_time(tmp_path, counter_content):
    """A counter's duration ends by the wall clock alone: its alert and decision are emitted with no new line."""
    log = tmp_path / "auth.log"
    log.write_text("")
    clock = FakeClock()
    runner, emitted = _runner(counter_content, log, clock)
    _write(log, [_failure(T0, port=1), _failure(T0 + 1, port=2)])
    runner.step()
    clock.now = T0 + 11
    runner.step()
    assert not [a for out in emitted for a in out.alerts if a.Scenario == "test/ssh-count"]
    clock.now = T0 + 13                                    # 10s duration + 2s lateness passed
    runner.step()
    [alert] = [a for out in emitted for a in out.alerts if a.Scenario == "test/ssh-count"]
    assert alert.EventsCount == 2
    assert any(d.scenario == "test/ssh-count" for out in emitted for d in out.decisions)


def test_restart_resumes_positions_and_buckets(tmp_path, content):
    """A runner restored from run-state.json reads only new lines and keeps the half-full bucket."""
    log, state_dir, clock = _files(tmp_path)
    first, emitted = _runner(content, log, clock, state_dir)
    _write(log, [_failure(T0 + i, port=i) for i in range(3)])
    clock.now = T0 + 3
    first.step()
    first.stopping = True
    first.run(sleep=lambda s: None)                        # one save on the way out
    assert first.engine.counts.total("lines") == 3 and not emitted
    state = load_state(state_dir)
    assert len(state["buckets"]) >= 1 and state["positions"][str(log)]["offset"] == log.stat().st_size
    _write(log, [_failure(T0 + 3 + i, port=10 + i) for i in range(3)])
    clock.now = T0 + 6
    second, emitted = _runner(content, log, clock, state_dir, restore=state)
    second.step()
    assert second.engine.counts.total("lines") == 3                  # nothing read twice
    [alert] = [a for out in emitted for a in out.alerts if a.Scenario == "synsec/ssh-bf"]
    assert alert.EventsCount == 6 and alert.StartAt == T0  # the bucket begun before the restart


def test_after_a_crash_lines_since_the_last_save_give_the_same_alert_ids(tmp_path, content):
    """Killed after an alert but before a save, the restarted runner re-reads those lines and emits the same
    alert and decision ids (the store ignores them), so nothing is stored twice."""
    log, state_dir, clock = _files(tmp_path)
    first, emitted = _runner(content, log, clock, state_dir)
    _write(log, [_failure(T0 + i, port=i) for i in range(2)])
    first.step()                                           # saved here (save_s=0)
    first.opts = LiveOptions(save_s=1e9)                   # no further save: the crash loses what follows
    _write(log, [_failure(T0 + 2 + i, port=10 + i) for i in range(4)])
    clock.now = T0 + 6
    first.step()
    ids = [(a.UUID, [d.id for d in out.decisions]) for out in emitted for a in out.alerts]
    assert len(ids) == 1
    second, again = _runner(content, log, clock, state_dir, restore=load_state(state_dir))
    second.step()
    assert second.engine.counts.total("lines") == 4
    assert [(a.UUID, [d.id for d in out.decisions]) for out in again for a in out.alerts] == ids


def test_run_crash_state_is_saved_at_start_and_private(tmp_path, content):
    """The first state save happens at start, before any line is read, with each file's start position; the
    file is mode 0600: a crash right after start still resumes at the position the run started from."""
    log, state_dir, clock = _files(tmp_path)
    log.write_text(_failure(T0 - 60))                      # there before start: tail mode skips it
    _runner(content, log, clock, state_dir)
    state = load_state(state_dir)
    assert state["positions"][str(log)]["offset"] == log.stat().st_size
    assert state["globs"] == [str(log)]
    assert (state_dir / "run-state.json").stat().st_mode & 0o777 == 0o600


def test_run_crash_backlog_is_poured_before_idle_time_moves(tmp_path, content):
    """Restarted an hour after a crash, the lines left to re-read (stamped in the second of the last save)
    come over several polls: the downtime does not underflow their bucket between two polls, so the alert
    the first run gave comes again, with the same id."""
    log, state_dir, clock = _files(tmp_path)
    first, emitted = _runner(content, log, clock, state_dir)
    _write(log, [_failure(T0 + i, port=i) for i in range(3)])
    clock.now = T0 + 2
    first.step()                                                     # saved (save_s=0): 3 lines, clock T0+2
    first.opts = LiveOptions(save_s=1e9)
    _write(log, [_failure(T0 + 2, port=10 + i) for i in range(3)])
    first.step()
    [want] = [a.UUID for out in emitted for a in out.alerts if a.Scenario == "synsec/ssh-bf"]
    clock.now = T0 + 3600                                           # crashed; restarted an hour later
    state = load_state(state_dir)
    engine, _ = build_engine(EngineOptions(reference_year=2023), content)
    tailer = Tailer([FileSource((str(log),), {"type": "syslog"})], engine.counts, saved=state["positions"], chunk=100)
    again = []
    second = LiveRunner(engine, content, tailer, again.append, state_dir=state_dir, clock=clock,
                        opts=LiveOptions(lateness_s=2.0, save_s=0.0), restore=state)
    second.start()
    while second.step():
        pass
    assert engine.counts.total("lines") == 3
    assert [a.UUID for out in again for a in out.alerts if a.Scenario == "synsec/ssh-bf"] == [want]
