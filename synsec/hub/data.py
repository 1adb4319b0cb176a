"""`data:` files of hub items: where each one comes from, first found first (docs/hub.md, "data: files"):

1. its `source_url`, when it is below the hub URL or a `--data-url` prefix (a data file has no digest in the
   index, so its origin is the only check);
2. a mirror: `<hub-url>/data/<host>/<path>` (not for CrowdSec's public hub) and `<data-url>/<host>/<path>`,
   the layout `wget -x` writes (`raw.githubusercontent.com/crowdsecurity/sec-lists/master/web/backdoors.txt`);
3. the copy already in `<config-dir>/data` (kept);
4. a file already on the host (`local_dirs`: CrowdSec's `/var/lib/crowdsec/data`, Debian's
   `/usr/share/crowdsec/data`) named `dest_file` or like its source (Debian names some after the URL), copied.

Every file is checked before it is written: at most 64 MiB of UTF-8 text without NUL, map rows well formed.
A file found nowhere is reported once per item with how to get it.
"""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path
from typing import NamedTuple

from synsec.content.datafiles import MAX_DATA_FILE_BYTES, map_rows
from synsec.content.yamlload import load_documents
from synsec.engine.errors import LoadError
from synsec.hub.builtin import BUILTIN, builtin_root
from synsec.hub.fetch import DEFAULT_HUB_URL, fetch
from synsec.hub.index import HubError, safe_part

__all__ = ["DataRef", "DataOrigins", "data_sources", "locate", "mirror_path", "obtain", "check_data",
           "local_dirs_below", "CROWDSEC_DATA_DIRS"]

CROWDSEC_DATA_DIRS = ("var/lib/crowdsec/data", "usr/share/crowdsec/data")   # below the host's root


class DataRef(NamedTuple):
    """One `data:` entry of an item: source_url (None when the hub ships the file), dest_file, type."""

    url: str | None
    dest: str
    type: str


class DataOrigins(NamedTuple):
    """Where data files may come from: the hub URL, allowed prefixes / mirrors, host directories to copy from."""

    hub_url: str
    data_urls: tuple = ()
    local_dirs: tuple = ()


def data_sources(text: str, path: str) -> list[DataRef]:
    """The `data:` entries with a dest_file in an item's YAML; HubError on an unsafe dest_file (with a
    source_url) or YAML the loader refuses."""
    out = []
    try:
        docs = [doc for _, doc in load_documents(text, path)]
    except LoadError as err:
        raise HubError(str(err)) from None
    for doc in docs:
        entries = doc.get("data") if isinstance(doc, dict) else None
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            url, kind = entry.get("source_url"), str(entry.get("type") or "string")
            if isinstance(url, str):
                out.append(DataRef(url, safe_part(entry.get("dest_file"), f"{path}: data dest_file"), kind))
            elif "dest_file" in entry:     # nothing to download: a file the hub ships
                try:
                    out.append(DataRef(None, safe_part(entry["dest_file"], f"{path}: data dest_file"), kind))
                except HubError:
                    pass
    return out


def _safe_rel(rel: str) -> bool:
    try:
        for part in rel.split("/"):
            safe_part(part, "path")
    except HubError:
        return False
    return True


def locate(source_url: str, bases: list[str]) -> tuple[str, str] | None:
    """(base, relative path) of `source_url` below one of `bases` (the hub URL first), or None: not allowed."""
    for base in bases:
        prefix = base.rstrip("/") + "/"
        if source_url.startswith(prefix):
            rel = source_url[len(prefix):]
            return (base, rel) if _safe_rel(rel) else None
    return None


def mirror_path(source_url: str) -> str | None:
    """`<host>/<path>` of an http(s) source_url, the place a mirror serves it at; None if it has no safe one."""
    parts = urllib.parse.urlsplit(source_url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        return None
    rel = f"{parts.hostname}{urllib.parse.unquote(parts.path)}"
    return rel if _safe_rel(rel) else None


def check_data(data: bytes, ref: DataRef, origin: str) -> bytes:
    """`data` if it can be a data file of type `ref.type` (size, UTF-8 text, no NUL, map rows); HubError."""
    if len(data) > MAX_DATA_FILE_BYTES:
        raise HubError(f"{origin}: larger than {MAX_DATA_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise HubError(f"{origin}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    if "\0" in text:
        raise HubError(f"{origin}: holds a NUL byte; not a data file")
    if ref.type == "map":
        try:
            map_rows(text, origin)
        except LoadError as err:
            raise HubError(str(err)) from None
    return data


def _local(ref: DataRef, local_dirs) -> tuple[bytes, str] | None:
    """(bytes, path) of a regular file for `ref` in a host data dir (not a link leading out of it), or None."""
    names = [ref.dest] + ([n] if ref.url and (n := ref.url.rsplit("/", 1)[-1]) != ref.dest and _safe_rel(n) else [])
    for d in local_dirs:
        for name in names:
            path = Path(d) / name
            try:
                real = path.resolve()
                if not real.is_relative_to(Path(d).resolve()) or not real.is_file():
                    continue
                with open(real, "rb") as fh:
                    return fh.read(MAX_DATA_FILE_BYTES + 1), str(path)
            except (OSError, RuntimeError):
                continue
    return None


def _remote(ref: DataRef, origins: DataOrigins) -> list:
    """[(base, relpath)] to try, in order."""
    tries = []
    where = locate(ref.url, [origins.hub_url, *origins.data_urls])
    if where is not None:
        tries.append(where)
    rel = mirror_path(ref.url)
    mirrors = ([f"{origins.hub_url.rstrip('/')}/data"] if origins.hub_url not in (BUILTIN, DEFAULT_HUB_URL) else [])
    for base in mirrors + list(origins.data_urls):
        if rel is not None and (base, rel) not in tries:
            tries.append((base, rel))
    return tries


def obtain(ref: DataRef, origins: DataOrigins, have: bool) -> tuple[bytes | None, str]:
    """(bytes to write or None, a line): the file for `ref` from the first place that has it (module doc);
    `have`: `<config-dir>/data` holds it already (kept when no remote has it). The line says where it came from,
    or, with None and no copy, why it is missing."""
    if ref.url is None:                    # shipped by the hub itself: synsec's builtin hub has them in data/
        if origins.hub_url == BUILTIN and (builtin_root() / "data" / ref.dest).is_file():
            return fetch(BUILTIN, f"data/{ref.dest}", max_bytes=MAX_DATA_FILE_BYTES), f"data file {ref.dest} downloaded"
        return None, "" if have else f"{ref.dest} (no source_url)"
    tries = _remote(ref, origins)
    errors = []
    for base, rel in tries:
        try:
            data = fetch(base, rel, max_bytes=MAX_DATA_FILE_BYTES)
            return check_data(data, ref, f"{base.rstrip('/')}/{rel}"), f"data file {ref.dest} downloaded"
        except HubError as err:
            errors.append(str(err))
    if have:
        return None, ""
    found = _local(ref, origins.local_dirs)
    if found is not None:
        data, path = found
        return check_data(data, ref, path), f"data file {ref.dest} copied from {path}"
    looked = errors + [f"not in {d}/" for d in origins.local_dirs]
    return None, f"{ref.dest} from {ref.url} ({'; '.join(looked) or 'not below the hub URL or a --data-url'})"

def local_dirs_below(root: str | os.PathLike) -> tuple:
    """CrowdSec's data directories below `root` that exist."""
    return tuple(str(Path(root) / d) for d in CROWDSEC_DATA_DIRS if (Path(root) / d).is_dir())
