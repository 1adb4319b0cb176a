"""CrowdSec acquisition files (`acquis.yaml`, `acquis.d/*.yaml`) → the file sources `synsec run` tails.

Each YAML document is one data source, as in CrowdSec:

    source: file                      # optional when filename(s) are given (CrowdSec's backward compat)
    filenames: [/var/log/nginx/*.log] # or filename: one path; globs allowed
    exclude_regexps: ['\\.gz$']       # paths to leave out of the globs
    labels: {type: nginx}             # required; `type` selects the parsers
    mode: tail                        # tail (follow, default) | cat (read once)

Only `source: file` is implemented; the other CrowdSec sources (journalctl, docker, syslog…) are load errors
saying so, and an unknown source or field is an error too. Every error names `path:line: field`, and all of
a file's errors are reported in one pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from synsec.content.yamlload import load_documents, read_content_file, where_of
from synsec.engine.errors import ErrorCollector, LoadError, Where
from synsec.runner.inputs import MAX_LINE_BYTES

__all__ = ["FileSource", "load_acquis", "MODES"]

MODES = ("tail", "cat")
# CrowdSec data sources synsec knows by name but does not implement (a clear error, not "unknown").
_UNSUPPORTED = ("journalctl", "cloudwatch", "docker", "kinesis", "kafka", "syslog", "wineventlog", "k8s-audit",
                "k8saudit", "s3", "loki", "http", "appsec", "victorialogs")
# Fields CrowdSec accepts that change nothing here (logging, inotify tuning, names).
_IGNORED = ("log_level", "name", "unique_id", "use_time_machine", "force_inotify", "poll_without_inotify")
_FILE_FIELDS = ("source", "filename", "filenames", "labels", "mode", "exclude_regexps", "max_buffer_size",
                *_IGNORED)


@dataclass(frozen=True)
class FileSource:
    """Files to read: glob patterns, their labels (with `type`) and how (tail or cat)."""

    globs: tuple[str, ...]
    labels: dict = field(default_factory=dict, hash=False)
    mode: str = "tail"
    exclude: tuple = ()                     # compiled regexps matched (search) against the path
    max_line_bytes: int = MAX_LINE_BYTES
    where: Where = Where("<command line>")

    def excluded(self, path: str) -> bool:
        return any(rx.search(path) for rx in self.exclude)


def load_acquis(path: str | Path) -> list[FileSource]:
    """The file sources of an acquisition file, or of every `*.yaml`/`*.yml` in a directory (name order).

    Raises LoadErrors with every problem found."""
    path = Path(path)
    errors = ErrorCollector()
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    else:
        files = [path]
    sources: list[FileSource] = []
    for f in files:
        found = errors.guard(_load_file, f, errors)
        sources.extend(found or [])
    if not sources and not errors.errors:
        errors.add(LoadError(Where(str(path)), "no data source defined"))
    errors.raise_if_any()
    return sources


def _load_file(path: Path, errors: ErrorCollector) -> list[FileSource]:
    text = read_content_file(path)          # a regular UTF-8 file under the content size cap, else a LoadError
    out = []
    for line, doc in load_documents(text, str(path)):
        if not isinstance(doc, dict):
            errors.add(LoadError(Where(str(path), line, ""), "a data source must be a mapping"))
            continue
        src = errors.guard(_source, doc, Where(str(path), line, ""), errors)
        if src is not None:
            out.append(src)
    return out


def _kind(doc: dict, where: Where) -> str:
    """The `source:` of a document (guessed as CrowdSec does when it is missing); only `file` is accepted."""
    kind = doc.get("source")
    at = where_of(doc, "source", "source", where.path) if "source" in doc else where.child("source")
    if kind is None:
        if "filename" in doc or "filenames" in doc:
            return "file"
        if "journalctl_filter" not in doc:
            raise LoadError(at, "missing: give `source: file` with filename or filenames")
        kind = "journalctl"
    if not isinstance(kind, str):
        raise LoadError(at, "must be a string")
    if kind in _UNSUPPORTED:
        raise LoadError(at, f"CrowdSec data source {kind!r} is not supported by synsec run (supported: file)")
    if kind != "file":
        raise LoadError(at, f"unknown data source {kind!r} (supported: file)")
    return kind


def _source(doc: dict, where: Where, errors: ErrorCollector) -> FileSource | None:
    _kind(doc, where)
    path = where.path
    bad = False
    for key in doc:
        if key not in _FILE_FIELDS:
            hint = " (transform expressions are not supported)" if key == "transform" else ""
            errors.add(LoadError(where_of(doc, key, str(key), path), f"unknown field for source file{hint}"))
            bad = True
    globs = errors.guard(_globs, doc, where)
    labels = errors.guard(_labels, doc, where)
    mode = doc.get("mode", "tail")
    if mode not in MODES:
        errors.add(LoadError(where_of(doc, "mode", "mode", path), f"{mode!r}: expected one of {', '.join(MODES)}"))
        bad = True
    exclude = errors.guard(_exclude, doc, path)
    size = doc.get("max_buffer_size", MAX_LINE_BYTES)
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        errors.add(LoadError(where_of(doc, "max_buffer_size", "max_buffer_size", path),
                             f"{size!r}: expected a positive number of bytes"))
        bad = True
    if bad or globs is None or labels is None or exclude is None:
        return None
    return FileSource(globs, labels, mode, exclude, size, where)


def _globs(doc: dict, where: Where) -> tuple[str, ...]:
    out = []
    if "filename" in doc:
        one = doc["filename"]
        if not isinstance(one, str) or not one:
            raise LoadError(where_of(doc, "filename", "filename", where.path), "must be a non-empty path")
        out.append(one)
    if "filenames" in doc:
        many = doc["filenames"]
        if not isinstance(many, list) or not all(isinstance(p, str) and p for p in many):
            raise LoadError(where_of(doc, "filenames", "filenames", where.path), "must be a list of paths")
        out.extend(many)
    if not out:
        raise LoadError(where.child("filenames"), "missing: a file source needs filename or filenames")
    return tuple(out)


def _labels(doc: dict, where: Where) -> dict:
    labels = doc.get("labels")
    if labels is None:
        raise LoadError(where.child("labels"), "missing: a data source needs labels with a type")
    if not isinstance(labels, dict):
        raise LoadError(where_of(doc, "labels", "labels", where.path), "must be a mapping")
    for key, value in labels.items():
        if isinstance(value, (dict, list)) or value is None:
            raise LoadError(where_of(labels, key, f"labels.{key}", where.path), "must be a scalar")
    if not labels.get("type"):
        raise LoadError(where_of(doc, "labels", "labels.type", where.path), "missing: labels need a type")
    return {str(k): str(v) for k, v in labels.items()}


def _exclude(doc: dict, path: str) -> tuple:
    items = doc.get("exclude_regexps", [])
    if not isinstance(items, list) or not all(isinstance(p, str) for p in items):
        raise LoadError(where_of(doc, "exclude_regexps", "exclude_regexps", path), "must be a list of regexps")
    out = []
    for i, item in enumerate(items):
        try:
            out.append(re.compile(item))
        except re.error as err:
            raise LoadError(where_of(items, i, f"exclude_regexps[{i}]", path), f"bad regexp: {err}") from None
    return tuple(out)
