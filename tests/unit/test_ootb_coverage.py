"""bench/ootb_coverage.py: synsec's own content finds every attacker of an independently written mixed Debian host log
(sshd, mail, FTP, MariaDB in syslog; nginx access and error logs) and bans none of its ordinary clients."""

from __future__ import annotations

import re

from tests.hubutil import bench_module

ootb = bench_module("ootb_coverage")
IP = re.compile(r"(?<![\w./])(\d{1,3}(?:\.\d{1,3}){3})(?![\w.])")   # not Chrome/130.0.0.0, ldap://h, %2Fh


def test_default_content_finds_every_attacker_and_no_benign_client():
    """`synsec replay` on the embedded default gives every attacker a decision and no benign client one."""
    r = ootb.measure(seed=1, users=20)
    missed = {name: f["missed"] for name, f in r["families"].items() if f["missed"]}
    assert (r["found"], missed) == (r["attackers"], {})
    assert r["false_positives"] == {} and r["unknown"] == []
    assert r["issue_found"] == r["issue_total"] >= 30


def test_log_is_seeded_and_every_address_labelled():
    """The generator is deterministic, has ≥ 34 attackers in ≥ 10 families, and labels every public address."""
    a, b = ootb.generate(5, 10), ootb.generate(5, 10)
    assert all(a.sorted_lines(s) == b.sorted_lines(s) for s in ootb.FILES)
    assert len(a.attackers) >= 34 and len(set(a.attackers.values())) >= 10
    assert {f for f, (_, listed) in ootb.FAMILIES.items() if listed} <= set(a.attackers.values())
    seen = {ip for s in ootb.FILES for line in a.sorted_lines(s) for ip in IP.findall(line)}
    lan = {ip for ip in seen if ip.startswith("10.")}                  # the server's own lip= address
    assert seen - lan == set(a.attackers) | set(a.benign)
