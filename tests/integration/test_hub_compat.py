"""Unmodified CrowdSec hub content (Debian's crowdsec 1.4.6) gives the expected verdicts in synsec,
and the same verdicts as the real CrowdSec binary replaying the same file."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.hubutil import crowdsec_ref, require_hub

pytestmark = [pytest.mark.hub]

T0 = datetime(2026, 11, 22, 10, 0, 0, tzinfo=timezone.utc)
COLLECTIONS = ["crowdsecurity/linux", "crowdsecurity/sshd", "crowdsecurity/nginx",
               "crowdsecurity/base-http-scenarios", "crowdsecurity/apache2", "crowdsecurity/wordpress"]


def _syslog(t: datetime, msg: str) -> str:
    return f"{t:%b} {t.day:>2} {t:%H:%M:%S} web1 sshd[4242]: {msg}"


def _nginx(t: datetime, ip: str, path: str, status: int, ua: str = "Mozilla/5.0 (X11; Linux x86_64)",
           verb: str = "GET") -> str:
    return (f'{ip} - - [{t.strftime("%d/%b/%Y:%H:%M:%S +0000")}] "{verb} {path} HTTP/1.1" {status} 512 '
            f'"-" "{ua}"')


def auth_log() -> list[str]:
    lines = []
    t = T0
    for i in range(8):                       # fast brute force, 8 users: ssh-bf + user-enum
        t += timedelta(seconds=1)
        lines.append(_syslog(t, f"Failed password for invalid user user{i} from 203.0.113.10 port {40000 + i} ssh2"))
    for i in range(4):                       # slow and below every threshold
        t += timedelta(seconds=40)
        lines.append(_syslog(t, f"Failed password for root from 198.51.100.20 port {41000 + i} ssh2"))
    t += timedelta(seconds=1)
    lines.append(_syslog(t, "Accepted publickey for alice from 192.0.2.5 port 50000 ssh2"))
    lines.append(_syslog(t, "Server listening on 0.0.0.0 port 22."))
    return lines


def nginx_log() -> list[str]:
    lines = []
    t = T0
    for i in range(30):                      # benign browsing
        t += timedelta(seconds=2)
        lines.append(_nginx(t, "192.0.2.1", ["/", "/about", "/static/app.js", "/img/logo.png"][i % 4], 200))
    t0 = t
    for i in range(12):                      # 404 probing on 12 distinct paths within 6 s
        lines.append(_nginx(t0 + timedelta(milliseconds=500 * i), "203.0.113.30", f"/probe{i}.php", 404))
    for i, path in enumerate(["/.env", "/.git/config", "/backup.sql", "/db.sql", "/config.php.bak", "/.htpasswd"]):
        lines.append(_nginx(t0 + timedelta(seconds=i * 0.5), "203.0.113.40", path, 404))
    lines.append(_nginx(t0 + timedelta(seconds=1), "203.0.113.50", "/", 200, ua="Sqlmap/1.7.2 (https://sqlmap.org)"))
    lines.append(_nginx(t0 + timedelta(seconds=2), "203.0.113.50", "/index.php", 200, ua="Sqlmap/1.7.2 (https://sqlmap.org)"))
    lines.sort(key=lambda ln: datetime.strptime(ln.split("[")[1].split("]")[0], "%d/%b/%Y:%H:%M:%S %z"))
    return lines


@pytest.fixture(scope="module")
def hub_cfg(tmp_path_factory) -> tuple[Path, Path, dict]:
    paths = require_hub()
    work = tmp_path_factory.mktemp("hubcfg")
    ref = crowdsec_ref()
    ref.build_config(work, paths, COLLECTIONS, "http://127.0.0.1:9/")
    return work / "cfg", work / "data", paths


def _synsec(hub_cfg, lines: list[str], log_type: str, tmp_path: Path) -> list[tuple]:
    from synsec.assembly.build import EngineOptions
    from synsec.runner.replay import replay

    cfg, data, _ = hub_cfg
    log = tmp_path / f"{log_type}.log"
    log.write_text("\n".join(lines) + "\n")
    res = replay([str(log)], {"type": log_type}, EngineOptions(config_dir=cfg, data_dirs=(data,),
                                                               reference_year=T0.year),
                 reference_ts=T0.timestamp())
    return sorted((a.Scenario, a.Source.IP, a.EventsCount) for a in res.alerts)


def test_hub_sshd_verdicts(hub_cfg, tmp_path):
    """Hub sshd content: a fast brute force alerts ssh-bf and user-enum at the 6th failure; slow one does not."""
    got = _synsec(hub_cfg, auth_log(), "syslog", tmp_path)
    assert ("crowdsecurity/ssh-bf", "203.0.113.10", 6) in got
    assert ("crowdsecurity/ssh-bf_user-enum", "203.0.113.10", 6) in got
    assert not [a for a in got if a[1] != "203.0.113.10"]


def test_hub_nginx_verdicts(hub_cfg, tmp_path):
    """Hub nginx + base-http content: 404 probing, sensitive files and a bad UA alert; benign traffic not."""
    got = _synsec(hub_cfg, nginx_log(), "nginx", tmp_path)
    scenarios = {(s, ip) for s, ip, _ in got}
    assert ("crowdsecurity/http-probing", "203.0.113.30") in scenarios
    assert ("crowdsecurity/http-sensitive-files", "203.0.113.40") in scenarios
    assert ("crowdsecurity/http-bad-user-agent", "203.0.113.50") in scenarios
    assert not [a for a in got if a[1] == "192.0.2.1"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["syslog", "nginx"])
def test_same_verdicts_as_crowdsec(hub_cfg, tmp_path, kind):
    """synsec and the real CrowdSec 1.4.6 binary give the same (scenario, ip, events_count) on the same log."""
    lines = auth_log() if kind == "syslog" else nginx_log()
    ours = _synsec(hub_cfg, lines, kind, tmp_path)
    log = tmp_path / f"cs-{kind}.log"
    log.write_text("\n".join(lines) + "\n")
    ref = crowdsec_ref().run_crowdsec(log, kind, COLLECTIONS, tmp_path / "cs", timeout=120,
                                      crowdsec_dest=None)
    theirs = sorted((a["scenario"], a["source_ip"], a["events_count"]) for a in ref["alerts"])
    assert theirs, "CrowdSec produced no alert: the comparison would be vacuous"
    assert ours == theirs
