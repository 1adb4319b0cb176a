"""The processes a test starts: stopped by their Popen (never by name), a grace period, then SIGKILL; and the
wait for what they should come to.

Free loopback ports come from `connectors.kafka.broker.free_port` (the one used by the broker fixture).
"""

from __future__ import annotations

import signal
import subprocess
import time

__all__ = ["stop", "wait_for"]


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, grace: float = 10.0) -> int:
    """Send `sig` to a process this test started unless it has exited, SIGKILL it after `grace` seconds; return
    its exit status (-9 when it had to be killed)."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


def wait_for(pred, timeout: float, what: str, step: float = 0.25):
    """`pred()`'s first true value, polled every `step` s; AssertionError naming `what` after `timeout` s."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = pred()
        if got:
            return got
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
