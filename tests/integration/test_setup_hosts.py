"""`synsec setup --root` on fake host trees (Debian-like, journald-only, container-like) against the local hub
server: what is detected, the acquis.yaml written (loaded by synsec run's loader), the collections installed, the
bouncer key, idempotence, --dry-run writing nothing, --force and .bak, the systemd units, and setup then
`synsec run` to a ban."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from synsec.cli.main import cli
from synsec.hub.install import load_index, states
from synsec.runner.acquis import load_acquis
from synsec.store import Store
from tests.hubutil import REPO, require_hub
from tests.integration.test_run_live import Run, append, proc_guard, wait_for  # noqa: F401 (fixture)
from tests.setuphosts import container_host, debian_host, ftp_host, journald_host, tree_digest


def setup(root: Path, tmp: Path, *args, code: int = 0, input: str | None = None, local_data: bool = True):
    """`synsec setup --root ROOT` into tmp/config and tmp/state; the hub's data files copied from Debian's
    CrowdSec data dir unless `local_data` is False."""
    data = ["--local-data", str(require_hub()["CROWDSEC_DATA"])] if local_data and "--dry-run" not in args else []
    res = CliRunner().invoke(cli, ["setup", "--root", str(root), "--config-dir", str(tmp / "config"),
                                   "--state-dir", str(tmp / "state"), *args, *data], input=input)
    assert res.exit_code == code, (res.output, res.exception)
    return res


def plan_of(root: Path, tmp: Path) -> dict:
    return json.loads(setup(root, tmp, "--dry-run", "-o", "json").stdout)


def installed(config: Path) -> set:
    return {name for (t, name), s in states(config, load_index(config)).items() if t == "collections" and s.installed}


def documents(config: Path) -> list[dict]:
    return list(yaml.safe_load_all((config / "acquis.yaml").read_text()))


def run_twice_unchanged(root: Path, tmp: Path, url: str, **kw) -> None:
    """A second unattended run changes no file and creates no second key."""
    before = tree_digest(tmp / "config", root)
    res = setup(root, tmp, "--unattended", "--hub-url", url, **kw)
    assert tree_digest(tmp / "config", root) == before
    assert "unchanged" in res.output and "already created" in res.output
    store = Store(tmp / "state")
    assert [b.name for b in store.bouncers()] == ["local-bouncer"]
    store.close()


def test_debian_host(tmp_path, remote_hub):
    """sshd and nginx running: syslog and auth.log files, nginx's paths from nginx.conf and its included site;
    the collections installed from the hub, a key printed once, and a second run changes nothing."""
    root = debian_host(tmp_path / "root")
    plan = plan_of(root, tmp_path)
    assert [s["name"] for s in plan["services"]] == ["linux", "sshd", "nginx"]
    assert all(s["running"] for s in plan["services"][1:])
    assert plan["collections"] == ["crowdsecurity/linux", "crowdsecurity/sshd", "crowdsecurity/nginx"]
    assert not (tmp_path / "config").exists() and not (tmp_path / "state").exists()
    res = setup(root, tmp_path, "--unattended", "--hub-url", remote_hub, local_data=False, code=1)
    config = tmp_path / "config"
    sources = load_acquis(config / "acquis.yaml")
    assert [(s.globs, s.labels["type"]) for s in sources] == [
        (("/var/log/syslog",), "syslog"), (("/var/log/auth.log",), "syslog"),
        (("/srv/logs/nginx/access.log", "/srv/logs/nginx/error.log", "/srv/logs/nginx/site.access.log"), "nginx")]
    assert {"crowdsecurity/linux", "crowdsecurity/sshd", "crowdsecurity/nginx",
            "crowdsecurity/base-http-scenarios"} <= installed(config)
    assert (config / "parsers/s01-parse/nginx-logs.yaml").is_file() and (config / "profiles.yaml").is_file()
    key = res.output.split("api_key: ")[1].split()[0]
    store = Store(tmp_path / "state")
    assert store.authenticate(key).name == "local-bouncer"
    store.close()
    assert f"synsec run --acquis {config}/acquis.yaml --config-dir {config}" in res.output
    # no CrowdSec data dir on this host and none of the hub's sec-lists below the hub URL: one error per item
    lacking = [line for line in res.output.splitlines() if line.startswith("error: ")]
    assert len(lacking) == 9 and "error: scenarios crowdsecurity/http-sensitive-files lacks data: sensitive_data.txt " \
        "from https://raw.githubusercontent.com/crowdsecurity/sec-lists/master/web/sensitive_data.txt" in res.output
    assert "First: 9 item(s) above lack data files" in res.output
    run_twice_unchanged(root, tmp_path, remote_hub, local_data=False, code=1)


def test_journald_host(tmp_path, remote_hub):
    """No /var/log/auth.log but a journal: sshd, postfix and dovecot read through journalctl filters on their
    units; the OS entry gets no source (its syslog files do not exist)."""
    root = journald_host(tmp_path / "root")
    plan = plan_of(root, tmp_path)
    assert [s["name"] for s in plan["services"]] == ["linux", "sshd", "postfix", "dovecot"]
    assert any("linux: none of /var/log/syslog" in n for n in plan["notes"])
    setup(root, tmp_path, "--unattended", "--hub-url", remote_hub)
    config = tmp_path / "config"
    assert documents(config) == [
        {"source": "journalctl", "journalctl_filter": ["_SYSTEMD_UNIT=ssh.service"], "labels": {"type": "syslog"}},
        {"source": "journalctl", "journalctl_filter": ["_SYSTEMD_UNIT=postfix@-.service"],
         "labels": {"type": "syslog"}},
        {"source": "journalctl", "journalctl_filter": ["_SYSTEMD_UNIT=dovecot.service"],
         "labels": {"type": "syslog"}}]
    assert [s.filters for s in load_acquis(config / "acquis.yaml")] == [
        ("_SYSTEMD_UNIT=ssh.service",), ("_SYSTEMD_UNIT=postfix@-.service",), ("_SYSTEMD_UNIT=dovecot.service",)]
    assert {"crowdsecurity/postfix", "crowdsecurity/dovecot", "crowdsecurity/sshd"} <= installed(config)
    res = CliRunner().invoke(cli, ["replay", "--config-dir", str(config), "--type", "syslog", "--no-store", "-o",
                                   "json", str(REPO / "scenarios/samples/auth-demo.log")])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)            # the installed content and the profiles.yaml setup wrote decide
    assert "crowdsecurity/ssh-bf" in {a["scenario"] for a in out["alerts"]} and out["decisions"]
    run_twice_unchanged(root, tmp_path, remote_hub)


def test_container_host(tmp_path, remote_hub):
    """No systemd, no journal, nothing running, nginx logs linked to /dev/stdout: nginx found by its binary and
    config, its unusable paths noted and CrowdSec's default watched; the ssh client is not sshd."""
    root = container_host(tmp_path / "root")
    plan = plan_of(root, tmp_path)
    assert [(s["name"], s["running"]) for s in plan["services"]] == [("linux", False), ("nginx", False)]
    assert any("/dev/stdout: not a log file" in n for n in plan["notes"])
    setup(root, tmp_path, "--unattended", "--hub-url", remote_hub)
    config = tmp_path / "config"
    assert [(s.globs, s.labels) for s in load_acquis(config / "acquis.yaml")] == [
        (("/var/log/nginx/*.log",), {"type": "nginx"})]
    assert installed(config) >= {"crowdsecurity/linux", "crowdsecurity/nginx"}
    assert "crowdsecurity/sshd" in installed(config)          # brought by crowdsecurity/linux, not detected
    run_twice_unchanged(root, tmp_path, remote_hub)


def test_dry_run_writes_nothing(tmp_path):
    """--dry-run prints the plan and creates no config dir, store, acquis file or unit (no hub needed)."""
    root = debian_host(tmp_path / "root")
    before = tree_digest(tmp_path)
    res = setup(root, tmp_path, "--dry-run", "--systemd")
    assert "dry run: nothing changed" in res.output and "synsec-run.service" in res.output
    assert tree_digest(tmp_path) == before


def test_interactive_declines_a_collection(tmp_path, remote_hub):
    """Asked per collection, declining nginx drops its collection and its acquisition document; declining all
    changes nothing."""
    root = debian_host(tmp_path / "root")
    setup(root, tmp_path, "--hub-url", remote_hub, input="y\ny\nn\n")
    config = tmp_path / "config"
    assert [d["labels"]["type"] for d in documents(config)] == ["syslog", "syslog"]
    assert "crowdsecurity/nginx" not in installed(config)
    other = tmp_path / "other"
    res = setup(root, other, "--hub-url", remote_hub, input="n\nn\nn\n")
    assert "nothing changed" in res.output and not other.exists()          # all declined: no key, no files


def test_existing_acquis_kept_without_force(tmp_path, remote_hub):
    """An acquis.yaml with other content is refused before anything changes; --force replaces it, keeping .bak."""
    root = debian_host(tmp_path / "root")
    config = tmp_path / "config"
    config.mkdir()
    (config / "acquis.yaml").write_text("filenames: [/var/log/mine.log]\nlabels: {type: syslog}\n")
    res = setup(root, tmp_path, "--unattended", "--hub-url", remote_hub, code=1)
    assert "not replaced" in res.output and not (config / "hub").exists() and not (tmp_path / "state").exists()
    setup(root, tmp_path, "--unattended", "--force", "--hub-url", remote_hub)
    assert "mine.log" in (config / "acquis.yaml.bak").read_text()
    assert len(load_acquis(config / "acquis.yaml")) == 3


def test_systemd_units(tmp_path, remote_hub):
    """--systemd writes hardened units for run and api under ROOT/etc/systemd/system, installs into ROOT/etc/synsec
    (named /etc/synsec in the units), puts the key in the units' state dir below the root, and systemd-analyze
    verify accepts the units (when installed)."""
    root = debian_host(tmp_path / "root")
    res = CliRunner().invoke(cli, ["setup", "--root", str(root), "--unattended", "--systemd", "--hub-url",
                                   remote_hub, "--local-data", str(require_hub()["CROWDSEC_DATA"])],
                             env={"SYNSEC_CONFIG_DIR": None, "SYNSEC_STATE_DIR": None})
    assert res.exit_code == 0, res.output
    assert "systemctl enable --now synsec-run.service synsec-api.service" in res.output
    assert (root / "var/lib/synsec/synsec.db").is_file() and len(load_acquis(root / "etc/synsec/acquis.yaml")) == 3
    units = {}
    for name in ("synsec-run.service", "synsec-api.service"):
        text = (root / "etc/systemd/system" / name).read_text()
        units[name] = {k: v for k, _, v in (line.partition("=") for line in text.splitlines() if "=" in line)}
    run = units["synsec-run.service"]
    for key, value in (("DynamicUser", "yes"), ("ProtectSystem", "strict"), ("NoNewPrivileges", "yes"),
                       ("StateDirectory", "synsec"), ("ProtectHome", "yes"), ("CapabilityBoundingSet", "")):
        assert run[key] == value and units["synsec-api.service"][key] == value
    assert run["SupplementaryGroups"] == "adm systemd-journal"
    assert run["ExecStart"].endswith(" run --acquis /etc/synsec/acquis.yaml --config-dir /etc/synsec")
    assert run["Environment"] == "SYNSEC_CONFIG_DIR=/etc/synsec"       # the last Environment= line
    assert "api --listen 127.0.0.1:8080" in units["synsec-api.service"]["ExecStart"]
    if shutil.which("systemd-analyze") is None:           # scripts/apt-packages.txt installs it
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze missing: scripts/test.sh should have installed systemd")
        pytest.skip("systemd-analyze not installed: the units were checked as data only")
    out = subprocess.run(["systemd-analyze", "verify", *(str(root / "etc/systemd/system" / n) for n in units)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "synsec-" not in out.stderr, out.stderr            # no warning about our units


def test_every_detected_collection_is_in_the_hub():
    """Each collection a service entry proposes exists in Debian's CrowdSec 1.4.6 hub index."""
    from synsec.hub.index import parse_index
    from synsec.setup.services import SERVICES

    index = parse_index((require_hub()["CROWDSEC_HUB"] / ".index.json").read_bytes())
    for svc in SERVICES:
        for name in svc.collections:
            assert index.get("collections", name).name == name


def test_setup_then_run_bans(tmp_path, remote_hub, proc_guard):
    """From a fresh host to the first ban: setup installs vsftpd's collection and writes its log path (read from
    vsftpd.conf) into acquis.yaml; `synsec run` on that acquisition turns 6 failed logins into a stored ban."""
    log = tmp_path / "ftp" / "vsftpd.log"
    log.parent.mkdir()
    root = ftp_host(tmp_path / "root", log)
    setup(root, tmp_path, "--unattended", "--hub-url", remote_hub)
    config = tmp_path / "config"
    assert [(s.globs, s.labels["type"]) for s in load_acquis(config / "acquis.yaml")] == [((str(log),), "vsftpd")]
    run = Run(tmp_path / "state", "--acquis", str(config / "acquis.yaml"), "--config-dir", str(config))
    proc_guard.append(run)
    stamp = datetime.now(timezone.utc).strftime("%a %b %e %H:%M:%S %Y")
    append(log, "".join(f'{stamp} [pid {100 + i}] [admin] FAIL LOGIN: Client "::ffff:198.51.100.7"\n'
                        for i in range(6)))
    wait_for(lambda: any("decision" in o for o in run.objects()))
    decision = next(o["decision"] for o in run.objects() if "decision" in o)
    assert (decision["scenario"], decision["value"], decision["type"]) == ("crowdsecurity/vsftpd-bf",
                                                                           "198.51.100.7", "ban")
    assert run.stop()["decisions"] >= 1


def test_dry_run_on_this_machine(tmp_path):
    """On the real root (/proc, /etc, unit dirs as they are here) detection finishes and the plan is JSON whose
    acquisition documents are the ones its services chose."""
    res = CliRunner().invoke(cli, ["setup", "--dry-run", "-o", "json", "--config-dir", str(tmp_path / "c"),
                                   "--state-dir", str(tmp_path / "s")])
    assert res.exit_code == 0, res.output
    plan = json.loads(res.stdout)
    names = [s["name"] for s in plan["services"]]
    assert {a["service"] for a in plan["acquisition"]} <= set(names) and len(set(names)) == len(names)
    assert not (tmp_path / "c").exists() and not (tmp_path / "s").exists()
