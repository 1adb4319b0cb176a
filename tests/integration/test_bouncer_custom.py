"""The custom-script bouncer fed by a real broker: a shell script receives crowdsec-custom-bouncer's
`add|del IP DURATION REASON JSON` arguments for bans, tombstones and expiries; a failing script is counted."""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import pytest

from connectors.kafka.follower import DecisionFollower
from connectors.bouncers.custom import CustomBouncer
from tests.integration.test_bouncer_nginx import TOPIC, wait_until
from tests.integration.test_bouncer_nginx import topic  # noqa: F401  (the module-scoped broker fixture)

pytestmark = pytest.mark.integration


def script(tmp: Path, body: str = "") -> tuple[Path, Path]:
    out = tmp / "calls.tsv"
    path = tmp / "bouncer.sh"
    path.write_text(f'#!/bin/sh\n{body}\nprintf "%s\\t%s\\t%s\\t%s\\t%s\\n" "$1" "$2" "$3" "$4" "$5" >> {out}\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path, out


def calls(out: Path) -> list[list[str]]:
    return [ln.split("\t") for ln in out.read_text().splitlines()] if out.exists() else []


def run_bouncer(topic, bouncer):
    stop = threading.Event()
    follower = DecisionFollower(topic.consumer_kwargs, TOPIC, poll_timeout_ms=50)
    bouncer.attach(follower)
    return stop, follower.start(stop)


def test_script_gets_add_and_del(topic, tmp_path):
    """A ban runs `add IP SECONDS SCENARIO JSON`; its tombstone runs `del` with the same JSON decision."""
    path, out = script(tmp_path)
    bouncer = CustomBouncer(str(path))
    stop, thread = run_bouncer(topic, bouncer)
    try:
        topic.ban("192.0.2.44", seconds=600, scenario="crowdsecurity/ssh-bf")
        topic.ban("2001:db8:44::/48", scope="Range", scenario="manual range")
        got, _ = wait_until(lambda: len(calls(out)) >= 2 and calls(out), "two add calls")
        adds = {c[1]: c for c in got if c[0] == "add"}
        assert set(adds) == {"192.0.2.44", "2001:db8:44::/48"}
        action, ip, seconds, reason, body = adds["192.0.2.44"]
        assert 590 <= int(seconds) <= 600 and reason == "crowdsecurity/ssh-bf"
        d = json.loads(body)
        assert d["scope"] == "Ip" and d["value"] == "192.0.2.44" and d["type"] == "ban"
        assert d["duration"] in ("10m0s", "9m59s", "9m58s") and isinstance(d["id"], int)
        assert json.loads(adds["2001:db8:44::/48"][4])["scope"] == "Range"
        topic.tombstone("192.0.2.44")
        wait_until(lambda: any(c[0] == "del" and c[1] == "192.0.2.44" for c in calls(out)), "the del call")
        assert bouncer.stats["failed"] == 0
    finally:
        stop.set()
        thread.join(timeout=5)


def test_expiry_runs_del(topic, tmp_path):
    """A decision whose time runs out (no tombstone) gets its `del` call with duration 0."""
    path, out = script(tmp_path)
    bouncer = CustomBouncer(str(path))
    stop, thread = run_bouncer(topic, bouncer)
    try:
        topic.ban("198.51.100.44", seconds=1.2)
        got, _ = wait_until(lambda: [c for c in calls(out) if c[0] == "del" and c[1] == "198.51.100.44"],
                            "the expiry's del call", timeout=5)
        assert got[0][2] == "0"
    finally:
        stop.set()
        thread.join(timeout=5)


def test_failing_script_is_counted_and_bouncer_goes_on(topic, tmp_path):
    """A script exiting non-zero is counted as failed; later decisions still reach it."""
    path, out = script(tmp_path, body='[ "$2" = "192.0.2.66" ] && exit 3')
    bouncer = CustomBouncer(str(path), types=["ban"])
    stop, thread = run_bouncer(topic, bouncer)
    try:
        topic.ban("192.0.2.66")
        topic.ban("192.0.2.67")
        wait_until(lambda: any(c[1] == "192.0.2.67" for c in calls(out)), "the call after the failure")
        assert bouncer.stats["failed"] >= 1
        assert not any(c[1] == "192.0.2.66" for c in calls(out))
    finally:
        stop.set()
        thread.join(timeout=5)
