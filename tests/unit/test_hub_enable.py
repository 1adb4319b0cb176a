"""`ccscli <type> enable|disable` with CrowdSec's semantics, on content installed from the builtin hub (offline):
disabling keeps the file under hub/, enabling restores it, dependents refuse or turn tainted, and what runs
follows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from synsec.cli.ccscli import ccscli
from synsec.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
SSH_BF = "scenarios/ssh-bf.yaml"
KEPT = "hub/scenarios/ssh-bf.yaml"


def cs(*args, code: int = 0):
    res = CliRunner().invoke(ccscli, list(args))
    assert res.exit_code == code, (res.output, res.exception)
    return res


def status(*names: str) -> dict:
    rows = json.loads(cs("hub", "list", "-a", "-o", "json").stdout)
    return {r["name"]: r["status"] for r in rows if r["name"] in names}


def alerted() -> set:
    res = CliRunner().invoke(cli, ["replay", "--type", "syslog", "--no-store", "-o", "json",
                                   str(REPO / "scenarios/samples/auth-demo.log")])
    assert res.exit_code == 0, res.output
    return {a["scenario"] for a in json.loads(res.stdout)["alerts"]}


@pytest.fixture
def config(tmp_path, monkeypatch) -> Path:
    """$SYNSEC_CONFIG_DIR with synsec/linux and synsec/iptables installed from the builtin hub."""
    cfg = tmp_path / "config"
    monkeypatch.setenv("SYNSEC_CONFIG_DIR", str(cfg))
    cs("hub", "update", "--hub-url", "builtin")
    cs("collections", "install", "synsec/linux", "synsec/iptables")
    return cfg


def test_disable_a_needed_item_is_refused_and_forced_taints_its_collection(config):
    """Disabling a scenario a collection needs is refused (exit 1, nothing moved); with --force its file moves
    to hub/, the collection shows tainted, replay stops raising it; enable puts it back unchanged."""
    before = (config / SSH_BF).read_bytes()
    res = cs("scenarios", "disable", "synsec/ssh-bf", code=1)
    assert "needed by collections synsec/sshd" in res.output and (config / SSH_BF).is_file()
    cs("scenarios", "disable", "--force", "synsec/ssh-bf")
    assert not (config / SSH_BF).exists() and (config / KEPT).read_bytes() == before
    assert status("synsec/ssh-bf", "synsec/sshd", "synsec/linux") == {
        "synsec/ssh-bf": "disabled", "synsec/sshd": "tainted", "synsec/linux": "tainted"}
    found = alerted()
    assert "synsec/ssh-bf" not in found and "synsec/ssh-slow-bf" in found
    assert "enabled scenarios synsec/ssh-bf" in cs("scenarios", "enable", "synsec/ssh-bf").output
    assert (config / SSH_BF).read_bytes() == before and not (config / KEPT).exists()
    assert set(status("synsec/ssh-bf", "synsec/sshd", "synsec/linux").values()) == {"installed"}
    assert "synsec/ssh-bf" in alerted()


def test_disable_a_collection_takes_what_only_it_needs(config):
    """Disabling synsec/linux disables sshd and its items but keeps synsec/base, which synsec/iptables needs;
    enabling the collection restores all of them."""
    out = cs("collections", "disable", "synsec/linux").output
    assert "disabled scenarios synsec/ssh-bf" in out and "synsec/base" not in out
    assert status("synsec/linux", "synsec/sshd", "synsec/sshd-logs", "synsec/base", "synsec/iptables") == {
        "synsec/linux": "disabled", "synsec/sshd": "disabled", "synsec/sshd-logs": "disabled",
        "synsec/base": "installed", "synsec/iptables": "installed"}
    assert (config / "hub/parsers/s01-parse/sshd-logs.yaml").is_file()
    assert alerted() == {"synsec/iptables-port-scan"}
    rows = json.loads(cs("collections", "list", "-o", "json").stdout)       # disabled ones are listed
    assert {r["name"]: r["status"] for r in rows}["synsec/linux"] == "disabled"
    cs("collections", "enable", "synsec/linux")
    assert {"synsec/ssh-bf", "synsec/iptables-port-scan"} <= alerted()


def test_disabled_items_through_install_upgrade_and_remove(config):
    """install of a disabled item enables its kept file; upgrade leaves disabled items disabled; remove of a
    disabled item deletes its kept file; enable of an item never installed is refused and changes nothing."""
    cs("scenarios", "disable", "--force", "synsec/ssh-bf")
    (config / KEPT).write_text((config / KEPT).read_text() + "# my edit\n")
    res = cs("scenarios", "install", "synsec/ssh-bf", code=1)                     # an edited kept file is kept
    assert "tainted" in res.output and not (config / SSH_BF).exists()
    assert "kept scenarios synsec/ssh-bf disabled" in cs("hub", "upgrade").output
    assert not (config / SSH_BF).exists()
    assert "removed scenarios synsec/ssh-bf (disabled)" in cs("scenarios", "remove", "synsec/ssh-bf").output
    assert not (config / KEPT).exists() and status("synsec/ssh-bf") == {"synsec/ssh-bf": "available"}
    cs("scenarios", "disable", "--force", "synsec/ssh-slow-bf")
    assert "enabled scenarios synsec/ssh-slow-bf" in cs("scenarios", "install", "synsec/ssh-slow-bf").output
    res = cs("collections", "enable", "synsec/sshd", code=1)                   # ssh-bf was removed: not kept
    assert "scenarios synsec/ssh-bf is not installed" in res.output and not (config / SSH_BF).exists()


def test_everything_disabled_runs_nothing(config):
    """A config dir whose items are all disabled is still the config dir: nothing runs (no fallback to synsec's
    own content)."""
    cs("collections", "disable", "synsec/linux", "synsec/iptables")
    res = CliRunner().invoke(cli, ["replay", "--type", "syslog", "--no-store", "-o", "json",
                                   str(REPO / "scenarios/samples/auth-demo.log")])
    assert res.exit_code == 0 and json.loads(res.stdout)["alerts"] == []
    assert f"content: {config} (config directory)" in res.stderr
