"""synsec's own content as a hub (`--hub-url builtin`): its `.index.json` is made from the `scenarios/` tree.

Every YAML file of `parsers/<stage>/`, `postoverflows/<stage>/`, `scenarios/` and `collections/` is one item named
by its (first) `name:`; a collection's dependencies are its `parsers`, `scenarios`, `postoverflows` and
`collections` lists. An item's version is the package version and the start of the file's sha256
(`0.1.0+3fa2b1c9`), so a file edited in a newer synsec is a new version; the versions of the index a config
directory already holds are kept, so a file installed from an older synsec is an older version, not a local edit.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from synsec.content.loader import default_content_dir
from synsec.content.yamlload import load_documents
from synsec.engine.errors import LoadError
from synsec.hub.index import TYPES, HubError

__all__ = ["BUILTIN", "builtin_root", "builtin_index"]

BUILTIN = "builtin"
_STAGED = ("parsers", "postoverflows")


def builtin_root() -> Path:
    """Where the builtin hub's files are: synsec's own content directory."""
    return default_content_dir()


def _files(root: Path, type_: str) -> list[Path]:
    pattern = "*/*.yaml" if type_ in _STAGED else "*.yaml"
    return sorted((root / type_).glob(pattern))


def _entry(root: Path, type_: str, path: Path, version: str) -> tuple[str, dict]:
    data = path.read_bytes()
    rel = path.relative_to(root).as_posix()
    try:
        docs = [doc for _, doc in load_documents(data.decode("utf-8"), rel)]
    except (LoadError, UnicodeDecodeError) as err:
        raise HubError(f"{rel}: {err}") from None
    first = docs[0] if docs and isinstance(docs[0], dict) else {}
    if not isinstance(first.get("name"), str):
        raise HubError(f"{rel}: no name")
    digest = hashlib.sha256(data).hexdigest()
    entry = {"path": rel, "version": f"{version}+{digest[:8]}",
             "versions": {f"{version}+{digest[:8]}": {"digest": digest, "deprecated": False}},
             "description": str(first.get("description") or "").strip(), "author": "synsec"}
    if type_ in _STAGED:
        entry["stage"] = path.parent.name
    if type_ == "collections":
        entry.update({dep: list(first.get(dep) or []) for dep in TYPES})
    return first["name"], entry


def builtin_index(version: str, previous: bytes | None = None, root: Path | None = None) -> bytes:
    """The `.index.json` of synsec's own content at package `version`; the versions of the builtin index
    `previous` (the one a config directory holds) are kept beside the current ones."""
    root = root or builtin_root()
    doc: dict = {t: dict(_entry(root, t, p, version) for p in _files(root, t)) for t in TYPES}
    try:
        old = json.loads(previous) if previous else {}
    except (ValueError, UnicodeDecodeError):
        old = {}
    old = old if isinstance(old, dict) else {}
    for type_ in TYPES:
        for name, entry in doc[type_].items():
            section = old.get(type_)
            kept = section.get(name) if isinstance(section, dict) else None
            kept = kept if isinstance(kept, dict) else {}
            if isinstance(kept.get("versions"), dict):
                entry["versions"] = {**kept["versions"], **entry["versions"]}
    return json.dumps(doc, indent=1, sort_keys=True).encode()
