"""The decisions follower against a naive reference: any sequence of values, tombstones and clock steps on a few
keys leaves, in both folding modes (bouncer: on read; API: on fold), exactly the reference's active set — in the
lookups, in what the bouncer callbacks leave enforced, and in the API's change log replayed from the start."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.kafka.follower import DecisionFollower
from synsec.engine.decisions import is_active
from synsec.engine.model import Decision
from synsec.wire.codecs import Codecs
from synsec.wire.records import decision_key, decision_to_record
from synsec.wire.registry import LocalRegistry

NOW = 2_000_000_000.0
CODECS = Codecs(LocalRegistry())
EXAMPLES = 2000 if os.environ.get("SYNSEC_FUZZ_LONG") == "1" else 150

VALUES = ["192.0.2.1", "192.0.2.2", "2001:db8::1", "198.51.100.0/24"]
record = st.tuples(st.sampled_from(VALUES), st.one_of(
    st.none(),                                                        # tombstone
    st.tuples(st.integers(-5, 30), st.booleans()),                    # (until - clock, simulated)
))
step = st.one_of(record, st.integers(0, 10).map(lambda s: ("tick", s)))


class Clock:
    t = NOW

    def __call__(self) -> float:
        return self.t


def _decision(value: str, until: float, simulated: bool, n: int) -> Decision:
    scope = "Range" if "/" in value else "Ip"
    return Decision(origin="synsec", scenario="s", scope=scope, value=value, type="ban", duration=60.0,
                    until=until, simulated=simulated, id=f"d{n}")


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, max_size=40))
def test_follower_matches_the_reference(steps):
    """Latest value per key wins; tombstone, simulated and over values end it; time ends it; both modes agree."""
    clock = Clock()
    enforced: dict[str, str] = {}                           # what a bouncer's callbacks leave enforced
    bouncer = DecisionFollower({}, "decisions", clock=clock,
                               on_add=lambda d: enforced.__setitem__(d.key, d.id),
                               on_delete=lambda scope, value, d: enforced.pop(f"{scope}:{value}"))
    api = DecisionFollower({}, "decisions", clock=clock, fold_on_read=False, base_seq=1)
    latest: dict[str, Decision | None] = {}
    for n, (what, arg) in enumerate(steps):
        if what == "tick":
            clock.t += arg
            bouncer.expire()
            continue
        d = None if arg is None else _decision(what, clock.t + arg[0], arg[1], n)
        scope = "Range" if "/" in what else "Ip"
        key = decision_key(d) if d else f"{scope}:{what}".encode()
        value = None if d is None else CODECS.encode("decision", decision_to_record(d))
        for f in (bouncer, api):
            f.apply(key, value, offset=n)
        latest[key.decode()] = d
        if n % 3 == 0:
            api.fold()
    api.fold()
    bouncer.expire()
    want = sorted(d.id for d in latest.values() if d is not None and is_active(d, clock.t))
    assert sorted(d.id for d in bouncer.active()) == sorted(enforced.values()) == want
    assert sorted(r.uuid for r in api.index.active(clock.t)) == want
    delta = api.index.changes_since(1, clock.t)            # the whole log, as a bouncer's first pull
    assert sorted(r.uuid for r in delta.new) == want
