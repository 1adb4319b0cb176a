"""The custom bouncer: runs a user script for each change, with crowdsec-custom-bouncer's arguments:

    SCRIPT add IP DURATION REASON JSON
    SCRIPT del IP DURATION REASON JSON

IP is the decision's value (an address or a range), DURATION the whole seconds left, REASON the scenario and
JSON the decision as CrowdSec's models.Decision object (`duration` as Go text, `id` an integer, `uuid` synsec's
id). Scripts run one at a time in topic order, each with a timeout; a failing script is logged and counted and
the bouncer goes on. As in crowdsec-custom-bouncer, a `del` for an expired decision carries duration 0.
"""

from __future__ import annotations

import json
import logging
import math
import subprocess
import time
from typing import Callable, Sequence

from synsec.engine.model import Decision, format_duration

__all__ = ["CustomBouncer", "decision_json"]

log = logging.getLogger(__name__)


def decision_json(d: Decision, now: float, numeric_id: int = 0) -> str:
    """CrowdSec's models.Decision JSON as crowdsec-custom-bouncer passes it (remaining duration, Go text)."""
    return json.dumps({"duration": format_duration(max(0.0, d.until - now)), "id": numeric_id,
                       "origin": d.origin, "scenario": d.scenario, "scope": d.scope, "type": d.type,
                       "value": d.value, "simulated": d.simulated, "uuid": d.id}, separators=(",", ":"))


class CustomBouncer:
    """`script`: the executable; `scopes`/`types`: which decisions reach it (None = all)."""

    def __init__(self, script: str, *, timeout_s: float = 30.0, types: Sequence[str] | None = None,
                 scopes: Sequence[str] | None = None, clock: Callable[[], float] = time.time):
        self.script = script
        self.timeout_s = timeout_s
        self.types = {t.lower() for t in types} if types else None
        self.scopes = {s.lower() for s in scopes} if scopes else None
        self.clock = clock
        self.stats = {"add": 0, "del": 0, "failed": 0, "ignored": 0}
        self._ids: dict[str, int] = {}

    def attach(self, follower) -> None:
        follower.on_add, follower.on_delete = self.on_add, self.on_delete

    def _wanted(self, d: Decision) -> bool:
        ok = (self.types is None or d.type.lower() in self.types) and \
             (self.scopes is None or d.scope.lower() in self.scopes)
        if not ok:
            self.stats["ignored"] += 1
        return ok

    def _id(self, d: Decision) -> int:
        return self._ids.setdefault(d.key, len(self._ids) + 1)

    def on_add(self, d: Decision) -> None:
        if self._wanted(d):
            self.run("add", d)

    def on_delete(self, scope: str, value: str, d: Decision | None) -> None:
        if d is None:
            return                  # nothing was active under this key: no add was ever run for it
        if self._wanted(d):
            self.run("del", d)

    def run(self, action: str, d: Decision) -> bool:
        now = self.clock()
        seconds = max(0, math.ceil(d.until - now)) if action == "add" else max(0, int(d.until - now))
        argv = [self.script, action, d.value, str(seconds), d.scenario, decision_json(d, now, self._id(d))]
        try:
            res = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout_s)
        except (OSError, subprocess.TimeoutExpired) as err:
            self.stats["failed"] += 1
            log.error("custom bouncer: %s %s %s failed: %s", self.script, action, d.value, err)
            return False
        if res.returncode != 0:
            self.stats["failed"] += 1
            log.error("custom bouncer: %s %s %s exited %d: %s", self.script, action, d.value, res.returncode,
                      res.stderr.strip()[-500:])
            return False
        self.stats[action] += 1
        return True
