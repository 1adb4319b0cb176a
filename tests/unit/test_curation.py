"""The crowd's curation (connectors/central/curation.py, rules.py): curation.yaml loading, known-good ranges,
hub-hash counting, behaviours, cohorts, trust, decay with tombstones, explanations."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

import pytest
from hypothesis import given, settings, strategies as st

from connectors.central.curation import Curator, KnownGood, Listed, Removed, hub_scenarios
from connectors.central.rules import DEFAULT_RULES, KNOWN_GOOD_DIR, load_rules, parse_rules, read_known_good
from synsec.engine.errors import LoadError, LoadErrors
from synsec.engine.expr.helpers_net import canonical_ipv4
from synsec.hub.index import parse_index

NOW = 1_800_000_000.0
H = "a" * 64
HUB = {"a/http-probing": (frozenset({H}), "http"), "a/http-cve": (frozenset({H}), "http"),
       "a/ssh-bf": (frozenset({H}), "ssh")}
RULES = load_rules()
ATTACKER = "45.13.227.7"


def crowd(n: int, rules=RULES, at: float = NOW - 30 * 86400) -> Curator:
    """A curator with n reporters registered from distinct /24s, a day apart (no burst, no shared block)."""
    c = Curator(rules, HUB)
    for i in range(n):
        c.register(f"w{i}", f"198.{i // 250 + 1}.{i % 250}.10", at + i * 86400)
    return c


# ------------------------------------------------------------------ rules
def test_shipped_rules_load_with_their_documented_defaults():
    """curation.yaml loads; its values are the Rules defaults, and it names the four shipped known-good files."""
    rules = load_rules(DEFAULT_RULES)
    assert (rules.window, rules.min_reporters, rules.min_trust, rules.decay) == (86400.0, 3, 0.3, 259200.0)
    assert rules.baseline == 0.5 and rules.hub_only
    assert (rules.collusion_max_shared, rules.collusion_min_share, rules.collusion_window,
            rules.collusion_weight) == (3, 0.1, 7 * 86400.0, 1.0)
    assert {r.source.split(":")[0] for r in rules.known_good} == {
        "reserved.txt", "public-dns.txt", "cdn.txt", "search-crawlers.txt"}


@pytest.mark.parametrize("text, where", [
    ("consensus: {min_reportres: 3}\n", "c.yaml:1: consensus.min_reportres"),
    ("consensus:\n  min_reporters: 1\n", "c.yaml:2: consensus.min_reporters"),
    ("consensus:\n  window: forever\n", "c.yaml:2: consensus.window"),
    ("consensus:\n  behaviour: vibes\n", "c.yaml:2: consensus.behaviour"),
    ("trust:\n  burst:\n    max_reports: many\n", "c.yaml:3: trust.burst.max_reports"),
    ("decay: 10s\n", "c.yaml:1: decay"),
    ("collusion:\n  max_shared: -1\n", "c.yaml:2: collusion.max_shared"),
    ("collusion:\n  window: 1s\n", "c.yaml:2: collusion.window"),
    ("collusion:\n  min_share: 2\n", "c.yaml:2: collusion.min_share"),
    ("collusion: {wieght: 2}\n", "c.yaml:1: collusion.wieght"),
    ("known_good: [nope.txt]\n", "nope.txt:1: (file)"),
])
def test_bad_rules_name_file_line_and_field(tmp_path, text, where):
    """A misspelt key, a rule that would let one reporter list, bad durations and values name path:line: field."""
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises((LoadError, LoadErrors)) as err:
        load_rules(path)
    assert where in str(err.value).replace(str(tmp_path) + "/", "")


def test_known_good_files_need_source_and_update_date(tmp_path):
    """Every shipped file has its source and date; a file without them, or with a bad range, is refused."""
    for path in KNOWN_GOOD_DIR.glob("*.txt"):
        assert read_known_good(path)
    bad = tmp_path / "mine.txt"
    bad.write_text("# source: me\n1.2.3.4/32\n")
    with pytest.raises(LoadError, match="mine.txt:1: updated"):
        read_known_good(bad)
    bad.write_text("# source: me\n# updated: 2026-12-01\n1.2.3.4/33 oops\n")
    with pytest.raises(LoadError, match="mine.txt:3: range"):
        read_known_good(bad)


@pytest.mark.parametrize("ip", ["8.8.8.8", "1.1.1.1", "66.249.66.1", "157.55.39.20", "104.16.1.1",
                                "151.101.1.69", "2606:4700::1", "10.0.0.1", "192.168.1.1", "127.0.0.1",
                                "203.0.113.40", "198.51.100.7", "100.64.0.1", "169.254.1.1", "224.0.0.1", "::1",
                                "fe80::1", "2001:db8::1", "240.0.0.1", "not an ip"])
def test_known_good_and_reserved_addresses_match(ip):
    """Crawlers, CDNs, public resolvers and special-purpose ranges are known-good."""
    assert KnownGood(RULES.known_good).contains(ip)


@pytest.mark.parametrize("ip", ["45.13.227.7", "2a01:4f8::1", "8.8.8.9", "66.249.96.1"])
def test_ordinary_addresses_are_not_known_good(ip):
    """An ordinary global address next to known-good ranges is not in them."""
    assert not KnownGood(RULES.known_good).contains(ip)


# ------------------------------------------------------------------ consensus
def test_three_independent_reporters_list_and_two_do_not():
    """Two reporters are not enough by default; the third lists the address with the majority scenario."""
    c = crowd(3)
    assert c.ingest("w0", [(ATTACKER, "a/http-probing", H)], NOW) == []
    assert c.ingest("w1", [(ATTACKER, "a/http-cve", H)], NOW + 10) == []
    (got,) = c.ingest("w2", [(ATTACKER, "a/http-probing", H)], NOW + 20)
    assert got == Listed(ATTACKER, "a/http-probing", NOW + 20 + RULES.decay, True)
    assert "consensus: http: 3 cohort(s)" in c.explain(ATTACKER, NOW + 21)["rule"]


def test_incompatible_behaviours_do_not_add_up():
    """An http report, an ssh report and an http report are two http reporters: not listed."""
    c = crowd(3)
    for who, scenario in (("w0", "a/http-probing"), ("w1", "a/ssh-bf"), ("w2", "a/http-probing")):
        assert c.ingest(who, [(ATTACKER, scenario, H)], NOW) == []


def test_custom_and_modified_scenarios_are_accepted_but_never_counted():
    """A scenario not in the hub index, or with a hash of no hub version, does not count (nor earn trust)."""
    c = crowd(3)
    c.ingest("w0", [(ATTACKER, "a/http-probing", H)], NOW)
    c.ingest("w1", [(ATTACKER, "me/my-http", H)], NOW)
    assert c.ingest("w2", [(ATTACKER, "a/http-probing", "b" * 64)], NOW) == []
    assert c.status()["signals_not_counted"] == {"custom or modified scenario": 2}
    assert c.verdict("a/http-probing", H.upper()) == ""


@pytest.mark.hub
def test_hub_scenarios_come_from_the_index_with_their_behaviour():
    """Debian's hub index gives every version's hash and the service (else type) label of each scenario."""
    from tests.hubutil import require_hub
    index = parse_index((require_hub()["CROWDSEC_HUB"] / ".index.json").read_bytes())
    got = hub_scenarios(index)
    digests, behaviour = got["crowdsecurity/http-probing"]
    assert behaviour == "http" and "c8bb45b4fb8834ea1dc5cff6439dd272c87d7ee5af4a51e77341ec6edc5d7a25" in digests
    assert got["crowdsecurity/CVE-2022-26134"][1] == "exploit"


def test_reports_older_than_the_window_do_not_count():
    """Three reports spread over more than the window never hold together."""
    c = crowd(3)
    c.ingest("w0", [(ATTACKER, "a/http-probing", H)], NOW)
    c.ingest("w1", [(ATTACKER, "a/http-probing", H)], NOW + 50_000)
    assert c.tick(NOW + 90_000) == []
    assert c.ingest("w2", [(ATTACKER, "a/http-probing", H)], NOW + 90_000) == []


# ------------------------------------------------------------------ cohorts and trust
def test_reporters_from_one_block_or_one_registration_burst_count_as_one():
    """Same /24 (or IPv6 /48): one cohort; ten registrations within ten minutes: one cohort."""
    c = Curator(RULES, HUB)
    c.register("a", "198.51.7.1", NOW)
    c.register("b", "198.51.7.200", NOW + 86400)
    c.register("c", "2a01:4f8:1:2::1", NOW + 2 * 86400)
    c.register("d", "2a01:4f8:1:ffff::9", NOW + 3 * 86400)
    assert c.cohort_of("a") == c.cohort_of("b") != c.cohort_of("c") == c.cohort_of("d")
    for i in range(10):
        c.register(f"burst{i}", f"{20 + i}.1.1.1", NOW + 10 * 86400 + i * 30)
    assert len({c.cohort_of(f"burst{i}") for i in range(10)}) == 1
    assert c.cohort_of("burst0") != c.cohort_of("a")


def test_trust_rises_with_corroboration_and_falls_with_contradiction():
    """Corroborated reports raise trust; a known-good report and uncorroborated reports lower it."""
    c = crowd(4)
    assert c.trust("w0") == RULES.baseline
    for i in range(5):
        ip = f"45.13.{i}.7"
        c.ingest("w0", [(ip, "a/http-probing", H)], NOW + i)
        c.ingest("w1", [(ip, "a/http-probing", H)], NOW + i)
    assert c.trust("w0") > RULES.baseline and c.trust("w1") > RULES.baseline
    c.ingest("w2", [("8.8.8.8", "a/http-probing", H)], NOW)
    assert c.trust("w2") < RULES.baseline
    c.ingest("w3", [(f"45.14.{i}.1", "a/http-probing", H) for i in range(10)], NOW)
    c.tick(NOW + RULES.window + 120)
    assert c.trust("w3") < RULES.baseline and "45.14.0.1" not in c.ips


# ------------------------------------------------------------------ decay
def test_listed_entry_decays_into_a_tombstone_unless_reported_again():
    """Re-reports move the expiry; without them the entry is removed once, and is gone from the state."""
    c = crowd(3)
    for who in ("w0", "w1", "w2"):
        c.ingest(who, [(ATTACKER, "a/http-probing", H)], NOW)
    (again,) = c.ingest("w0", [(ATTACKER, "a/http-probing", H)], NOW + 3600)
    assert not again.new and again.until == NOW + 3600 + RULES.decay
    assert c.tick(NOW + 3600 + RULES.decay - 120) == []
    assert c.tick(NOW + 3600 + RULES.decay + 120) == [Removed(ATTACKER)]
    assert c.tick(NOW + 3600 + RULES.decay + 10_000) == [] and c.listed() == {} and ATTACKER not in c.ips


@settings(max_examples=300, derandomize=True)
@given(st.integers(0, 2 ** 32 - 1), st.sampled_from(["", " ", "/8", ".1", "a"]))
def test_canonical_ipv4_fast_path_agrees_with_ipaddress(n, junk):
    """The fast path of signal parsing and known-good lookups reads exactly the canonical dotted quads."""
    text = str(ipaddress.IPv4Address(n))
    assert canonical_ipv4(text) == n
    assert canonical_ipv4("0" + text) is None and (junk == "" or canonical_ipv4(text + junk) is None)


@pytest.mark.parametrize("elsewhere, joined", [(0, True), (120, False)])
def test_collusion_joins_a_pair_only_when_what_it_shares_is_a_share_of_what_it_founds(elsewhere, joined):
    """Two reporters that co-found 5 listings (more than max_shared 3) are joined at the next minute, and the
    listings resting on them removed, unless each also founded `elsewhere` / 2 other listings (5 of 65 is below
    min_share 0.1): a busy honest pair is not a ring."""
    c = Curator(RULES, HUB)
    at, out = NOW, []
    for k in range(elsewhere):                  # a and b, each with two others, not together
        for who in ("a" if k % 2 else "b", f"x{k}", f"y{k}"):
            c.ingest(who, [(f"45.2.{k}.1", "a/http-probing", H)], at)
        at += 60
    for k in range(5):                          # a and b together, each time with another third reporter
        for who in ("a", "b", f"z{k}"):
            out += c.ingest(who, [(f"45.3.{k}.1", "a/http-probing", H)], at)
        at += 60
    removed = [x for x in out + c.tick(at + 60) if isinstance(x, Removed)]
    assert (c.cohort_of("a") == c.cohort_of("b")) is joined
    assert bool(removed) is joined and all(r.collusion for r in removed)


@settings(max_examples=60, derandomize=True, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.sampled_from(["45.1.1.1", "45.1.1.2", "8.8.8.8", "45.1.1.3",
                                                              "45.1.1.4", "45.1.1.5"]),
                          st.floats(0, 3 * 86400)), min_size=1, max_size=40), st.integers(0, 40))
def test_state_saved_as_records_rebuilds_the_same_curation(reports, cut):
    """Kafka mode: a curator rebuilt at any point from the records `take_changes` gave (as the changelogged
    table holds them) lists, removes and joins (the collusion rule, at max_shared 1) exactly what the original
    does from then on."""
    rules = replace(RULES, collusion_max_shared=1)

    def make():
        c = Curator(rules, HUB, track=True)
        for i in range(5):
            c.assign_cohort(f"w{i}", f"cohort-{i % 4}")
        return c
    reports = sorted(reports, key=lambda r: r[2])
    a = make()
    ips, reps, pairs = {}, {}, {}
    b = None
    for k, (who, ip, dt) in enumerate(reports):
        now = NOW + dt
        step = a.tick(now) + a.ingest(f"w{who}", [(ip, "a/http-probing", H)], now)
        got_ips, got_reps, got_pairs = a.take_changes()
        ips.update(got_ips)
        reps.update(got_reps)
        pairs.update(got_pairs)
        if k == cut:
            b = Curator(rules, HUB, track=True)
            b.load(reps, {v: rec for v, rec in ips.items() if rec is not None}, now,
                   pairs={p: rec for p, rec in pairs.items() if rec is not None})
        elif k > cut:
            out_b = b.tick(now) + b.ingest(f"w{who}", [(ip, "a/http-probing", H)], now)
            assert out_b == step
    end = NOW + 10 * 86400
    if cut < len(reports) - 1:
        assert b.tick(end) == a.tick(end) and b.listed() == a.listed() == {}
        assert {n: b.trust(n) for n in reps} == {n: a.trust(n) for n in reps}
        assert {n: b.cohort_of(n) for n in reps} == {n: a.cohort_of(n) for n in reps}
