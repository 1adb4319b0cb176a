"""Firewall bouncer rendering: nftables and ipset scripts for adds, deletes and setup, batching and the fallback
to one change at a time, and nftables' outermost-range bookkeeping. No command is run (a recording runner)."""

from __future__ import annotations

import pytest

from connectors.bouncers.firewall import (IPSET_MAX_TIMEOUT, FirewallBouncer, IpsetBackend, NftablesBackend,
                                          element_of)
from synsec.engine.model import Decision

NOW = 1_700_000_000.0


def dec(value: str, scope: str = "Ip", seconds: float = 3600, type_: str = "ban") -> Decision:
    return Decision(origin="synsec", scenario="s", scope=scope, value=value, type=type_, duration=seconds,
                    until=NOW + seconds)


class Recorder:
    def __init__(self, fail_when=None):
        self.calls: list[tuple[list[str], str]] = []
        self.fail_when = fail_when

    def __call__(self, command, script):
        self.calls.append((command, script))
        if self.fail_when and self.fail_when in script:
            raise RuntimeError("rejected")


def test_element_of_canonicalises():
    """Ip and Range values are canonicalised (IPv6 compressed, host bits cleared); other scopes are None."""
    assert element_of("Ip", "2001:0db8::0001") == (6, False, "2001:db8::1")
    assert element_of("range", "10.1.2.3/8") == (4, True, "10.0.0.0/8")
    assert element_of("Country", "FR") is None and element_of("Ip", "999.1.1.1") is None


def test_nft_add_and_delete_render_idempotent_idiom():
    """An nft add is add/delete/add with the remaining time as timeout; a delete is add/delete (never fails)."""
    nft = NftablesBackend()
    assert nft.add(dec("192.0.2.7"), NOW) == [
        "add element inet synsec blocklist4 { 192.0.2.7 }",
        "delete element inet synsec blocklist4 { 192.0.2.7 }",
        "add element inet synsec blocklist4 { 192.0.2.7 timeout 3600s }"]
    assert nft.add(dec("2001:db8::/32", "Range", 59.2), NOW)[-1] == \
        "add element inet synsec rangelist6 { 2001:db8::/32 timeout 60s }"
    assert nft.delete("Ip", "2001:db8::1") == ["add element inet synsec blocklist6 { 2001:db8::1 }",
                                               "delete element inet synsec blocklist6 { 2001:db8::1 }"]
    assert nft.add(dec("FR", "Country"), NOW) == [] and nft.delete("AS", "1234") == []


def test_nft_setup_has_sets_flags_and_drop_rules():
    """Setup creates the table, four sets (timeout; interval for ranges), flushes them, and drops their sources."""
    lines = NftablesBackend().setup()
    assert lines[0] == "add table inet synsec"
    assert "add set inet synsec blocklist4 { type ipv4_addr; flags timeout; }" in lines
    assert "add set inet synsec rangelist6 { type ipv6_addr; flags interval, timeout; }" in lines
    assert "flush set inet synsec blocklist6" in lines
    assert any("hook input priority filter - 10" in ln for ln in lines)
    assert "add rule inet synsec input ip6 saddr @rangelist6 counter drop" in lines
    assert "add rule inet synsec input ip saddr @blocklist4 counter drop" in lines


def test_ipset_render_caps_timeout_and_uses_hash_net():
    """ipset adds carry the timeout (capped at ipset's maximum), dels name the family's set, setup makes hash:net."""
    ips = IpsetBackend()
    assert ips.add(dec("192.0.2.7"), NOW) == ["add synsec-blocklist 192.0.2.7 timeout 3600"]
    assert ips.add(dec("2001:db8::/32", "Range", 10 ** 9), NOW) == \
        [f"add synsec-blocklist6 2001:db8::/32 timeout {IPSET_MAX_TIMEOUT}"]
    assert ips.delete("Ip", "192.0.2.7") == ["del synsec-blocklist 192.0.2.7"]
    assert "create synsec-blocklist6 hash:net family inet6 timeout 0" in ips.setup()
    assert ips.command() == ["ipset", "-exist", "restore"]


def test_batch_is_one_call_and_falls_back_to_single_changes():
    """A poll's changes go out in one call; when it fails, each is retried alone and only the bad one is lost."""
    rec = Recorder(fail_when="198.51.100.1")
    fw = FirewallBouncer(IpsetBackend(), rec, clock=lambda: NOW)
    fw.on_add(dec("192.0.2.7"))
    fw.on_add(dec("198.51.100.1"))
    fw.on_delete("Ip", "192.0.2.9", dec("192.0.2.9"))
    fw.flush()
    assert len(rec.calls) == 4 and rec.calls[0][1].count("\n") == 3
    assert fw.stats == {"applied": 2, "failed": 1, "ignored": 0, "batches": 1}
    fw.flush()
    assert len(rec.calls) == 4                       # nothing pending, nothing run


def test_non_ban_types_and_scopes_are_ignored():
    """Captcha decisions and Country scopes never reach the firewall."""
    rec = Recorder()
    fw = FirewallBouncer(NftablesBackend(), rec, clock=lambda: NOW)
    fw.on_add(dec("192.0.2.7", type_="captcha"))
    fw.on_delete("Ip", "192.0.2.7", dec("192.0.2.7", type_="captcha"))
    fw.on_add(dec("FR", "Country"))
    fw.flush()
    assert rec.calls == [] and fw.stats["ignored"] == 2


def _installed(fw) -> list[str]:
    return sorted(fw.ranges.installed)


def test_nft_installs_only_outermost_ranges():
    """A range inside an installed one is held back; a covering range replaces the ranges it covers; deleting
    the outer range installs the inner ones again."""
    rec = Recorder()
    fw = FirewallBouncer(NftablesBackend(), rec, clock=lambda: NOW)
    fw.on_add(dec("10.1.0.0/16", "Range"))
    fw.on_add(dec("10.0.0.0/8", "Range"))            # covers 10.1/16: that one is removed
    fw.on_add(dec("10.2.0.0/16", "Range"))           # covered: not installed
    fw.on_add(dec("10.0.0.0/8", "Range", 7200))   # same key again: stays installed
    assert _installed(fw) == ["10.0.0.0/8"]
    script = "".join(line + "\n" for g in fw.pending for line in g)
    assert "delete element inet synsec rangelist4 { 10.1.0.0/16 }" in script
    assert "10.2.0.0/16" not in script
    fw.pending.clear()
    fw.on_delete("Range", "10.0.0.0/8", dec("10.0.0.0/8", "Range"))
    assert _installed(fw) == ["10.1.0.0/16", "10.2.0.0/16"]
    fw.on_delete("Range", "10.2.0.0/16", dec("10.2.0.0/16", "Range"))
    assert _installed(fw) == ["10.1.0.0/16"]


@pytest.mark.parametrize("backend", [NftablesBackend(), IpsetBackend()])
def test_list_command_names_the_set(backend):
    """The list command used to inspect a set names the set an address goes to."""
    cmd = backend.list_command(6, False)
    assert cmd[0] in ("nft", "ipset") and backend.set_name(6, False) in cmd
