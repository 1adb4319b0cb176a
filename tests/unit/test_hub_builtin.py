"""synsec's own content as a hub (`--hub-url builtin`): an index made from scenarios/, collections that cover it,
an offline install that runs as synsec's own content does, and versions kept across a synsec upgrade."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from synsec.cli.ccscli import ccscli
from synsec.cli.main import cli
from synsec.hub.builtin import builtin_index
from synsec.hub.index import TYPES, parse_index
from synsec.hub.install import install, states, upgrade
from synsec.hub.resolve import closure

REPO = Path(__file__).resolve().parents[2]
OWN = REPO / "scenarios"


def cs(*args, code: int = 0):
    res = CliRunner().invoke(ccscli, list(args))
    assert res.exit_code == code, (res.output, res.exception)
    return res


def test_builtin_index_holds_every_shipped_file_and_collections_cover_them():
    """Every shipped parser, postoverflow and scenario file is an item named by its YAML name; every collection's
    dependencies exist; every item belongs to some collection."""
    index = parse_index(builtin_index("0.1.0"))
    files = {f"{t}/{p.relative_to(OWN / t).as_posix()}" for t in ("parsers", "postoverflows") for p in
             (OWN / t).glob("*/*.yaml")} | {f"scenarios/{p.name}" for p in (OWN / "scenarios").glob("*.yaml")}
    assert {i.path for i in index.items.values() if i.type != "collections"} == files
    assert index.get("parsers", "synsec/sshd-logs").stage == "s01-parse"
    covered = set()
    for item in index.of_type("collections"):
        covered |= set(closure(index, [item.key]))          # HubError on a dependency the index lacks
    assert covered == set(index.items), set(index.items) - covered
    assert {t for t in TYPES if index.of_type(t)} == set(TYPES)


@pytest.fixture
def config(tmp_path, monkeypatch) -> Path:
    """$SYNSEC_CONFIG_DIR with synsec/linux installed from the builtin hub."""
    cfg = tmp_path / "config"
    monkeypatch.setenv("SYNSEC_CONFIG_DIR", str(cfg))
    monkeypatch.delenv("SYNSEC_HUB_URL", raising=False)
    assert "from builtin" in cs("hub", "update", "--hub-url", "builtin").output
    out = cs("collections", "install", "synsec/linux").output
    assert "installed parsers synsec/sshd-logs" in out and "profiles.yaml" in out
    return cfg


def replay(*flags: str) -> dict:
    res = CliRunner().invoke(cli, ["replay", "--type", "syslog", "--no-store", "-o", "json", *flags,
                                   str(OWN / "samples" / "auth-demo.log")])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_install_from_builtin_runs_as_synsec_own_content(config):
    """`collections install synsec/linux` offline lays out synsec's ssh content in the config dir (with
    profiles.yaml); replay reads it by default and finds the ssh alerts and decisions synsec's own content finds
    (and only those: no iptables scenario is installed)."""
    assert (config / "parsers/s01-parse/sshd-logs.yaml").read_bytes() == \
        (OWN / "parsers/s01-parse/sshd-logs.yaml").read_bytes()
    assert not (config / "scenarios/http-probing.yaml").exists()
    rows = {r["name"]: r["status"] for r in json.loads(cs("collections", "list", "-o", "json").stdout)}
    assert rows == {"synsec/base": "installed", "synsec/linux": "installed", "synsec/sshd": "installed"}
    installed, own = replay(), replay("--config-dir", str(OWN))

    def ssh(result: dict, kind: str) -> list:
        return [(x["scenario"], x.get("value") or x["source"]["value"]) for x in result[kind]
                if x["scenario"].startswith("synsec/ssh")]

    assert ssh(installed, "alerts") == ssh(own, "alerts") == [(a["scenario"], a["source"]["value"])
                                                              for a in installed["alerts"]]
    assert ssh(installed, "decisions") == ssh(own, "decisions") and installed["decisions"]


def test_builtin_data_files_are_copied(tmp_path, monkeypatch):
    """Installing a builtin scenario copies the data files it reads from synsec's data/ (they have no
    source_url), so the config dir loads on its own."""
    cfg = tmp_path / "config"
    monkeypatch.setenv("SYNSEC_CONFIG_DIR", str(cfg))
    cs("hub", "update", "--hub-url", "builtin")
    assert "data file synsec_sqli_probes.txt downloaded" in cs("collections", "install", "synsec/nginx").output
    assert (cfg / "data/synsec_sqli_probes.txt").read_bytes() == (OWN / "data/synsec_sqli_probes.txt").read_bytes()
    res = cs("lint", "-o", "json")
    assert json.loads(res.stdout)["errors"] == [] and f"content: {cfg} (config directory)" in res.stderr


def test_a_newer_synsec_keeps_installed_files_as_older_versions(tmp_path):
    """After a synsec upgrade that changed a scenario, the file installed from the older synsec is an older
    version (update-available), not a local edit, and upgrade replaces it."""
    old_root = tmp_path / "old"
    shutil.copytree(OWN, old_root, ignore=shutil.ignore_patterns("samples", "patterns"))
    cfg = tmp_path / "config"
    old = builtin_index("0.1.0", root=old_root)
    (old_root / "scenarios/ssh-bf.yaml").write_text((OWN / "scenarios/ssh-bf.yaml").read_text() + "# 0.2\n")
    new = parse_index(builtin_index("0.2.0", previous=old, root=old_root))
    (cfg / "scenarios").mkdir(parents=True)
    shutil.copy(OWN / "scenarios/ssh-bf.yaml", cfg / "scenarios/ssh-bf.yaml")      # installed from 0.1.0
    state = states(cfg, new)[("scenarios", "synsec/ssh-bf")]
    assert state.status == "update-available" and state.version.startswith("0.1.0+")
    assert new.get("scenarios", "synsec/ssh-bf").version.startswith("0.2.0+")
    assert install(cfg, new, [("scenarios", "synsec/ssh-bf")], str(old_root)).done == []   # installed already
    outcome = upgrade(cfg, new, [("scenarios", "synsec/ssh-bf")], str(old_root))
    assert outcome.refused == [] and (cfg / "scenarios/ssh-bf.yaml").read_text().endswith("# 0.2\n")


def test_parsers_and_scenarios_list_show_hub_status(config):
    """`ccscli scenarios|parsers list` show what is loaded with its hub status: installed, tainted (edited) or
    local (a file no hub item installed); a content dir without a hub index shows none."""
    (config / "scenarios/ssh-bf.yaml").write_text((config / "scenarios/ssh-bf.yaml").read_text() + "# edit\n")
    (config / "scenarios/mine.yaml").write_text((OWN / "scenarios/ssh-slow-bf.yaml").read_text().replace(
        "name: synsec/ssh-slow-bf", "name: me/mine"))
    rows = {r["name"]: (r["status"], r["version"]) for r in json.loads(cs("scenarios", "list", "-o", "json").stdout)}
    assert rows["synsec/ssh-bf"] == ("tainted", None) and rows["me/mine"] == ("local", None)
    assert rows["synsec/ssh-user-enum"][0] == "installed" and rows["synsec/ssh-user-enum"][1].startswith("0.1")
    parsers = json.loads(cs("parsers", "list", "-o", "json").stdout)
    assert {r["status"] for r in parsers} == {"installed"} and len(parsers) == 5     # syslog-logs holds 2
    own = json.loads(cs("--config-dir", str(OWN), "scenarios", "list", "-o", "json").stdout)
    assert {r["status"] for r in own} == {""}
