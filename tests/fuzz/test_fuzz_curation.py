"""Random and mutated `curation.yaml` files (issue 12): `parse_rules` either returns rules within their bounds or
raises a LoadError/LoadErrors naming a place — never another exception; and random report sequences keep the
curation's invariants (no known-good address listed, nothing listed by a single cohort, trust in [0, 1]).

CI mode is bounded (derandomized, 300 files and 100 report sequences: a few seconds); `SYNSEC_FUZZ_LONG=1`
tries 20,000 and 3,000, not derandomized.
"""

from __future__ import annotations

import os

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.central.curation import Curator
from connectors.central.rules import Rules, load_rules, parse_rules
from synsec.engine.errors import LoadError, LoadErrors

LONG = os.environ.get("SYNSEC_FUZZ_LONG") == "1"
SCALARS = (st.none() | st.booleans() | st.integers(-10 ** 12, 10 ** 12) | st.floats(allow_nan=True)
           | st.text(max_size=12) | st.sampled_from(["1h", "0", "-5m", "10s", "87601h", "service", "scenario"]))
SECTIONS = {"consensus": ["window", "min_reporters", "min_trust", "min_score", "behaviour"],
            "trust": ["prior_good", "prior_bad", "uncorroborated", "known_good", "burst"],
            "cohorts": ["same_block", "ipv4_prefix", "ipv6_prefix", "burst_size", "burst_window"]}


@st.composite
def rules_text(draw) -> str:
    doc: dict = {}
    for section, keys in SECTIONS.items():
        if draw(st.booleans()):
            doc[section] = {k: draw(SCALARS | st.lists(SCALARS, max_size=2))
                            for k in draw(st.lists(st.sampled_from(keys + ["typo"]), max_size=4))}
    for key in ("decay", "hub_only", "known_good", "extra"):
        if draw(st.booleans()):
            doc[key] = draw(SCALARS | st.lists(st.sampled_from(["reserved.txt", "cdn.txt", "nope.txt", ""]),
                                               max_size=2))
    return yaml.safe_dump(doc) if draw(st.booleans()) else draw(st.text(max_size=80))


@settings(max_examples=20_000 if LONG else 300, derandomize=not LONG, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(rules_text())
def test_curation_yaml_is_rules_or_a_placed_error(text):
    """Any file: rules within bounds, or LoadError(s) with file and field — never another exception."""
    try:
        rules = parse_rules(text, "/etc/synsec/curation.yaml")
    except (LoadError, LoadErrors) as err:
        assert "curation.yaml" in str(err) or ".txt" in str(err)
        return
    assert isinstance(rules, Rules) and rules.min_reporters >= 2 and 0 <= rules.min_trust <= 1
    assert rules.window >= 60 and rules.decay >= 60 and rules.behaviour in ("service", "scenario")


RULES = load_rules()
HUB = {"a/http": (frozenset({"a" * 64}), "http"), "a/ssh": (frozenset({"a" * 64}), "ssh")}
ADDRESSES = ["45.13.227.7", "45.13.227.8", "8.8.8.8", "10.0.0.1", "2a01:4f8::1", "66.249.66.1", "nope"]


@settings(max_examples=3_000 if LONG else 100, derandomize=not LONG, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from(ADDRESSES), st.sampled_from(["a/http", "a/ssh", "b/x"]),
                          st.sampled_from(["a" * 64, "b" * 64]), st.floats(0, 5 * 86400)), max_size=60),
       st.sampled_from(["shared block", "distinct blocks"]))
def test_random_reports_keep_the_invariants(reports, blocks):
    """Whatever is reported: no known-good address listed, a listing always has >= min_reporters cohorts,
    trust stays in [0, 1], and every entry is removed once the last report and the decay are over."""
    c = Curator(RULES, HUB)
    for i in range(6):
        c.register(f"w{i}", "93.184.7.1" if blocks == "shared block" else f"{20 + i}.1.1.1", i * 86400.0)
    now = 10 * 86400.0
    for who, ip, scenario, digest, dt in sorted(reports, key=lambda r: r[4]):
        c.tick(now + dt)
        for listed in c.ingest(f"w{who}", [(ip, scenario, digest)], now + dt):
            assert not c.known_good.contains(listed.value)
            assert blocks == "distinct blocks"
    assert all(0 <= c.trust(f"w{i}") <= 1 for i in range(6))
    c.tick(now + 5 * 86400 + RULES.decay + RULES.window + 120)
    assert c.listed() == {} and c.ips == {}
