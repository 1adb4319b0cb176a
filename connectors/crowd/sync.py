"""The installation's crowd loop: queue signals as alerts happen, push them in batches about every 10 s, pull
the community blocklist at start and then periodically — in a background thread, so that a slow or absent
central never holds detection up.

The detecting thread calls `enqueue(alerts)` (before the alerts are stored: a crash in between re-detects them
after the restart and the queue ignores ids it holds or sent). The thread owns its own SQLite connections.
A failed push or pull is retried with exponential back-off (`retry_base` doubling up to `retry_max`); nothing
leaves the queue before central answered 2xx — except a signal central refuses as invalid (400): a batch it
refuses is sent again one signal at a time, and only the refused ones are dropped (counted `signals_rejected`).
Any other error of a step (a bug, a SQLite error) is counted and retried like a failed request: the thread
never dies.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from connectors.background import Background
from connectors.crowd.blocklist import BlocklistCTI, apply_stream
from connectors.crowd.client import CapiClient, CapiError
from connectors.crowd.queue import SignalQueue
from connectors.crowd.share import SharePolicy

__all__ = ["CrowdOptions", "CrowdSync"]

_REFUSED = (400, 413, 422)      # central refuses what was sent (not the session, not its own state): per signal


@dataclass(frozen=True)
class CrowdOptions:
    push_interval: float = 10.0      # CrowdSec's LAPI pushes about every 10 s
    pull_interval: float = 7200.0    # CrowdSec 1.4.6 pulls the community blocklist every 2 h
    batch: int = 500                 # signals per request (central takes at most 1,000)
    retry_base: float = 1.0
    retry_max: float = 300.0


class _Backoff:
    def __init__(self, opts: CrowdOptions, interval: float):
        self.opts, self.interval, self.failures, self.due = opts, interval, 0, 0.0

    def ok(self, now: float) -> None:
        self.failures, self.due = 0, now + self.interval

    def failed(self, now: float) -> float:
        self.failures += 1
        wait = min(self.opts.retry_max, self.opts.retry_base * 2 ** (self.failures - 1))
        self.due = now + wait
        return wait


class CrowdSync(Background):
    """Push and pull for one installation. `policy` None: sharing is off (nothing is queued, pulls go on)."""

    thread_name = "synsec-crowd"
    stop_timeout = 15.0

    def __init__(self, state_dir, client: CapiClient, policy: SharePolicy | None, *, open_target: Callable,
                 scenarios: set[str], allowlist, cti: BlocklistCTI | None = None,
                 opts: CrowdOptions = CrowdOptions(), clock: Callable[[], float] = time.time,
                 say: Callable[[str], None] = lambda msg: None):
        self.state_dir, self.client, self.policy, self.opts = state_dir, client, policy, opts
        self.open_target, self.scenarios, self.allowlist, self.cti = open_target, scenarios, allowlist, cti
        self.clock, self.say = clock, say
        self.queue = SignalQueue(state_dir)          # the detecting side's connection (under `_lock`)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        super().__init__()
        self._pulled = False

    # -- the detecting thread --------------------------------------------------------------------------------
    def enqueue(self, alerts: list, positions: dict[int, int] | None = None) -> int:
        """Queue the signals of `alerts` that may be shared; how many were new. `positions`: where the alerts
        topic was read up to (Kafka mode), saved with them."""
        if self.policy is None or not (alerts or positions):
            return 0
        with self._lock:                             # one detecting thread, or the alerts feed's
            now = self.clock()
            before = dict(self.policy.refused)
            items = [(a.UUID, sig) for a in alerts for sig in [self.policy.signal(a, now)] if sig is not None]
            refused = {f"signals_refused_{k}": v - before.get(k, 0) for k, v in self.policy.refused.items()}
            self.queue.add(**refused)
            return self.queue.enqueue(items, now, positions)

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self._wake.set()                # out of its wait now, not at the next interval
        super().stop(timeout)
        self.queue.close()

    # -- the crowd thread --------------------------------------------------------------------------------------
    def _run(self) -> None:
        queue = SignalQueue(self.state_dir)
        push, pull = _Backoff(self.opts, self.opts.push_interval), _Backoff(self.opts, self.opts.pull_interval)
        target = None
        try:
            while not self._stop.is_set():
                now = self.clock()
                if target is None and now >= pull.due:
                    target = self._open_target(queue, pull, now)
                if target is not None and now >= pull.due:
                    self._pull(target, queue, pull, now)
                if now >= push.due and self.policy is not None:
                    self._push(queue, push, now)
                wait = max(0.0, min(pull.due, push.due if self.policy is not None else pull.due) - self.clock())
                self._wake.wait(min(wait, 1.0))
                self._wake.clear()
            if self.policy is not None and push.failures == 0 and queue.pending():
                self._push(queue, push, self.clock())        # a last flush when central was reachable
        finally:
            queue.close()
            close = getattr(target, "close", None)
            if close is not None:
                close()

    def _open_target(self, queue: SignalQueue, backoff: _Backoff, now: float):
        """Where CAPI decisions go (opened in this thread); its decisions answer CrowdsecCTI before central does."""
        try:
            target = self.open_target()
            if self.cti is not None:
                self.cti.reload(target.active(now))
            return target
        except Exception as err:  # noqa: BLE001 — a broker or store that is not there yet: retried
            self._failed("pull", err, backoff, queue, now, "")
            return None

    def _push(self, queue: SignalQueue, backoff: _Backoff, now: float) -> None:
        try:
            while True:
                batch = queue.batch(self.opts.batch)
                if not batch:
                    break
                try:
                    self.client.push([body for _, body in batch])
                except CapiError as err:
                    if err.status not in _REFUSED:
                        raise
                    self._push_one_by_one(queue, batch)        # find the signal(s) central refuses
                    continue
                queue.sent([sid for sid, _ in batch], self.clock())
                if len(batch) < self.opts.batch:
                    break
        except Exception as err:  # noqa: BLE001 — CapiError, or a bug/SQLite error: retried, never the end
            self._failed("push", err, backoff, queue, now, f"; {queue.pending()} signal(s) kept")
            return
        backoff.ok(now)

    def _push_one_by_one(self, queue: SignalQueue, batch: list[tuple[str, dict]]) -> None:
        """Central refused a batch as invalid: send its signals one at a time; one it refuses is dropped (a
        signal central will never take would otherwise hold the queue forever), counted and said."""
        for sid, body in batch:
            try:
                self.client.push([body])
            except CapiError as err:
                if err.status not in _REFUSED:
                    raise
                queue.add(signals_rejected=1)
                queue.set_status(last_rejected=f"{sid}: {err}")
                self.say(f"crowd: central refused signal {sid} ({err}); dropped")
            queue.sent([sid], self.clock())

    def _pull(self, target, queue: SignalQueue, backoff: _Backoff, now: float) -> None:
        try:
            new, deleted = self.client.pull(startup=not self._pulled)
            counts = apply_stream(target, new, deleted, startup=not self._pulled, scenarios=self.scenarios,
                                  allowlist=self.allowlist, now=now)
            if self.cti is not None:
                self.cti.reload(target.active(now))
        except Exception as err:  # noqa: BLE001 — CapiError, or a bug/SQLite error: retried, never the end
            self._failed("pull", err, backoff, queue, now, "")
            return
        queue.add(pulls=1, **{f"blocklist_{k}": v for k, v in counts.items()})
        queue.set_status(last_pull=now)
        if counts.get("added") or counts.get("deleted") or not self._pulled:
            self.say(f"crowd: blocklist pulled: {counts.get('added', 0)} added, {counts.get('deleted', 0)} "
                     f"deleted, {sum(v for k, v in counts.items() if k.startswith('skipped_'))} skipped")
        self._pulled = True
        backoff.ok(now)

    def _failed(self, what: str, err: Exception, backoff: _Backoff, queue: SignalQueue, now: float,
                kept: str) -> None:
        """Count a failed push or pull, note it for `ccscli capi status`, say so now and then; back off."""
        wait = backoff.failed(now)
        queue.add(**{f"{what}_failures": 1})
        text = str(err) if isinstance(err, CapiError) else f"{type(err).__name__}: {err}"
        queue.set_status(**{f"last_{what}_error": text, f"last_{what}_error_at": now})
        if backoff.failures == 1 or backoff.failures % 10 == 0:
            self.say(f"crowd: {what} failed ({text}){kept}; retrying in {wait:g}s")
