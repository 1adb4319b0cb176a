"""Random and mutated community blocklist answers (`GET /v2/decisions/stream`, issue 12): central is a remote
peer, so whatever `new` and `deleted` hold, `apply_stream` only counts what it skips and writes only CAPI
decisions with a valid scope, a canonical address, a known scenario and a positive bounded duration — never an
exception, which would stop the installation's pulls.

CI mode is bounded (Hypothesis derandomized, 400 answers: a few seconds); `SYNSEC_FUZZ_LONG=1` tries 20,000,
not derandomized.
"""

from __future__ import annotations

import ipaddress
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.crowd.blocklist import ORIGIN, StoreTarget, apply_stream
from synsec.engine.profiles import Allowlist
from synsec.store import Store

LONG = os.environ.get("SYNSEC_FUZZ_LONG") == "1"
EXAMPLES = 20_000 if LONG else 400
SCEN = "crowdsecurity/http-probing"
TEN_YEARS = 10 * 366 * 86400.0

JSON = st.recursive(st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats(allow_nan=True)
                    | st.text(max_size=30),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner,
                                                                                 max_size=3),
                    max_leaves=8)
KEYS = ["id", "origin", "type", "scope", "value", "scenario", "duration"]
VALUES = st.sampled_from(["45.13.227.7", "::ffff:45.13.227.7", "2a01:4f8::1", "91.200.0.0/16", "1.2.3",
                          "fe80::1%eth0", "1.2.3.4/33", "", "0" * 300, "45.13.227.7\n"])
DURATIONS = st.sampled_from(["24h0m0s", "1s", "0s", "-1h", "100000000h", "1.5h", "4h", "", "h", "1d", "9" * 40])


@st.composite
def entry(draw):
    item = {"id": draw(st.integers(0, 10)), "origin": "CAPI", "type": "ban",
            "scope": draw(st.sampled_from(["Ip", "Range", "ip", "AS", ""])), "value": draw(VALUES),
            "scenario": draw(st.sampled_from([SCEN, "other/x", ""])), "duration": draw(DURATIONS)}
    for _ in range(draw(st.integers(0, 2))):
        if draw(st.booleans()):
            item[draw(st.sampled_from(KEYS))] = draw(JSON)
        else:
            item.pop(draw(st.sampled_from(KEYS)), None)
    return item if draw(st.integers(0, 9)) else draw(JSON)


ANSWERS = st.tuples(st.lists(entry(), max_size=6), st.lists(entry(), max_size=3), st.booleans())


@settings(max_examples=EXAMPLES, derandomize=not LONG, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(answer=ANSWERS)
def test_any_answer_is_applied_or_counted(tmp_path, answer):
    """apply_stream never raises; what it writes is a well-formed CAPI decision of a scenario the installation
    runs, with a positive duration of at most 10 years."""
    new, deleted, startup = answer
    store = Store(tmp_path)
    try:
        counts = apply_stream(StoreTarget(store), new, deleted, startup=startup, scenarios={SCEN},
                              allowlist=Allowlist(), now=1_800_000_000.0)
        rows = store.decisions(origin=ORIGIN, now=1_800_000_000.0)
        assert counts.get("added", 0) + counts.get("extended", 0) >= 0 and all(v > 0 for v in counts.values())
        for row in rows:
            assert row["scenario"] == SCEN and row["scope"] in ("Ip", "Range") and row["type"]
            if row["scope"] == "Ip":
                assert str(ipaddress.ip_address(row["value"])) == row["value"]
            else:
                assert str(ipaddress.ip_network(row["value"], strict=False)) == row["value"]
            assert 0 < row["duration"] <= TEN_YEARS
        store.delete_decisions(everything=True)
    finally:
        store.close()
