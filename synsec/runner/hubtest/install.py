"""Install one hubtest's items into a fresh config directory, as `cscli hubtest run` builds its runtime.

Items are hub names (looked up in the hub's `.index.json`, or in the index synsec makes of a content tree
without one, such as its own `scenarios/`) or paths inside the hub (`./parsers/s01-parse/a/b.yaml`). They go
where CrowdSec installs them (`parsers/<stage>/<file>`, `scenarios/<file>`); `override_statics` becomes the node
`overrides` in `parsers/s00-raw/00_overrides.yaml`. A data file found in no data directory is installed empty
and reported (the hub's downloads are not fetched).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from synsec.content.yamlload import load_documents, read_content_file
from synsec.engine.errors import LoadError
from synsec.hub.index import HubError, HubIndex, parse_index
from synsec.runner.hubtest.config import ITEM_KINDS, TestConfig

__all__ = ["hub_index", "install_test", "Installed", "item_file", "MMDB_SUFFIX"]

MMDB_SUFFIX = ".mmdb"
MAX_INDEX_READ = 64 * 1024 * 1024


def hub_index(hub: Path) -> HubIndex:
    """The hub's `.index.json`, or for a content tree without one (synsec's own `scenarios/`) the index synsec
    makes of it (`ccscli hub update --hub-url builtin`)."""
    index = Path(hub) / ".index.json"
    if index.is_file():
        with open(index, "rb") as fh:
            return parse_index(fh.read(MAX_INDEX_READ + 1))
    from importlib.metadata import version

    from synsec.hub.builtin import builtin_index

    return parse_index(builtin_index(version("synsec"), root=Path(hub)))


@dataclass
class Installed:
    """What a test's config directory holds: its item files (kind, name, hub file) and the data files that
    were missing and installed empty."""

    items: list[tuple[str, str, Path]] = field(default_factory=list)
    missing_data: list[str] = field(default_factory=list)


def item_file(hub: Path, index: HubIndex, kind: str, name: str) -> tuple[Path, str]:
    """(the item's file in the hub, where it goes in a config dir) for an item name or a path in the hub."""
    hub = Path(hub).resolve()
    if name.endswith((".yaml", ".yml")):
        rel = name.removeprefix("./").lstrip("/")
        src = (hub / rel).resolve()
        parts = Path(rel).parts               # <kind>/[<stage>/]…/file, anywhere in the hub (a test's own copy)
        at = parts.index(kind) if kind in parts[:-1] else -1
        if not src.is_relative_to(hub) or not src.is_file() or at < 0:
            raise HubError(f"{kind}: {name!r} is not a {kind} file of the hub")
        stage = [parts[at + 1]] if kind != "scenarios" and len(parts) > at + 2 else []
        return src, "/".join([kind, *stage, src.name])
    item = index.get(kind, name)
    src = (hub / item.path).resolve()
    if not src.is_relative_to(hub) or not src.is_file():
        raise HubError(f"{kind}: {name!r}: {item.path} is not in the hub")
    return src, item.install_path


def _data_files(path: Path) -> list[str]:
    """The `dest_file`s of the data entries of a content file (unreadable ones: the loader reports them)."""
    out: list[str] = []
    try:
        docs = [doc for _, doc in load_documents(read_content_file(path), str(path))]
    except LoadError:
        return out
    for doc in docs:
        entries = doc.get("data") if isinstance(doc, dict) else None
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("dest_file"), str):
                out.append(entry["dest_file"])
    return out


def install_test(cfg: TestConfig, hub: Path, index: HubIndex, cfg_dir: Path, data_dirs: list[Path]) -> Installed:
    """Fill `cfg_dir` (empty) with the test's items; HubError for an item the hub does not have."""
    out = Installed()
    data_out = cfg_dir / "data"
    data_out.mkdir(parents=True, exist_ok=True)
    for kind in ITEM_KINDS:
        for name in getattr(cfg, kind):
            src, dest = item_file(hub, index, kind, name)
            target = cfg_dir / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
            out.items.append((kind, name, src))
            for dest_file in _data_files(src):
                if any((Path(d) / dest_file).is_file() for d in data_dirs) or dest_file in out.missing_data:
                    continue
                out.missing_data.append(dest_file)
                placeholder = (data_out / dest_file).resolve()
                if dest_file.endswith(MMDB_SUFFIX) or not placeholder.is_relative_to(data_out.resolve()):
                    continue            # no GeoIP database: enrichment finds nothing; a bad path: a load error
                placeholder.parent.mkdir(parents=True, exist_ok=True)
                placeholder.touch()
    if cfg.override_statics:
        node = {"name": "overrides", "filter": "1==1", "statics": list(cfg.override_statics)}
        stage = cfg_dir / "parsers" / "s00-raw"
        stage.mkdir(parents=True, exist_ok=True)
        (stage / "00_overrides.yaml").write_text(yaml.safe_dump(node, sort_keys=False), encoding="utf-8")
    return out
