"""Data files named by content (`data: - dest_file: x.txt`), read from the data directories and nowhere else.

A `dest_file` is a path inside a data directory: relative (`bad_user_agents.txt`, `sub/x.txt`) or absolute but
inside it. The resolved path, symlinks followed, must stay inside the resolved directory, so
`../../../../etc/passwd`, `/etc/passwd` and a symlink out of the data dir are load errors naming the YAML file,
line and field; `File('…')` and `RegexpInFile(…, '…')` only ever see files loaded here.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from synsec.content.yamlload import read_content_file
from synsec.engine.errors import ErrorCollector, LoadError, Where

__all__ = ["DataEntry", "MAX_DATA_FILE_BYTES", "resolve_data_file", "read_data_file"]

MAX_DATA_FILE_BYTES = 64 * 1024 * 1024   # one data file (the hub's largest is 10 KiB)


class DataEntry(NamedTuple):
    """One `data:` item: the file name as written, its type (string, regexp or map) and where it is declared."""

    dest_file: str
    type: str
    where: Where


def resolve_data_file(entry: DataEntry, data_dirs: list[Path]) -> Path:
    """The data file `entry` names: the first data dir holding it. LoadError when it escapes a data dir or
    is in none."""
    for d in data_dirs:
        try:
            base = d.resolve()
            path = (base / entry.dest_file).resolve()
            inside = path.is_relative_to(base)
            found = inside and path.is_file()
        except (OSError, ValueError, RuntimeError) as err:   # NUL byte, symlink loop, name too long
            raise LoadError(entry.where, f"invalid data file name {entry.dest_file[:80]!r}: "
                                         f"{getattr(err, 'strerror', None) or err}") from None
        if not inside:
            raise LoadError(entry.where, f"data file {entry.dest_file[:80]!r} is outside the data directory {d} "
                                         f"(it resolves to {str(path)[:80]})")
        if found:
            return path
    dirs = ", ".join(str(d) for d in data_dirs) or "no data dir"
    raise LoadError(entry.where, f"data file {entry.dest_file[:80]!r} not found in {dirs}")


def read_data_file(entry: DataEntry, data_dirs: list[Path], ctx, errors: ErrorCollector) -> None:
    """Load `entry` into the expression context (`ctx.files` or `ctx.regexps`) once; errors are collected."""
    if entry.dest_file in ctx.files or entry.dest_file in ctx.regexps:
        return
    try:
        path = resolve_data_file(entry, data_dirs)
        text = read_content_file(path, MAX_DATA_FILE_BYTES, strict=False)
    except LoadError as err:
        errors.add(err if err.where == entry.where else LoadError(entry.where, f"{err.where.path}: {err.message}"))
        return
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    lines = [ln for ln in lines if ln != "" and not ln.startswith("#")]  # CrowdSec FileInit rules
    if entry.type == "regexp":
        ctx.regexps[entry.dest_file] = lines
    else:
        ctx.files[entry.dest_file] = lines
