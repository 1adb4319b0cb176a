"""A CrowdSec hub index (`.index.json`): items with path, version, versions and sha256 digests, dependencies.

Pure. Hub content is hostile: every item name, stage and path is checked here, so that what the rest of the
package turns into a file path can only be a plain relative path below the config directory.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from synsec.engine.errors import SynsecError

__all__ = ["HubError", "Item", "HubIndex", "parse_index", "TYPES", "MAX_INDEX_BYTES"]

TYPES = ("parsers", "postoverflows", "scenarios", "collections")   # install order: dependencies first
MAX_INDEX_BYTES = 16 * 1024 * 1024
_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class HubError(SynsecError):
    """A hub index, item, download or install that cannot be used as it is."""


def safe_part(text: object, what: str) -> str:
    """One path component from hub data: letters, digits, `_ . + -`; never `.`/`..`, a slash or empty."""
    if not isinstance(text, str) or not _PART.match(text) or set(text) == {"."}:
        raise HubError(f"{what}: unsafe name {text!r}")
    return text


@dataclass(frozen=True)
class Item:
    """One hub item: `type` (parsers, …), `name` (author/name), where it lives in the hub and what it needs."""

    type: str
    name: str
    path: str                                   # relative path in the hub, e.g. parsers/s01-parse/a/b.yaml
    version: str
    digests: dict = field(default_factory=dict)  # version -> sha256 hex
    stage: str = ""
    description: str = ""
    author: str = ""
    deps: tuple = ()                             # ((type, name), ...)
    labels: tuple = ()                           # ((key, value), ...): a scenario's string labels (service, type…)

    @property
    def key(self) -> tuple[str, str]:
        return (self.type, self.name)

    @property
    def digest(self) -> str:
        return self.digests[self.version]

    @property
    def install_path(self) -> str:
        """Where the item goes in the config dir (CrowdSec's layout): `<type>/[<stage>/]<file name>`."""
        file = self.path.rsplit("/", 1)[-1]
        return "/".join([self.type] + ([self.stage] if self.stage else []) + [file])

    def version_of(self, digest: str) -> str | None:
        """The hub version whose content has this sha256, or None (a local edit)."""
        return next((v for v, d in self.digests.items() if d == digest), None)


@dataclass(frozen=True)
class HubIndex:
    items: dict  # (type, name) -> Item

    def get(self, type_: str, name: str) -> Item:
        try:
            return self.items[(type_, name)]
        except KeyError:
            raise HubError(f"{type_}: no item {name!r} in the hub index (run `ccscli hub update`)") from None

    def of_type(self, type_: str) -> list[Item]:
        return sorted((i for i in self.items.values() if i.type == type_), key=lambda i: i.name)


def _item(type_: str, name: object, raw: object) -> Item:
    if not isinstance(name, str) or name.count("/") != 1:
        raise HubError(f"{type_}: item name {name!r} is not author/name")
    for part in name.split("/"):
        safe_part(part, f"{type_} {name}")
    if not isinstance(raw, dict):
        raise HubError(f"{type_} {name}: not an object")
    path = raw.get("path")
    parts = path.split("/") if isinstance(path, str) else []
    if len(parts) < 2 or parts[0] != type_ or "\\" in path:
        raise HubError(f"{type_} {name}: path {path!r} is not below {type_}/")
    for part in parts:
        safe_part(part, f"{type_} {name}: path")
    stage = raw.get("stage") or ""
    if type_ in ("parsers", "postoverflows"):
        stage = safe_part(stage, f"{type_} {name}: stage")
    elif stage:
        raise HubError(f"{type_} {name}: a {type_} item has no stage")
    versions = raw.get("versions")
    if not isinstance(versions, dict) or not versions:
        raise HubError(f"{type_} {name}: no versions")
    digests = {}
    for v, meta in versions.items():
        digest = meta.get("digest") if isinstance(meta, dict) else None
        if not isinstance(digest, str) or not _HEX64.match(digest):
            raise HubError(f"{type_} {name}: version {v!r} has no sha256 digest")
        digests[str(v)] = digest
    version = str(raw.get("version"))
    if version not in digests:
        raise HubError(f"{type_} {name}: version {version!r} is not among its versions")
    deps = []
    for dep_type in TYPES:
        names = raw.get(dep_type) or []
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise HubError(f"{type_} {name}: {dep_type} is not a list of names")
        deps += [(dep_type, n) for n in names]
    labels = raw.get("labels") if isinstance(raw.get("labels"), dict) else {}
    return Item(type=type_, name=name, path=path, version=version, digests=digests, stage=stage,
                description=str(raw.get("description") or ""), author=str(raw.get("author") or ""),
                deps=tuple(deps), labels=tuple(sorted((str(k), v) for k, v in labels.items()
                                                      if isinstance(v, str))))


def parse_index(data: bytes) -> HubIndex:
    """Read `.index.json` bytes; HubError on anything malformed or unsafe (one bad item rejects the index)."""
    if len(data) > MAX_INDEX_BYTES:
        raise HubError(f"hub index larger than {MAX_INDEX_BYTES} bytes")
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise HubError(f"hub index is not JSON: {err}") from None
    if not isinstance(doc, dict):
        raise HubError("hub index is not a JSON object")
    items = {}
    for type_ in TYPES:
        section = doc.get(type_) or {}
        if not isinstance(section, dict):
            raise HubError(f"hub index: {type_} is not an object")
        for name, raw in section.items():
            item = _item(type_, name, raw)
            items[item.key] = item
    installs = {}
    for item in items.values():
        other = installs.setdefault(item.install_path, item)
        if other is not item:
            raise HubError(f"hub index: {item.type} {item.name} and {other.name} install to {item.install_path}")
    return HubIndex(items)
