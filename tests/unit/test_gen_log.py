"""bench/gen_log.py: deterministic benchmark logs in nginx/syslog format with a usable ground truth."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from tests.hubutil import bench_module

REPO = Path(__file__).resolve().parents[2]


gen_log = bench_module("gen_log")

NGINX_RE = re.compile(
    r'^(?P<ip>[0-9a-f.:]+) - - \[(?P<ts>\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000)\] '
    r'"(?P<verb>GET|POST|HEAD) (?P<req>/\S*) HTTP/1\.1" (?P<status>\d{3}) (?P<size>\d+) '
    r'"(?P<ref>[^"]*)" "(?P<ua>[^"]+)"$')
SYSLOG_RE = re.compile(
    r'^(?P<ts>[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d) web1 (?P<prog>[A-Za-z-]+)\[(?P<pid>\d+)\]: '
    r'(?P<msg>\S.*)$')
SSH_IP_RE = re.compile(r"(?:from|user \S+) ([0-9a-f.:]+) port \d+")

ATTACK_NETS = [ipaddress.ip_network(n) for n in gen_log.ATTACKER_RANGES]
BENIGN_NETS = [ipaddress.ip_network(n) for n in gen_log.BENIGN_RANGES]


def _in(ip: str, nets) -> bool:
    a = ipaddress.ip_address(ip)
    return any(a in n for n in nets)


@pytest.fixture(scope="module")
def nginx20k(tmp_path_factory):
    d = tmp_path_factory.mktemp("gen")
    truth = gen_log.generate(20000, "nginx", 1, d / "a.log")
    return d / "a.log", truth


@pytest.fixture(scope="module")
def sshd20k(tmp_path_factory):
    d = tmp_path_factory.mktemp("gen")
    truth = gen_log.generate(20000, "sshd", 1, d / "a.log")
    return d / "a.log", truth


def test_same_seed_same_bytes(tmp_path):
    """Same seed and arguments give byte-identical logs and truth; another seed gives another log."""
    for kind in ("nginx", "sshd"):
        t1 = gen_log.generate(5000, kind, 7, tmp_path / f"{kind}1.log")
        t2 = gen_log.generate(5000, kind, 7, tmp_path / f"{kind}2.log")
        t3 = gen_log.generate(5000, kind, 8, tmp_path / f"{kind}3.log")
        b1 = (tmp_path / f"{kind}1.log").read_bytes()
        assert b1 == (tmp_path / f"{kind}2.log").read_bytes()
        assert b1 != (tmp_path / f"{kind}3.log").read_bytes()
        t2["files"] = t1["files"]
        assert json.dumps(t1, sort_keys=True) == json.dumps(t2, sort_keys=True)
        assert t1["attackers"] != t3["attackers"]


def test_same_bytes_across_processes(tmp_path):
    """Two interpreter runs with different PYTHONHASHSEED write byte-identical logs and truth."""
    outs = []
    for hs in ("1", "2"):
        out = tmp_path / f"h{hs}.log"
        env = dict(os.environ, PYTHONHASHSEED=hs)
        subprocess.run([sys.executable, str(REPO / "bench" / "gen_log.py"), "--lines", "20000",
                        "--kind", "mixed", "--seed", "5", "-o", str(out), "--truth",
                        str(tmp_path / f"h{hs}.json")], check=True, env=env, capture_output=True)
        truth = json.loads((tmp_path / f"h{hs}.json").read_text())
        truth.pop("files")
        outs.append((out.read_bytes(), out.with_suffix(".auth.log").read_bytes(),
                     json.dumps(truth, sort_keys=True)))
    assert outs[0] == outs[1]


def test_cli_writes_log_and_truth(tmp_path):
    """The CLI writes exactly --lines lines and a JSON truth naming the file."""
    out, tr = tmp_path / "x.log", tmp_path / "x.json"
    assert gen_log.main(["--lines", "3000", "--kind", "nginx", "--seed", "3", "-o", str(out),
                         "--truth", str(tr)]) == 0
    assert len(out.read_text().splitlines()) == 3000
    truth = json.loads(tr.read_text())
    assert truth["files"] == {"nginx": str(out)} and truth["lines"] == {"nginx": 3000}


def test_nginx_lines_are_combined_format(nginx20k):
    """Every nginx line matches nginx's default combined format and time never goes backwards."""
    path, truth = nginx20k
    lines = path.read_text().splitlines()
    assert len(lines) == 20000 == truth["lines"]["nginx"]
    prev = None
    for ln in lines:
        m = NGINX_RE.match(ln)
        assert m, ln
        ts = datetime.strptime(m["ts"], "%d/%b/%Y:%H:%M:%S %z")
        assert prev is None or ts >= prev
        prev = ts
        ipaddress.ip_address(m["ip"])
    span = (prev - datetime.strptime(NGINX_RE.match(lines[0])["ts"], "%d/%b/%Y:%H:%M:%S %z"))
    assert 100 <= span.total_seconds() <= 400  # ~100 lines/s of log time


def test_sshd_lines_are_rfc3164(sshd20k):
    """Every auth-log line is `Mmm dd hh:mm:ss host prog[pid]: msg`, monotonic, with sshd failures."""
    path, truth = sshd20k
    lines = path.read_text().splitlines()
    assert len(lines) == 20000
    prev = None
    progs = set()
    for ln in lines:
        m = SYSLOG_RE.match(ln)
        assert m, ln
        ts = datetime.strptime("2026 " + m["ts"], "%Y %b %d %H:%M:%S")
        assert prev is None or ts >= prev
        prev = ts
        progs.add(m["prog"])
    assert {"sshd", "CRON", "systemd-logind"} <= progs
    assert any("Failed password for invalid user" in ln for ln in lines)


def test_truth_lists_every_attacker(nginx20k, sshd20k):
    """Each IP outside the benign ranges is a truth attacker from the attacker ranges, with its line count."""
    for (path, truth), log in ((nginx20k, "nginx"), (sshd20k, "sshd")):
        counts: dict[str, int] = {}
        for ln in path.read_text().splitlines():
            if log == "nginx":
                ip = ln.split(" ", 1)[0]
            else:
                m = SSH_IP_RE.search(ln)
                if not m:
                    continue
                ip = m.group(1)
            if not _in(ip, BENIGN_NETS):
                counts[ip] = counts.get(ip, 0) + 1
        by_ip = {a["ip"]: a for a in truth["attackers"]}
        assert set(counts) == set(by_ip) == set(truth["attacker_ips"])
        for ip, a in by_ip.items():
            assert _in(ip, ATTACK_NETS)
            if log == "nginx":
                assert counts[ip] == a["lines"], (ip, a["behaviour"])
            assert a["log"] == log and a["expected_scenarios"] == sorted(a["expected_alerts"])


def test_all_behaviours_and_attack_ratio(nginx20k, sshd20k):
    """A 20k-line file covers every behaviour, most with an expected alert, and 1-3 % attack lines."""
    for (path, truth), behaviours in ((nginx20k, gen_log.HTTP_BEHAVIOURS),
                                      (sshd20k, gen_log.SSH_BEHAVIOURS)):
        seen = {a["behaviour"] for a in truth["attackers"]}
        assert seen == set(behaviours)
        alerting = {a["behaviour"] for a in truth["attackers"] if a["expected_alerts"]}
        assert alerting == set(behaviours)
        n_att = sum(a["lines"] for a in truth["attackers"])
        assert 0.01 <= n_att / sum(truth["lines"].values()) <= 0.03


def test_mixed_writes_two_files(tmp_path):
    """--kind mixed writes the nginx log to -o and the sshd log to <stem>.auth.log over one span."""
    truth = gen_log.generate(10000, "mixed", 2, tmp_path / "bench.log")
    assert truth["files"] == {"nginx": str(tmp_path / "bench.log"),
                              "sshd": str(tmp_path / "bench.auth.log")}
    n = (tmp_path / "bench.log").read_text().splitlines()
    s = (tmp_path / "bench.auth.log").read_text().splitlines()
    assert (len(n), len(s)) == (9000, 1000)
    assert all(NGINX_RE.match(x) for x in n) and all(SYSLOG_RE.match(x) for x in s)
    assert {a["log"] for a in truth["attackers"]} == {"nginx", "sshd"}
    ips = [a["ip"] for a in truth["attackers"]]
    assert len(ips) == len(set(ips))


def test_leaky_model():
    """The truth's leaky-bucket model: capacity+1 quick events overflow once, leaking prevents it."""
    lo = gen_log.leaky_overflows
    assert lo([(0, None)] * 5, 5, 10.0, 60.0) == 0
    assert lo([(0, None)] * 6, 5, 10.0, 60.0) == 1
    assert lo([(i * 11, None) for i in range(50)], 5, 10.0, 60.0) == 0
    assert lo([(0, "a")] * 20, 5, 10.0, 60.0) == 0          # distinct
    assert lo([(0, None)] * 6 + [(30, None)] * 6, 5, 10.0, 60.0) == 1    # blackhole
    assert lo([(0, None)] * 6 + [(100, None)] * 6, 5, 10.0, 60.0) == 2


def _data_dir() -> Path | None:
    for p in (REPO / ".cache/crowdsec/root/usr/share/crowdsec/data",
              Path("/work/.cs-unpacked/usr/share/crowdsec/data"),
              Path("/usr/share/crowdsec/data")):
        if (p / "sensitive_data.txt").exists():
            return p
    return None


@pytest.mark.hub
def test_benign_traffic_avoids_crowdsec_lists(nginx20k):
    """Benign requests/UAs match none of CrowdSec's data lists; attack payloads match the intended ones."""
    d = _data_dir()
    if d is None:
        pytest.skip("CrowdSec data files not unpacked (scripts/crowdsec-hub.sh)")

    def words(name):
        return [w for w in (d / name).read_text().splitlines() if w and not w.startswith("#")]

    sensitive, traversal = words("sensitive_data.txt"), words("path_traversal.txt")
    sqli, xss = words("sqli_probe_patterns.txt"), words("xss_probe_patterns.txt")
    backdoors = set(words("backdoors.txt"))
    bad_ua = [re.compile(r) for r in words("bad_user_agents.regex.txt")]
    path, truth = nginx20k
    attackers = set(truth["attacker_ips"])
    benign_reqs, benign_uas = set(), set()
    for ln in path.read_text().splitlines():
        m = NGINX_RE.match(ln)
        if m["ip"] not in attackers:
            benign_reqs.add(m["req"])
            benign_uas.add(m["ua"])
    assert len(benign_reqs) > 500
    for req in benign_reqs:
        p, _, args = req.partition("?")
        assert not any(p.endswith(s) for s in sensitive), req
        assert not any(t in req for t in traversal), req
        assert not any(s.upper() in args.upper() for s in sqli + xss), req
        assert p.rsplit("/", 1)[-1] not in backdoors, req
    for ua in benign_uas | {gen_log.CRAWL_UA}:
        assert not any(r.search(ua) for r in bad_ua), ua
    for ua in gen_log.BAD_UAS:
        assert any(r.search(ua) for r in bad_ua), ua
    for p in gen_log.SENSITIVE_PATHS:
        assert any(p.endswith(s) for s in sensitive), p
    for r in gen_log.TRAVERSAL_REQS:
        assert any(t in r for t in traversal), r
    for a in gen_log.SQLI_ARGS:
        assert any(s.upper() in a.upper() for s in sqli), a
    for a in gen_log.XSS_ARGS:
        assert any(s.upper() in a.upper() for s in xss), a


def test_benign_heavy_shape(tmp_path):
    """--shape benign-heavy: same bytes for the same seed, many distinct benign visitors each making a handful of
    requests, about half the lines benign non-static GETs, and the attackers of the default shape's truth format."""
    a = gen_log.generate(20000, "nginx", 3, tmp_path / "a.log", shape="benign-heavy")
    b = gen_log.generate(20000, "nginx", 3, tmp_path / "b.log", shape="benign-heavy")
    assert (tmp_path / "a.log").read_bytes() == (tmp_path / "b.log").read_bytes()
    b["files"] = a["files"]
    assert a == b and a["shape"] == "benign-heavy" and a["attackers"]
    attackers = set(a["attacker_ips"])
    per_ip, pages = {}, 0
    for line in (tmp_path / "a.log").read_text().splitlines():
        m = NGINX_RE.match(line)
        assert m, line
        if m["ip"] in attackers:
            continue
        assert _in(m["ip"], BENIGN_NETS)
        per_ip[m["ip"]] = per_ip.get(m["ip"], 0) + 1
        path = m["req"].split("?")[0]
        pages += m["verb"] in ("GET", "HEAD") and not gen_log.is_static(path)
    assert len(per_ip) > 2000 and max(per_ip.values()) < 60
    assert 0.4 < pages / 20000 < 0.65
    with pytest.raises(ValueError):
        gen_log.generate(100, "nginx", 3, tmp_path / "c.log", shape="nope")
