"""The hub lifecycle against a local HTTP server serving Debian's CrowdSec 1.4.6 hub (no test touches the internet):
update, install with dependencies, list/inspect, upgrade to a newer index, taint, remove refusals, digest
mismatches, hostile paths, and `synsec replay --config-dir` on what was installed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from synsec.cli.ccscli import ccscli
from synsec.cli.main import cli
from synsec.hub.index import HubError, parse_index
from tests.hubutil import REPO, require_hub


def cs(config: Path, *args, code: int = 0):
    res = CliRunner().invoke(ccscli, ["--config-dir", str(config), *args])
    assert res.exit_code == code, (res.output, res.exception)
    return res


def listed(config: Path, *args) -> dict:
    rows = json.loads(cs(config, "hub", "list", "-o", "json", *args).stdout)
    return {(r["type"], r["name"]): r for r in rows}


def bump(remote_root: Path, type_: str, name: str, text: bytes, version: str = "9.9") -> None:
    """Publish a newer version of one item on the remote: new content, new version and digest in the index."""
    index_path = remote_root / ".index.json"
    index = json.loads(index_path.read_text())
    item = index[type_][name]
    (remote_root / item["path"]).write_bytes(text)
    item["versions"][version] = {"digest": hashlib.sha256(text).hexdigest(), "deprecated": False}
    item["version"] = version
    index_path.write_text(json.dumps(index))


@pytest.fixture
def installed(tmp_path, remote):
    """A config dir with crowdsecurity/nginx, syslog-logs and dateparse-enrich (what crowdsecurity/linux brings)
    installed from the remote."""
    config = tmp_path / "config"
    cs(config, "hub", "update", "--hub-url", remote[1])
    cs(config, "collections", "install", "crowdsecurity/nginx", "--local-data", str(require_hub()["CROWDSEC_DATA"]))
    cs(config, "parsers", "install", "crowdsecurity/syslog-logs", "crowdsecurity/dateparse-enrich")
    return config


def test_install_resolves_dependencies_and_replay_alerts(installed, tmp_path):
    """Installing crowdsecurity/nginx pulls its parsers, scenarios and sub-collections, and replay on the config
    dir finds the demo log's attacks."""
    rows = listed(installed)
    assert rows[("collections", "crowdsecurity/nginx")]["status"] == "installed"
    assert rows[("collections", "crowdsecurity/base-http-scenarios")]["status"] == "installed"
    assert rows[("parsers", "crowdsecurity/nginx-logs")]["local_version"] == "1.3"
    assert (installed / "parsers/s01-parse/nginx-logs.yaml").is_file()
    assert (installed / "scenarios/http-probing.yaml").is_file()
    assert ("scenarios", "crowdsecurity/ssh-bf") not in rows
    assert listed(installed, "-a")[("scenarios", "crowdsecurity/ssh-bf")]["status"] == "available"
    inspect = json.loads(cs(installed, "collections", "inspect", "crowdsecurity/nginx", "-o", "json").stdout)
    assert "parsers crowdsecurity/nginx-logs" in inspect["dependencies"] and inspect["version"] == "0.2"
    # the data files were copied from Debian's data dir (--local-data), one named after its source_url there
    assert (installed / "data/http_path_traversal.txt").read_bytes() == (
        require_hub()["CROWDSEC_DATA"] / "path_traversal.txt").read_bytes()
    res = CliRunner().invoke(cli, ["replay", "--config-dir", str(installed),
                                   "--type", "nginx", "--no-store", "-o", "json",
                                   str(REPO / "scenarios/samples/nginx-demo.log")])
    assert res.exit_code == 0, res.output
    found = {a["scenario"] for a in json.loads(res.stdout)["alerts"]}
    assert {"crowdsecurity/http-probing", "crowdsecurity/http-crawl-non_statics"} <= found, found


def test_upgrade_to_newer_index(installed, remote):
    """A newer index on the remote shows as update-available after `hub update` and `upgrade` installs it."""
    new = (remote[0] / "scenarios/crowdsecurity/http-probing.yaml").read_bytes() + b"# 9.9\n"
    bump(remote[0], "scenarios", "crowdsecurity/http-probing", new)
    cs(installed, "hub", "update")
    assert listed(installed)[("scenarios", "crowdsecurity/http-probing")]["status"] == "update-available"
    cs(installed, "hub", "upgrade")
    assert (installed / "scenarios/http-probing.yaml").read_bytes() == new
    assert listed(installed)[("scenarios", "crowdsecurity/http-probing")]["local_version"] == "9.9"


def test_tainted_item_is_reported_and_kept(installed, remote):
    """A locally edited item is tainted (and so is the collection holding it); upgrade refuses it without
    --force and overwrites it with --force."""
    local = installed / "scenarios/http-probing.yaml"
    local.write_bytes(local.read_bytes() + b"# my edit\n")
    rows = listed(installed)
    assert rows[("scenarios", "crowdsecurity/http-probing")]["status"] == "tainted"
    assert rows[("collections", "crowdsecurity/base-http-scenarios")]["status"] == "tainted"
    new = (remote[0] / "scenarios/crowdsecurity/http-probing.yaml").read_bytes() + b"# 9.9\n"
    bump(remote[0], "scenarios", "crowdsecurity/http-probing", new)
    cs(installed, "hub", "update")
    res = cs(installed, "scenarios", "upgrade", "crowdsecurity/http-probing", code=1)
    assert "tainted" in res.output and local.read_bytes().endswith(b"# my edit\n")
    cs(installed, "scenarios", "upgrade", "--force", "crowdsecurity/http-probing")
    assert local.read_bytes() == new


def test_remove_refused_when_another_item_needs_it(installed):
    """Removing a parser a collection needs is refused unless --force; removing the collection takes its own
    dependencies with it."""
    parser = installed / "parsers/s01-parse/nginx-logs.yaml"
    res = cs(installed, "parsers", "remove", "crowdsecurity/nginx-logs", code=1)
    assert "needed by collections crowdsecurity/nginx" in res.output and parser.is_file()
    cs(installed, "collections", "remove", "crowdsecurity/nginx")
    rows = listed(installed)
    assert ("parsers", "crowdsecurity/nginx-logs") not in rows and not parser.exists()
    assert ("collections", "crowdsecurity/base-http-scenarios") not in rows
    assert ("parsers", "crowdsecurity/dateparse-enrich") in rows       # installed on its own


def test_digest_mismatch_installs_nothing(tmp_path, remote):
    """A served file whose sha256 is not the index's is an error and nothing of the install is written."""
    (remote[0] / "scenarios/crowdsecurity/http-probing.yaml").write_bytes(b"type: trigger\n")
    config = tmp_path / "config"
    cs(config, "hub", "update", "--hub-url", remote[1])
    res = cs(config, "collections", "install", "crowdsecurity/nginx", code=1)
    assert "sha256" in res.output
    assert not (config / "parsers").exists() and not (config / "scenarios").exists()


@pytest.mark.parametrize("field,value", [
    ("path", "scenarios/../../../evil.yaml"), ("path", "/tmp/evil.yaml"), ("path", "parsers/s01-parse/x.yaml"),
    ("name", "../evil"), ("name", "crowdsecurity/.."), ("stage", "../.."), ("digest", "00"),
])
def test_hostile_index_is_refused(field, value):
    """An index whose item path, name or stage could leave the config dir (or lacks a digest) is refused whole."""
    item = {"path": "scenarios/a/b.yaml", "version": "0.1",
            "versions": {"0.1": {"digest": "0" * 64}}}
    name = "a/b"
    if field == "name":
        name = value
    elif field == "digest":
        item["versions"]["0.1"]["digest"] = value
    elif field == "stage":
        item["stage"] = value
    else:
        item[field] = value
    with pytest.raises(HubError):
        parse_index(json.dumps({"scenarios": {name: item}}).encode())


def test_path_traversal_from_the_remote_writes_nothing_outside(tmp_path, remote):
    """A remote index with a `../` item is refused by `hub update`, and a config subdirectory that is a symlink
    pointing outside is never written through."""
    index_path = remote[0] / ".index.json"
    good = index_path.read_text()
    index = json.loads(good)
    index["scenarios"]["evil/x"] = {"path": "scenarios/../../../../escaped.yaml", "version": "0.1",
                                    "versions": {"0.1": {"digest": "0" * 64}}}
    index_path.write_text(json.dumps(index))
    config = tmp_path / "config"
    res = cs(config, "hub", "update", "--hub-url", remote[1], code=1)
    assert "unsafe" in res.output and not (config / "hub/.index.json").exists()
    index_path.write_text(good)
    cs(config, "hub", "update", "--hub-url", remote[1])
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, config / "scenarios")
    res = cs(config, "scenarios", "install", "crowdsecurity/http-probing", code=1)
    assert "not a real directory" in res.output and list(outside.iterdir()) == []
    assert not list(tmp_path.rglob("escaped.yaml"))


def test_remove_through_a_symlinked_config_dir_deletes_nothing_outside(installed, tmp_path):
    """Regression: `remove` never unlinks a file outside the config dir reached through a symlinked scenarios/."""
    outside = tmp_path / "outside"
    (installed / "scenarios").rename(outside)
    os.symlink(outside, installed / "scenarios")
    res = cs(installed, "scenarios", "remove", "--force", "crowdsecurity/http-probing", code=1)
    assert "not a real directory" in res.output and (outside / "http-probing.yaml").is_file()


def test_update_from_directory_and_file_url(tmp_path):
    """`hub update` reads a local directory or a file:// URL (Debian's hub works offline)."""
    hub = require_hub()["CROWDSEC_HUB"]
    for n, url in enumerate((str(hub), hub.as_uri())):
        config = tmp_path / f"c{n}"
        cs(config, "hub", "update", "--hub-url", url)
        cs(config, "scenarios", "install", "crowdsecurity/ssh-bf")
        assert listed(config)[("scenarios", "crowdsecurity/ssh-bf")]["status"] == "installed"


def test_data_files_below_the_hub_url_are_downloaded(tmp_path, remote):
    """A `data:` file whose source_url is below the hub URL lands in <config>/data; one elsewhere is reported
    and not fetched unless its prefix is allowed with --data-url; an unsafe dest_file refuses the install."""
    root, url = remote
    (root / "data").mkdir()
    (root / "data/mine.txt").write_bytes(b"/etc/passwd\n")
    scenario = (root / "scenarios/crowdsecurity/ssh-bf.yaml").read_text()
    with_data = (f"data:\n  - source_url: {url}/data/mine.txt\n    dest_file: mine.txt\n    type: string\n"
                 "  - source_url: http://127.0.0.1:9/other.txt\n    dest_file: other.txt\n    type: string\n")
    bump(root, "scenarios", "crowdsecurity/ssh-bf", (with_data + scenario.split("---")[0]).encode())
    config = tmp_path / "config"
    cs(config, "hub", "update", "--hub-url", url)
    res = cs(config, "scenarios", "install", "crowdsecurity/ssh-bf", code=1)
    assert (config / "data/mine.txt").read_bytes() == b"/etc/passwd\n"
    assert "error: scenarios crowdsecurity/ssh-bf lacks data: other.txt from http://127.0.0.1:9/other.txt" \
        in res.output
    assert not (config / "data/other.txt").exists()
    bump(root, "scenarios", "crowdsecurity/ssh-bf",
         with_data.replace("dest_file: mine.txt", "dest_file: ../../escaped.txt").encode(), "9.10")
    cs(config, "hub", "update")
    res = cs(config, "scenarios", "upgrade", "crowdsecurity/ssh-bf", code=1)
    assert "unsafe name" in res.output and not list(tmp_path.rglob("escaped.txt"))


def test_data_files_from_the_mirror_refetched_by_upgrade(tmp_path, remote):
    """A source_url outside the hub is served by the hub mirror's data/<host>/<path>; `hub upgrade` fetches the
    data files of installed items again (the lists change without item versions), and `install` of an installed
    item puts back a data file that went missing."""
    root, url = remote
    src = "https://raw.githubusercontent.com/crowdsecurity/sec-lists/master/web/list.txt"
    served = root / "data/raw.githubusercontent.com/crowdsecurity/sec-lists/master/web/list.txt"
    served.parent.mkdir(parents=True)
    served.write_text("one\n")
    scenario = (root / "scenarios/crowdsecurity/ssh-bf.yaml").read_text().split("---")[0]
    bump(root, "scenarios", "crowdsecurity/ssh-bf",
         f"data:\n  - source_url: {src}\n    dest_file: list.txt\n    type: string\n{scenario}".encode())
    config = tmp_path / "config"
    cs(config, "hub", "update", "--hub-url", url)
    assert "data file list.txt downloaded" in cs(config, "scenarios", "install", "crowdsecurity/ssh-bf").output
    assert (config / "data/list.txt").read_text() == "one\n"
    served.write_text("one\ntwo\n")
    assert "data file list.txt downloaded" in cs(config, "hub", "upgrade").output
    assert (config / "data/list.txt").read_text() == "one\ntwo\n"
    (config / "data/list.txt").unlink()
    cs(config, "scenarios", "install", "crowdsecurity/ssh-bf")
    assert (config / "data/list.txt").read_text() == "one\ntwo\n"


def test_disable_keeps_crowdsec_items_where_cscli_keeps_downloads(installed):
    """Disabling crowdsecurity/nginx moves its files to <config>/hub/<hub path> (CrowdSec's layout for
    downloaded items) and keeps the parsers installed on their own; enable restores them."""
    parser = installed / "parsers/s01-parse/nginx-logs.yaml"
    text = parser.read_bytes()
    cs(installed, "collections", "disable", "crowdsecurity/nginx")
    assert not parser.exists()
    assert (installed / "hub/parsers/s01-parse/crowdsecurity/nginx-logs.yaml").read_bytes() == text
    rows = listed(installed)
    assert rows[("parsers", "crowdsecurity/nginx-logs")]["status"] == "disabled"
    assert rows[("parsers", "crowdsecurity/dateparse-enrich")]["status"] == "installed"
    cs(installed, "collections", "enable", "crowdsecurity/nginx")
    assert parser.read_bytes() == text and listed(installed)[("collections", "crowdsecurity/nginx")]["status"] \
        == "installed"
