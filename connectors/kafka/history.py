"""The decisions topic as the profiles agent's decision history (`synsec.engine.history.DecisionSource`):
GetDecisionsCount & co in Kafka mode count what the topic holds (docs/policy.md)."""

from __future__ import annotations

import threading

from connectors.kafka.follower import DecisionFollower
from synsec.engine.history import DecisionHistory, Past

__all__ = ["TopicHistory"]


class TopicHistory:
    """A follower of the decisions topic keeping every decision it reads (the newest `limit`). It starts at the
    first lookup (content that never asks costs nothing), which waits up to `ready_timeout` seconds for the
    topic to be read to its end."""

    def __init__(self, consumer_kwargs: dict, topic: str, codecs=None, *, limit: int = 100_000,
                 ready_timeout: float = 10.0):
        self.consumer_kwargs, self.topic, self.codecs = consumer_kwargs, topic, codecs
        self.limit, self.ready_timeout = limit, ready_timeout
        self.follower: DecisionFollower | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def decisions_for(self, value: str) -> list[Past]:
        if self.follower is None:
            self._start()
        return self.follower.decisions_for(value)

    def _start(self) -> None:
        with self._lock:
            if self.follower is None:
                follower = DecisionFollower(self.consumer_kwargs, self.topic, codecs=self.codecs,
                                            history=DecisionHistory(limit=self.limit))
                follower.start(self._stop)
                follower.ready.wait(self.ready_timeout)
                self.follower = follower

    def close(self) -> None:
        self._stop.set()
