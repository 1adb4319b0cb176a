"""From a fresh host to the first bans, as the README's quick start does it: `synsec setup --unattended` on a
Debian-like root (sshd, nginx) against a local hub mirror that also serves the hub's data files, `ccscli
collections list`, `synsec run` with the written acquisition, an nginx attack appended to a file source and an
sshd brute force sent to the syslog listener by `logger`, and both bans on the bouncer API stream of `synsec api`
with the key setup printed. Every process is started here and stopped by its PID."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from synsec.cli.ccscli import ccscli
from synsec.cli.main import cli
from tests.hubutil import require_hub
from tests.integration.test_api_http import http, running_api
from tests.integration.test_run_live import Run, append, proc_guard, wait_for  # noqa: F401 (fixture)
from tests.integration.test_run_syslog import free_port, logger
from tests.setuphosts import debian_host

pytestmark = [pytest.mark.integration]

SEC_LISTS = "raw.githubusercontent.com/crowdsecurity/sec-lists/master/web"


def mirror_data(mirror: Path, host_root: Path) -> None:
    """The mirror's data/ in `wget -x` layout (<host>/<path> of each source_url), from Debian's data files;
    path_traversal.txt is left out of it and found on the host instead, in CrowdSec's data dir under Debian's
    name (the hub's dest_file is http_path_traversal.txt)."""
    debian = require_hub()["CROWDSEC_DATA"]
    web = mirror / "data" / SEC_LISTS
    web.mkdir(parents=True)
    for name in ("bad_user_agents.regex.txt", "sensitive_data.txt", "sqli_probe_patterns.txt",
                 "xss_probe_patterns.txt", "backdoors.txt", "thinkphp_cve_2018-20062.txt",
                 "log4j2_cve_2021_44228.txt", "jira_cve_2021-26086.txt"):
        shutil.copy(debian / name, web / name)
    (host_root / "usr/share/crowdsec/data").mkdir(parents=True)
    shutil.copy(debian / "path_traversal.txt", host_root / "usr/share/crowdsec/data/path_traversal.txt")


def point_at(acquis: Path, logs: Path) -> dict:
    """Rewrite only the file paths of the written acquis.yaml, to files below `logs` (the fake root's paths
    do not exist on this machine); the listener's address and port are setup's own. Returns {path: new path}."""
    docs = list(yaml.safe_load_all(acquis.read_text()))
    moved = {}
    for doc in docs:
        if doc.get("source") == "file":
            doc["filenames"] = [moved.setdefault(p, str(logs / Path(p).name)) for p in doc["filenames"]]
    acquis.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    logs.mkdir()
    for path in moved.values():
        Path(path).touch()
    return moved


def test_setup_run_and_first_bans(tmp_path, remote, proc_guard):
    """setup installs sshd and nginx with every data file (8 from the mirror, 1 copied from the host) and writes
    the acquisition with a syslog listener; run bans an nginx sensitive-files scan read from the file source and
    an sshd brute force received by the listener; a bouncer with setup's key gets both on the stream."""
    if shutil.which("logger") is None:
        pytest.fail("needs util-linux logger (bsdutils)")
    mirror, hub_url = remote
    root = debian_host(tmp_path / "root")
    mirror_data(mirror, root)
    config, state, port = tmp_path / "etc-synsec", tmp_path / "state", free_port()
    res = CliRunner().invoke(cli, ["setup", "--unattended", "--root", str(root), "--hub-url", hub_url,
                                   "--syslog-listen", f"127.0.0.1:{port}", "--config-dir", str(config),
                                   "--state-dir", str(state)])
    assert res.exit_code == 0, res.output
    assert "error:" not in res.output and res.output.count("data file ") == 9, res.output
    assert "data file http_path_traversal.txt copied from " + str(root / "usr/share/crowdsec/data/path_traversal.txt") \
        in res.output
    key = res.output.split("api_key: ")[1].split()[0]

    listed = CliRunner().invoke(ccscli, ["--config-dir", str(config), "collections", "list", "-o", "json"])
    assert listed.exit_code == 0, listed.output
    status = {r["name"]: r["status"] for r in json.loads(listed.stdout)}
    assert status["crowdsecurity/sshd"] == status["crowdsecurity/nginx"] == "installed"

    acquis = config / "acquis.yaml"
    moved = point_at(acquis, tmp_path / "logs")
    run = Run(state, "--acquis", str(acquis), "--config-dir", str(config))
    proc_guard.append(run)
    assert "not loaded" not in "".join(run.err)            # every installed item loads: no data file is missing
    assert f"syslog on udp://127.0.0.1:{port} tcp://127.0.0.1:{port}" in "".join(run.err)

    stamp = datetime.now(timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000")
    append(Path(moved["/srv/logs/nginx/access.log"]), "".join(
        f'198.51.100.20 - - [{stamp}] "GET /backup{path} HTTP/1.1" 404 153 "-" "Mozilla/5.0"\n'
        for path in (".sql", ".sql.gz", ".bak", "/.env", "/.git/config", "/.htpasswd")))
    for i in range(6):
        logger(port, "--tcp", "--rfc3164", message=f"Failed password for root from 198.51.100.30 port {40000 + i} ssh2")

    def banned() -> dict:
        return {o["decision"]["value"]: o["decision"]["scenario"] for o in run.objects() if "decision" in o}

    try:
        wait_for(lambda: {"198.51.100.20", "198.51.100.30"} <= set(banned()))
    except AssertionError:
        raise AssertionError(f"bans {banned()}; stderr: {''.join(run.err)[-3000:]}") from None
    assert banned()["198.51.100.30"] == "crowdsecurity/ssh-bf"
    assert banned()["198.51.100.20"] == "crowdsecurity/http-sensitive-files"   # reads sensitive_data.txt
    with running_api(state) as url:
        code, body = http(f"{url}/v1/decisions/stream?startup=true", key)
    assert code == 200
    new = {(d["value"], d["type"]) for d in json.loads(body)["new"]}
    assert {("198.51.100.20", "ban"), ("198.51.100.30", "ban")} <= new
    assert run.stop()["decisions"] >= 2
