"""Allowlists as CrowdSec 1.7's, in the store: items (IP, CIDR, IPv4-mapped IPv6), overlap in both directions,
expiry, bounds, and where they apply: alerts (no decision, counted), `ccscli decisions add` (refused without
--bypass-allowlist) and the pulled community blocklist."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import synsec.store.allowlists as allowlists_mod
from connectors.crowd.blocklist import StoreTarget, apply_stream
from synsec.cli.ccscli import ccscli
from synsec.cli.main import cli
from synsec.engine.profiles import Allowlist
from synsec.store import Store
from synsec.store.allowlists import AllowlistError
from tests.unit.test_decision_history import T0, bursts, escalation_content

REPO = Path(__file__).resolve().parents[2]


def ccs(state, *args, code: int = 0) -> str:
    res = CliRunner().invoke(ccscli, ["--state-dir", str(state), *args])
    assert res.exit_code == code, res.output
    return res.output


def test_items_match_ips_ranges_mapped_addresses_and_expire(tmp_path):
    """An item holds the IPs of its range; a range overlapping an item is allowlisted (both directions); an
    IPv4-mapped IPv6 address is its IPv4; an expired item no longer counts; removal and deletion work."""
    store = Store(tmp_path)
    store.create_allowlist("office", "the office", 100.0)
    store.add_allowlist_items("office", ["192.0.2.7/24", "2001:db8::1", "::ffff:198.51.100.9"], 100.0,
                              comment="vpn")
    store.add_allowlist_items("office", ["203.0.113.5"], 100.0, expires_at=200.0)
    assert store.allowlisted_by("192.0.2.200", 150.0) == ["office: 192.0.2.0/24 (vpn)"]
    assert store.allowlisted_by("::ffff:192.0.2.1", 150.0) and store.allowlisted_by("198.51.100.9", 150.0)
    assert store.allowlisted_by("192.0.0.0/16", 150.0)           # holds an allowlisted range
    assert store.allowlisted_by("2001:db8::/64", 150.0) and not store.allowlisted_by("2001:db9::1", 150.0)
    assert store.allowlisted_by("203.0.113.5", 150.0) and not store.allowlisted_by("203.0.113.5", 250.0)
    assert store.allowlisted_by("not an ip", 150.0) == [] and store.allowlisted_by("", 150.0) == []
    assert store.allowlist("office", 250.0)["size"] == 3
    assert store.remove_allowlist_items("office", ["192.0.2.0/24"], 300.0) == 1
    assert not store.allowlisted_by("192.0.2.200", 300.0)
    store.delete_allowlist("office")
    assert store.allowlists(300.0) == [] and not store.allowlisted_by("198.51.100.9", 300.0)
    store.close()


@pytest.mark.parametrize("values", [["192.0.2.1", "192.0.2.0/33"], ["10.0.0.1", "1.2.3.4.5"], ["x" * 5000],
                                    ["fe80::1%eth0/64"], ["192.0.2.1/-1"]])
def test_bad_items_add_nothing(tmp_path, values):
    """One bad value (bad CIDR, not an IP, oversize, scoped address) refuses the whole add."""
    store = Store(tmp_path)
    store.create_allowlist("l", "", 1.0)
    with pytest.raises(AllowlistError):
        store.add_allowlist_items("l", values, 1.0)
    assert store.allowlist("l", 1.0)["size"] == 0
    store.close()


def test_names_and_sizes_are_bounded(tmp_path, monkeypatch):
    """Names are checked, a list cannot be created twice nor grow past MAX_ITEMS; checks stay fast on big lists."""
    store = Store(tmp_path)
    for bad in ("", "a b", "../x", "-x", "x" * 65):
        with pytest.raises(AllowlistError):
            store.create_allowlist(bad, "", 1.0)
    store.create_allowlist("big", "", 1.0)
    with pytest.raises(AllowlistError, match="already exists"):
        store.create_allowlist("big", "", 1.0)
    with pytest.raises(AllowlistError, match="not found"):
        store.add_allowlist_items("nope", ["192.0.2.1"], 1.0)
    store.add_allowlist_items("big", [f"10.{i // 256}.{i % 256}.0/24" for i in range(20_000)], 1.0)
    start = time.process_time()
    for i in range(0, 20_000, 100):
        assert store.allowlisted_by(f"10.{i // 256}.{i % 256}.1", 2.0)
    assert not store.allowlisted_by("11.0.0.1", 2.0)
    assert time.process_time() - start < 2.0
    monkeypatch.setattr(allowlists_mod, "MAX_ITEMS", 20_001)
    with pytest.raises(AllowlistError, match="more than"):
        store.add_allowlist_items("big", ["172.16.0.1", "172.16.0.2"], 1.0)
    store.close()


def test_ccscli_allowlists_and_decisions_add(tmp_path):
    """ccscli create/add/inspect/list/check/remove/delete; `decisions add` on an allowlisted IP is refused
    unless --bypass-allowlist; bad input is a clean error."""
    state = tmp_path / "state"
    ccs(state, "allowlists", "create", "office", "-d", "office network")
    ccs(state, "allowlists", "add", "office", "192.0.2.0/24", "2001:db8::/32", "-e", "7d", "-d", "hq")
    assert "invalid IP or CIDR" in ccs(state, "allowlists", "add", "office", "192.0.2.300", code=1)
    assert "invalid duration" in ccs(state, "allowlists", "add", "office", "10.0.0.1", "-e", "soon", code=2)
    inspected = json.loads(ccs(state, "allowlists", "inspect", "office", "-o", "json"))
    assert [i["value"] for i in inspected["items"]] == ["192.0.2.0/24", "2001:db8::/32"]
    assert 6.9 * 86400 < inspected["items"][0]["expiration"] - time.time() <= 7 * 86400
    assert json.loads(ccs(state, "allowlists", "list", "-o", "json"))[0]["size"] == 2
    assert "allowlisted by office: 192.0.2.0/24 (hq)" in ccs(state, "allowlists", "check", "192.0.2.9")
    assert "not allowlisted" in ccs(state, "allowlists", "check", "198.51.100.1", code=1)
    out = ccs(state, "decisions", "add", "-i", "192.0.2.9", code=1)
    assert "allowlisted by office" in out and "--bypass-allowlist" in out
    ccs(state, "decisions", "add", "-i", "192.0.2.9", "--bypass-allowlist")
    ccs(state, "decisions", "add", "-i", "198.51.100.1")
    assert {d["value"] for d in json.loads(ccs(state, "decisions", "list", "-o", "json"))} == \
        {"192.0.2.9", "198.51.100.1"}
    out = ccs(state, "allowlists", "add", "office", "198.51.100.0/28")      # active decisions there are lifted,
    assert "2 active decision(s) on allowlisted values removed" in out      # the bypassed one too (as cscli)
    assert json.loads(ccs(state, "decisions", "list", "-o", "json")) == []
    ccs(state, "allowlists", "remove", "office", "192.0.2.0/24")
    ccs(state, "allowlists", "delete", "office")
    assert "not found" in ccs(state, "allowlists", "inspect", "office", code=1)


def test_alerts_on_allowlisted_sources_make_no_decision(tmp_path):
    """`synsec replay` with the store's allowlist: the allowlisted IP's alert makes no decision and is counted
    `profiles_allowlisted`; another IP is banned."""
    state = tmp_path / "state"
    ccs(state, "allowlists", "create", "partners")
    ccs(state, "allowlists", "add", "partners", "::ffff:192.0.2.77")
    log = tmp_path / "auth.log"
    log.write_text(bursts("192.0.2.77", [T0]) + bursts("198.51.100.3", [T0 + 60]))
    res = CliRunner().invoke(cli, ["replay", str(log), "--type", "syslog", "--config-dir",
                                   str(escalation_content(tmp_path)), "--state-dir", str(state), "-o", "json"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert {a["source"]["value"] for a in out["alerts"]} == {"192.0.2.77", "198.51.100.3"}
    assert [d["value"] for d in out["decisions"]] == ["198.51.100.3"]
    assert out["stats"]["profiles_allowlisted"] == 1


def test_pulled_community_entries_skip_the_store_allowlists(tmp_path):
    """The community blocklist pull skips an entry the store's allowlists hold (counted skipped_allowlisted)."""
    store = Store(tmp_path)
    store.create_allowlist("cdn", "", time.time())
    store.add_allowlist_items("cdn", ["91.200.12.0/24"], time.time())
    allowlist = Allowlist().with_source(store.allowlist_reader())
    entries = [{"id": i, "origin": "CAPI", "type": "ban", "scope": "Ip", "value": v, "scenario": "s/x",
                "duration": "24h0m0s"} for i, v in enumerate(["91.200.12.9", "45.13.227.7"], 1)]
    counts = apply_stream(StoreTarget(store), entries, [], startup=True, scenarios={"s/x"}, allowlist=allowlist,
                          now=time.time())
    assert counts == {"added": 1, "skipped_allowlisted": 1}
    assert [r["value"] for r in store.decisions(origin="CAPI")] == ["45.13.227.7"]
    store.close()
