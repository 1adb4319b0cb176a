"""The crowd end to end with real components: `synsec central` and synsec installations (`synsec run`, each
registered with `ccscli capi register`). An attacker seen by two installations is listed and a third one
(sharing off) pulls it as an origin=CAPI decision that its bouncer API serves; an outage of central and a
restart of an installation lose no signal and send none twice; private sources are never sent."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from connectors.kafka.broker import free_port
from synsec.cli.ccscli import ccscli
from tests.hubutil import require_hub
from tests.integration.test_run_live import REPO, Run, append, wait_for
from tests.procutil import stop

pytestmark = [pytest.mark.hub, pytest.mark.integration]

ATTACKER = "91.200.12.9"          # global unicast: documentation and private ranges are never shared
OTHERS = ("91.200.12.10", "91.200.12.11")
PRIVATE = "10.1.2.3"
SCENARIO = "crowdsecurity/http-probing"
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def cs(*args: str) -> str:
    res = CliRunner().invoke(ccscli, list(args))
    assert res.exit_code == 0, (res.output, res.exception)
    return res.stdout


@pytest.fixture(scope="module")
def hub_config(tmp_path_factory) -> tuple[Path, Path]:
    """A config dir with Debian's hub index and the nginx parsers + http-probing installed, and its data dir."""
    paths = require_hub()
    cfg = tmp_path_factory.mktemp("crowdcfg") / "cfg"
    cs("--config-dir", str(cfg), "hub", "update", "--hub-url", str(paths["CROWDSEC_HUB"]))
    cs("--config-dir", str(cfg), "parsers", "install", "crowdsecurity/syslog-logs", "crowdsecurity/dateparse-enrich",
       "crowdsecurity/nginx-logs", "crowdsecurity/http-logs")
    cs("--config-dir", str(cfg), "scenarios", "install", SCENARIO)
    (cfg / "profiles.yaml").write_text((REPO / "scenarios" / "profiles.yaml").read_text())
    return cfg, paths["CROWDSEC_DATA"]


# Central's shipped rules want 3 independent cohorts and count reporters registered from one /24 as one; here
# every installation registers from 127.0.0.1, so the test's rules take 2 reporters and no address blocks.
CURATION = """consensus:
  min_reporters: 2
  min_score: 0.9
cohorts:
  same_block: false
"""


class Central:
    """`synsec central` on a free loopback port, stopped by PID; restartable on the same port and state. It counts
    the scenarios of Debian's hub index, the one the installations install from."""

    def __init__(self, state: Path, log: Path):
        self.state, self.log, self.port = state, log, free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Central":
        curation = self.log.with_name("curation.yaml")
        curation.write_text(CURATION)
        self.proc = subprocess.Popen([sys.executable, "-m", "synsec.cli.main", "central", "--listen",
                                      f"127.0.0.1:{self.port}", "--state-dir", str(self.state), "--curation",
                                      str(curation), "--hub-index",
                                      str(require_hub()["CROWDSEC_HUB"] / ".index.json")], cwd=REPO,
                                     stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        wait_for(lambda: self._up() or self.proc.poll() is not None)
        assert self.proc.poll() is None, self.log.read_text()
        return self

    def _up(self) -> bool:
        try:
            with _DIRECT.open(self.url + "health", timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)

    def signals(self, watcher: str) -> list[tuple]:
        """(value, scenario, start_at) of each signal central stored for `watcher`."""
        con = sqlite3.connect(f"file:{self.state / 'central.db'}?mode=ro", uri=True)
        try:
            return sorted(con.execute("SELECT value, scenario, start_at FROM signals WHERE watcher = ?",
                                      (watcher,)).fetchall())
        finally:
            con.close()


@pytest.fixture
def stack(tmp_path):
    """Processes a test starts (central, runs, APIs); all stopped by PID at the end."""
    started: list = []
    yield started
    for thing in reversed(started):
        if isinstance(thing, Central):
            thing.stop()
        else:
            stop(thing.proc if isinstance(thing, Run) else thing)


def probing(ip: str, start: datetime) -> str:
    """12 distinct 404s within 6 s: crowdsecurity/http-probing's overflow for `ip`."""
    return "".join(f'{ip} - - [{(start + timedelta(seconds=i * 0.5)).strftime("%d/%b/%Y:%H:%M:%S +0000")}] '
                   f'"GET /probe{i}.php HTTP/1.1" 404 153 "-" "Mozilla/5.0"\n' for i in range(12))


def register(state: Path, url: str, name: str) -> str:
    cs("--state-dir", str(state), "capi", "register", "--url", url, "--machine-id", name)
    return name


# C's profiles: an alert on an address the community blocklist lists (CrowdsecCTI) gets a longer ban.
CTI_PROFILES = """name: community_blocklisted
filters:
  - Alert.Remediation == true && Alert.GetScope() == "Ip" && CrowdsecCTI(Alert.GetValue()).IsPartOfCommunityBlocklist()
decisions:
  - type: ban
    duration: 24h
on_success: break
---
"""


def installation(hub_config, state: Path, log: Path, *extra: str, cfg: Path | None = None) -> Run:
    cfg, data = cfg or hub_config[0], hub_config[1]
    log.touch()
    return Run(state, "-f", str(log), "--type", "nginx", "--config-dir", str(cfg), "--data-dir", str(data),
               "--push-interval", "0.2", *extra)


def queue_state(state: Path) -> dict:
    from connectors.crowd.queue import SignalQueue

    q = SignalQueue(state)
    try:
        return {"pending": q.pending(), "sent": q.sent_ids(), "counters": q.counters(), "positions": q.positions()}
    finally:
        q.close()


def stream(api_port: int, key: str, query: str = "") -> list[dict]:
    req = urllib.request.Request(f"http://127.0.0.1:{api_port}/v1/decisions/stream?startup=true{query}",
                                 headers={"X-Api-Key": key})
    with _DIRECT.open(req, timeout=5) as resp:
        return json.loads(resp.read()).get("new") or []


def test_attacker_seen_by_two_installations_is_enforced_by_a_third(tmp_path, hub_config, stack):
    """A and B report ATTACKER (and a private address, never sent); central lists ATTACKER (≥ 2 watchers); C,
    which runs with --no-share (it detects its own attacker and sends nothing), pulls ATTACKER as an origin=CAPI
    decision and C's bouncer API serves it and counts it in /metrics; when ATTACKER then probes C, C's profile
    asks CrowdsecCTI and bans it for 24 h instead of 4 h."""
    central = Central(tmp_path / "central", tmp_path / "central.log").start()
    stack.append(central)
    states = {n: tmp_path / n for n in "abc"}
    for name, state in states.items():
        register(state, central.url, f"inst-{name}")
    c_cfg = tmp_path / "cfg-c"
    shutil.copytree(hub_config[0], c_cfg)
    (c_cfg / "profiles.yaml").write_text(CTI_PROFILES + (c_cfg / "profiles.yaml").read_text())
    with ThreadPoolExecutor(3) as pool:        # the three start together (each loads the content)
        runs = dict(zip("abc", pool.map(
            lambda n: installation(hub_config, states[n], tmp_path / f"{n}.log", "--pull-interval", "1",
                                   *(["--no-share"] if n == "c" else []), cfg=c_cfg if n == "c" else None),
            "abc")))
    stack.extend(runs.values())
    api_port = free_port()
    key = cs("--state-dir", str(states["c"]), "bouncers", "add", "fw", "-o", "raw").strip()
    api = subprocess.Popen([sys.executable, "-m", "synsec.cli.main", "api", "--listen", f"127.0.0.1:{api_port}",
                            "--state-dir", str(states["c"])], cwd=REPO, stdout=subprocess.DEVNULL,
                           stderr=open(tmp_path / "api.log", "wb"))
    stack.append(api)
    now = datetime.now(timezone.utc)
    for name in "ab":
        append(tmp_path / f"{name}.log", probing(ATTACKER, now) + probing(PRIVATE, now + timedelta(seconds=1)))
    append(tmp_path / "c.log", probing(OTHERS[0], now))         # C's own attacker: detected, never sent
    for name in "ab":
        wait_for(lambda n=name: queue_state(states[n])["counters"].get("signals_sent", 0) >= 1)
    assert central.signals("inst-a") == central.signals("inst-b")
    assert [(v, s) for v, s, _ in central.signals("inst-a")] == [(ATTACKER, SCENARIO)]     # no private address
    assert queue_state(states["a"])["counters"]["signals_refused_not_global"] == 1

    def served():
        try:
            return [d for d in stream(api_port, key) if d["value"] == ATTACKER]
        except OSError:
            return []

    wait_for(served)
    (decision,) = served()
    assert decision["origin"] == "CAPI" and decision["scenario"] == SCENARIO and decision["type"] == "ban"
    wait_for(lambda: any(d["value"] == OTHERS[0] for d in stream(api_port, key)))     # C's own ban
    assert [d["value"] for d in stream(api_port, key, "&origins=CAPI")] == [ATTACKER]  # bouncers' origins filter
    c_state = queue_state(states["c"])
    assert c_state["counters"]["blocklist_added"] == 1 and c_state["pending"] == 0
    status = json.loads(cs("--state-dir", str(states["c"]), "capi", "status", "-o", "json"))
    assert status["reachable"] and status["capi_decisions_active"] == 1
    assert any("alert" in o for o in runs["c"].objects())           # C detected OTHERS[0], and shared nothing
    assert central.signals("inst-c") == [] and "signals_sent" not in c_state["counters"]
    with _DIRECT.open(f"http://127.0.0.1:{api_port}/metrics", timeout=5) as resp:
        metrics = resp.read().decode()
    assert f'synsec_api_decisions_active{{origin="CAPI",scenario="{SCENARIO}",type="ban"}} 1' in metrics
    assert 'synsec_crowd_total{counter="blocklist_added"} 1' in metrics

    append(tmp_path / "c.log", probing(ATTACKER, datetime.now(timezone.utc)))
    wait_for(lambda: [o for o in runs["c"].objects() if o.get("decision", {}).get("value") == ATTACKER])
    durations = {o["decision"]["value"]: o["decision"]["duration"] for o in runs["c"].objects() if "decision" in o}
    assert durations == {OTHERS[0]: "4h0m0s", ATTACKER: "24h0m0s"}


def test_outage_and_restart_lose_no_signal_and_send_none_twice(tmp_path, hub_config, stack):
    """Central down while A detects 3 attackers; A is killed (SIGKILL) and restarted; central comes back on the
    same port and state: the 3 signals arrive, each once, and A's queue is empty. A signal central refuses as
    invalid is dropped alone (the batch it was in goes through)."""
    central = Central(tmp_path / "central", tmp_path / "central.log").start()
    stack.append(central)
    state, log = tmp_path / "a", tmp_path / "a.log"
    register(state, central.url, "inst-a")
    central.stop()
    run = installation(hub_config, state, log)
    stack.append(run)
    now = datetime.now(timezone.utc)
    append(log, "".join(probing(ip, now + timedelta(seconds=i)) for i, ip in enumerate((ATTACKER,) + OTHERS)))
    wait_for(lambda: queue_state(state)["pending"] == 3)
    wait_for(lambda: queue_state(state)["counters"].get("push_failures", 0) >= 2)   # retried, backing off
    run.proc.kill()
    run.proc.wait(5)
    assert queue_state(state)["pending"] == 3
    from connectors.crowd.queue import SignalQueue

    q = SignalQueue(state)                       # a signal central will refuse, queued between the good ones
    q.enqueue([("poison", {"scenario": SCENARIO, "source": {"scope": "Ip", "value": "not-an-ip"},
                           "start_at": "2026-01-01T00:00:00Z", "stop_at": "2026-01-01T00:00:01Z"})])
    q.close()
    run = installation(hub_config, state, log)
    stack.append(run)
    central.start()
    wait_for(lambda: queue_state(state)["pending"] == 0, timeout=30)
    got = central.signals("inst-a")
    assert sorted(v for v, _, _ in got) == sorted((ATTACKER,) + OTHERS)          # each exactly once
    assert len(queue_state(state)["sent"]) == 4 and queue_state(state)["counters"]["signals_rejected"] == 1
    run.stop()
    assert central.signals("inst-a") == got
