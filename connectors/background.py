"""A connector's one daemon thread, run until `stop`: the start/stop of the crowd sync, the alert feed and the
notification dispatcher."""

from __future__ import annotations

import threading

__all__ = ["Background"]


class Background:
    """Runs `self._run` in a daemon thread named `thread_name`; `_run` returns once `self._stop` is set."""

    thread_name = "synsec-background"
    stop_timeout = 10.0

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self):
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.stop_timeout if timeout is None else timeout)

    def _run(self) -> None:
        raise NotImplementedError
