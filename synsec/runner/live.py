"""`synsec run`: its inputs (files, journald, syslog, stdin: `synsec.runner.sources.Inputs`) through the engine in
one process, in live mode (CrowdSec's `crowdsec` daemon).

The engine is event-time: each line is poured at its own parsed timestamp. When the inputs are idle, event time
must still move on — CrowdSec's live buckets underflow, counters end and blackholes expire on wall time — so the
runner keeps an `EventClock`: the newest event time seen, moving on at wall-clock speed since that event was
read. Every step advances the engine's event-time watermark (`Engine.advance`) to that clock minus `lateness_s`
(the slack left to lines that arrive a little after their timestamp). A log whose clock is skewed or in another
zone therefore ages its buckets at the right speed instead of underflowing them at once. The clock is read here,
in the shell, and passed in: the engine stays pure.

State (`run-state.json` in the state dir): the read position of every file (`Tailer.positions()`), the cursor
of every journal (`Inputs.cursors()`), the event
clock, the watermark, the engine's last event time and every bucket (the records the Faust topology's changelog
holds, `synsec.wire.records`), so a restart neither re-reads lines nor forgets half-full buckets. It is written (temp
file, fsync, rename, fsync of the directory, mode 0600) only between steps, when the positions and the buckets
describe the same lines and those lines' alerts and decisions have been emitted (stored): at start, before a
file first seen later is read, every `save_s` and on exit. A crash at any moment therefore re-reads the lines after the last save —
never skips any — and re-reading them yields the same alerts, with the same deterministic ids.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from synsec.engine.pipeline import Output
from synsec.runner.sources import Inputs
from synsec.runner.summary import run_summary, started
from synsec.runner.tail import Tailer

__all__ = ["EventClock", "LiveOptions", "LiveRunner", "load_state", "STATE_FILE", "STATE_VERSION"]

STATE_FILE = "run-state.json"
STATE_VERSION = 1


@dataclass
class EventClock:
    """Event time while inputs are idle: the newest event time, moving on at wall speed since it was read."""

    ts: float = 0.0          # newest event time seen
    wall: float = 0.0        # wall time when it was seen

    def saw(self, ts: float, wall: float) -> None:
        if ts > self.ts:
            self.ts, self.wall = ts, wall

    def now(self, wall: float) -> float:
        return self.ts + max(0.0, wall - self.wall) if self.ts else wall


@dataclass(frozen=True)
class LiveOptions:
    poll_s: float = 0.25        # sleep between polls when nothing is pending
    lateness_s: float = 2.0     # idle watermark = event clock - lateness
    save_s: float = 5.0         # state written at most this often (and on exit)


def load_state(state_dir: Path) -> dict:
    """The previous run's state ({} when none); a corrupt file is an error naming it."""
    path = Path(state_dir) / STATE_FILE
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: unreadable run state ({err}); move it away to start afresh") from None
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        raise ValueError(f"{path}: not a version {STATE_VERSION} run state; move it away to start afresh")
    return state


def _write_atomic(path: Path, text: str) -> None:
    """Replace `path` by `text` so that a crash leaves the old or the new file, never a mix (mode 0600)."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fd, 0o600)                 # an older temp file may have been created wider
        fh.write(text)
        fh.flush()
        os.fsync(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)                     # the rename itself survives a power loss
    finally:
        os.close(dir_fd)


class LiveRunner:
    """One poll-pour-advance loop. `emit` receives each non-empty Output as it happens. `inputs`: the run's
    `Inputs` (a bare `Tailer` is taken as files-only inputs), counting into `engine.counts`."""

    def __init__(self, engine, content, inputs: Inputs | Tailer, emit: Callable[[Output], None], *,
                 state_dir: Path | None = None, clock: Callable[[], float] = time.time,
                 opts: LiveOptions = LiveOptions(), restore: dict | None = None):
        self.engine = engine
        self.inputs = inputs if isinstance(inputs, Inputs) else Inputs.of(inputs)
        if self.inputs.counts is not engine.counts:
            raise ValueError("the inputs of a run count into its engine's counter set (engine.counts)")
        self.emit = emit
        self.clock = clock
        self.opts = opts
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.evclock = EventClock()
        self.stopping = False
        self._started = started()
        self._last_save = None
        self._dirty = False
        if restore:
            self._restore(content, restore)

    # --- the loop ---
    def start(self) -> list[str]:
        """Open the inputs; the patterns that match no file yet (they are watched)."""
        self._started = started()
        now = self.clock()
        missing = self.inputs.start(now)
        self.save(now, force=True)           # where each file starts, before any line of it is read
        return missing

    def summary(self) -> dict:
        """Counts so far (the engine's set, which the inputs count into), with replay's keys."""
        return run_summary(self.engine, self._started, files=len(self.inputs.following()))

    def step(self) -> bool:
        """Read what is new, pour it, advance idle time, emit, maybe save. True when input is still pending."""
        now = self.clock()
        if self.inputs.rescan(now):
            self.save(now, force=True)       # a new file's start, before any line of it is read
        lines, more = self.inputs.poll(now)
        out = Output()
        engine = self.engine
        for line in lines:
            res = engine.process(line, self.evclock.now(now))
            if engine.last_event_time:
                self.evclock.saw(engine.last_event_time, now)
            if res.alerts or res.decisions:
                out.extend(res)
        # idle time moves buckets only once every file is read up to its end: lines still waiting (a backlog,
        # or those a crash left to read again after a long stop) carry their own time
        target = self.evclock.now(now) - self.opts.lateness_s
        if not more and target > engine.buckets.watermark:
            self._dirty |= bool(engine.buckets.buckets)
            out.extend(engine.advance(target))
        saving = self._last_save is None or now - self._last_save >= self.opts.save_s
        if saving or not more:
            out.extend(self._pour_waiting())
        if out.alerts or out.decisions:
            self.emit(out)
        self._dirty |= bool(lines)
        if saving:
            self.save(now)
        if not more and self.inputs.finished():
            self.stopping = True             # stdin at its end, nothing else to follow
        return more

    def _pour_waiting(self) -> Output:
        """Pour the events still waiting for the others of their time (synsec.engine.ties), once every file is
        read up to its end (a backlog is sorted as replay sorts it; a second whose lines come in two polls is
        poured in two runs) and before a save (the state keeps no event; its positions are past them)."""
        engine = self.engine
        return engine.advance(engine.last_event_time) if engine.last_event_time else Output()

    def run(self, sleep: Callable[[float], None] | None = None) -> None:
        """Step until `stopping` is set (by a signal handler), then save the state. Idle, wait `poll_s` (or
        less: the inputs wake it when a socket, journal or stdin has data)."""
        sleep = sleep or self.inputs.wait
        try:
            while not self.stopping:
                if not self.step() and not self.stopping:
                    sleep(self.opts.poll_s)
            out = self._pour_waiting()
            if out.alerts or out.decisions:
                self.emit(out)
            self.save(self.clock(), force=True)      # not after an error: positions may be ahead of pours
        finally:
            self.inputs.close()

    # --- state ---
    def save(self, now: float, force: bool = False) -> None:
        """Write positions, clock and buckets atomically (when something changed since the last write)."""
        self._last_save = now
        if self.state_dir is None or not (self._dirty or force):
            return
        from synsec.wire.records import bucket_state_to_record

        manager = self.engine.buckets
        state = {
            "version": STATE_VERSION, "saved_at": now, "positions": self.inputs.positions(),
            "globs": self.inputs.patterns(), "cursors": self.inputs.cursors(),
            "clock": {"ts": self.evclock.ts, "wall": self.evclock.wall},
            "watermark": manager.watermark if manager.watermark > float("-inf") else None,
            "last_ts": self.engine.last_event_time,     # key kept: state files of earlier runs
            "buckets": [[scenario, key, bucket_state_to_record(st)]
                        for (scenario, key), st in manager.buckets.items()],
        }
        _write_atomic(self.state_dir / STATE_FILE, json.dumps(state, separators=(",", ":")))
        self._dirty = False

    def _restore(self, content, state: dict) -> None:
        """Buckets, watermark and event clock of the previous run (buckets of removed scenarios dropped)."""
        from synsec.wire.records import record_to_bucket_state

        known = {spec.id for spec in content.scenarios}
        buckets = {(scenario, key): record_to_bucket_state(rec)
                   for scenario, key, rec in state.get("buckets", ()) if scenario in known}
        manager = type(self.engine.buckets)(content.scenarios, store=buckets, counts=self.engine.counts)
        if state.get("watermark") is not None:
            manager.watermark = state["watermark"]
        self.engine.buckets = manager
        self.engine.last_event_time = state.get("last_ts", 0.0)
        clock = state.get("clock") or {}
        self.evclock = EventClock(clock.get("ts", 0.0), clock.get("wall", 0.0))
