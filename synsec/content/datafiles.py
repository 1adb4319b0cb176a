"""Data files named by content (`data: - dest_file: x.txt`), read from the data directories and nowhere else.

A `dest_file` is a path inside a data directory: relative (`bad_user_agents.txt`, `sub/x.txt`) or absolute but
inside it. The resolved path, symlinks followed, must stay inside the resolved directory, so
`../../../../etc/passwd`, `/etc/passwd` and a symlink out of the data dir are load errors naming the YAML file,
line and field; `File('…')` and `RegexpInFile(…, '…')` only ever see files loaded here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

from synsec.content.yamlload import read_content_file
from synsec.engine.errors import ErrorCollector, LoadError, Where
from synsec.engine.expr.helpers_filemap import MAP_ROW_TYPES, FileMap
from synsec.engine.expr.regex import Regex, RegexError

__all__ = ["DataEntry", "MissingDataFile", "MAX_DATA_FILE_BYTES", "resolve_data_file", "read_data_file", "map_rows"]

MAX_DATA_FILE_BYTES = 64 * 1024 * 1024   # one data file (the hub's largest is 10 KiB)


class MissingDataFile(LoadError):
    """A data file found in no data directory (as opposed to one that is unsafe or unreadable)."""


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
    raise MissingDataFile(entry.where, f"data file {entry.dest_file[:80]!r} not found in {dirs}")


def read_data_file(entry: DataEntry, data_dirs: list[Path], ctx, errors: ErrorCollector,
                   missing: list | None = None) -> None:
    """Load `entry` into the expression context (`ctx.files`, `ctx.regexps` or `ctx.maps`) once; errors are
    collected, except a file found in no data dir when `missing` is given: that one is appended to it."""
    if entry.dest_file in ctx.files or entry.dest_file in ctx.regexps or entry.dest_file in ctx.maps:
        return
    try:
        path = resolve_data_file(entry, data_dirs)
        text = read_content_file(path, MAX_DATA_FILE_BYTES, strict=False)
    except MissingDataFile as err:
        if missing is None:
            errors.add(err)
        else:
            missing.append(err)
        return
    except LoadError as err:
        errors.add(err if err.where == entry.where else LoadError(entry.where, f"{err.where.path}: {err.message}"))
        return
    if entry.type == "map":
        try:
            ctx.maps[entry.dest_file] = FileMap(map_rows(text, str(path)))
        except LoadError as err:
            errors.add(LoadError(entry.where, f"{err.where}: {err.message}"))
        return
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    lines = [ln for ln in lines if ln != "" and not ln.startswith("#")]  # CrowdSec FileInit rules
    if entry.type == "regexp":
        ctx.regexps[entry.dest_file] = lines
    else:
        ctx.files[entry.dest_file] = lines


def map_rows(text: str, path: str) -> list[dict[str, str]]:
    """The rows of a map data file: one JSON object of strings a line with a non-empty `pattern`, `tag` and
    `type` (equals, contains or regex; a regex must compile); `#` comments and empty lines skipped, as CrowdSec.
    LoadError at the data file's line otherwise."""
    rows = []
    for number, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if line == "" or line.startswith("#"):
            continue
        where = Where(path, number, "(line)")
        try:
            row = json.loads(line)
        except ValueError as err:
            raise LoadError(where, f"not a JSON line: {err}") from None
        if not isinstance(row, dict) or not all(isinstance(v, str) for v in row.values()):
            raise LoadError(where, "expected a JSON object of strings")
        if any(_lone_surrogate(v) for v in row.values()):
            raise LoadError(where, "a value holds a lone UTF-16 surrogate escape")
        for key in ("pattern", "tag", "type"):
            if not row.get(key):
                raise LoadError(Where(path, number, key), f"missing mandatory {key!r} field")
        if row["type"] not in MAP_ROW_TYPES:
            raise LoadError(Where(path, number, "type"),
                            f"unknown entry type {row['type'][:40]!r} (supported: {', '.join(MAP_ROW_TYPES)})")
        if row["type"] == "regex":
            try:
                Regex(row["pattern"])
            except RegexError as err:
                raise LoadError(Where(path, number, "pattern"), f"invalid regexp: {err}") from None
        rows.append(row)
    return rows


def _lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
