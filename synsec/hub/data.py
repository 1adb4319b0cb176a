"""`data:` files of hub items: which ones to download, and from where (only below the configured hub URL or a
prefix the user allowed; a data file has no digest in the index, so its origin is the only check)."""

from __future__ import annotations

from synsec.content.yamlload import load_documents
from synsec.engine.errors import LoadError
from synsec.hub.index import HubError, safe_part

__all__ = ["data_sources", "locate"]


def data_sources(text: str, path: str) -> list[tuple[str | None, str]]:
    """(source_url or None, dest_file) of every `data:` entry with a dest_file in an item's YAML; HubError on an
    unsafe dest_file or YAML the loader refuses."""
    out = []
    try:
        docs = [doc for _, doc in load_documents(text, path)]
    except LoadError as err:
        raise HubError(str(err)) from None
    for doc in docs:
        entries = doc.get("data") if isinstance(doc, dict) else None
        for entry in entries if isinstance(entries, list) else []:
            url = entry.get("source_url") if isinstance(entry, dict) else None
            if isinstance(url, str):
                out.append((url, safe_part(entry.get("dest_file"), f"{path}: data dest_file")))
            elif isinstance(entry, dict) and "dest_file" in entry:     # nothing to download: a file the hub ships
                try:
                    out.append((None, safe_part(entry["dest_file"], f"{path}: data dest_file")))
                except HubError:
                    pass
    return out


def locate(source_url: str, bases: list[str]) -> tuple[str, str] | None:
    """(base, relative path) of `source_url` below one of `bases` (the hub URL first), or None: not allowed."""
    for base in bases:
        prefix = base.rstrip("/") + "/"
        if source_url.startswith(prefix):
            rel = source_url[len(prefix):]
            try:
                for part in rel.split("/"):
                    safe_part(part, f"{source_url}: path")
            except HubError:
                return None
            return base, rel
    return None
