"""CrowdSec acquisition files (`acquis.yaml`, `acquis.d/*.yaml`) → the data sources `synsec run` reads.

Each YAML document is one data source, with CrowdSec's keys:

    source: file                      # optional when filename(s) are given (CrowdSec's backward compat)
    filenames: [/var/log/nginx/*.log] # or filename: one path; globs allowed
    exclude_regexps: ['\\.gz$']       # paths to leave out of the globs
    labels: {type: nginx}             # required; `type` selects the parsers
    mode: tail                        # tail (follow, default) | cat (read once)
    transform: 'evt.Line.Raw + "!"'   # optional expr over `evt`: the new line, or a list of lines
    ---
    source: journalctl                # optional when journalctl_filter is given
    journalctl_filter: [_SYSTEMD_UNIT=ssh.service]   # journalctl arguments, as CrowdSec passes them
    ---
    source: syslog
    listen_addr: 127.0.0.1            # default 127.0.0.1
    listen_port: 514                  # default 514
    protocol: udp                     # udp | tcp (default: both)
    max_message_len: 2048             # default 2048 bytes; longer messages are counted and dropped

CrowdSec sources synsec does not have (docker, kinesis, cloudwatch, s3…) are skipped with one warning naming
`path:line: source`, and the other sources still run. An unknown source or field is an error; every error
names `path:line: field`, and all of a file's errors are reported in one pass.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from synsec.content.yamlload import load_documents, read_content_file, where_of
from synsec.engine.errors import ErrorCollector, LoadError, Where
from synsec.engine.expr import compile_expr
from synsec.runner.inputs import MAX_LINE_BYTES

__all__ = ["FileSource", "JournalSource", "SyslogSource", "StdinSource", "Source", "load_acquis", "MODES",
           "SYSLOG_MAX_MESSAGE"]

MODES = ("tail", "cat")
SYSLOG_MAX_MESSAGE = 2048           # CrowdSec's default max_message_len
# CrowdSec data sources synsec knows by name but does not implement: skipped with one warning.
_UNSUPPORTED = ("cloudwatch", "docker", "kinesis", "kafka", "wineventlog", "k8s-audit", "k8saudit", "s3", "loki",
                "http", "appsec", "victorialogs")
# Fields every CrowdSec source accepts that change nothing here (logging, names).
_IGNORED = ("log_level", "name", "unique_id", "use_time_machine")
_COMMON = ("source", "labels", "mode", "transform", *_IGNORED)
_FIELDS = {
    "file": (*_COMMON, "filename", "filenames", "exclude_regexps", "max_buffer_size", "force_inotify",
             "poll_without_inotify"),
    "journalctl": (*_COMMON, "journalctl_filter"),
    "syslog": (*_COMMON, "listen_addr", "listen_port", "protocol", "max_message_len"),
}


@dataclass(frozen=True)
class FileSource:
    """Files to read: glob patterns, their labels (with `type`) and how (tail or cat)."""

    globs: tuple[str, ...]
    labels: dict = field(default_factory=dict, hash=False)
    mode: str = "tail"
    exclude: tuple = ()                     # compiled regexps matched (search) against the path
    max_line_bytes: int = MAX_LINE_BYTES
    where: Where = Where("<command line>")
    transform: Any = field(default=None, hash=False, compare=False)    # compiled `transform` expr or None

    def excluded(self, path: str) -> bool:
        return any(rx.search(path) for rx in self.exclude)


@dataclass(frozen=True)
class JournalSource:
    """journald entries read through `journalctl ARGS -o json` (`--follow` in mode tail)."""

    filters: tuple[str, ...]                # CrowdSec's journalctl_filter: matches and options, passed as is
    labels: dict = field(default_factory=dict, hash=False)
    mode: str = "tail"
    where: Where = Where("<command line>")
    transform: Any = field(default=None, hash=False, compare=False)
    since: str | None = None                # the DSN's `since` (journalctl --since)
    max_line_bytes: int = MAX_LINE_BYTES

    @property
    def src(self) -> str:
        """CrowdSec's source name (`evt.Line.Src`), also the key of its saved cursor."""
        return "journalctl-" + ".".join(self.filters)


@dataclass(frozen=True)
class SyslogSource:
    """A syslog listener (RFC 3164 and RFC 5424; UDP datagrams, TCP with newline or octet-counted framing)."""

    addr: str = "127.0.0.1"
    port: int = 514
    protocols: tuple[str, ...] = ("udp", "tcp")
    max_message_len: int = SYSLOG_MAX_MESSAGE
    labels: dict = field(default_factory=dict, hash=False)
    where: Where = Where("<command line>")
    transform: Any = field(default=None, hash=False, compare=False)
    mode: str = "tail"


@dataclass(frozen=True)
class StdinSource:
    """Lines piped into `synsec run -f -`."""

    labels: dict = field(default_factory=dict, hash=False)
    max_line_bytes: int = MAX_LINE_BYTES
    where: Where = Where("<command line>")
    transform: Any = field(default=None, hash=False, compare=False)
    mode: str = "cat"


Source = Union[FileSource, JournalSource, SyslogSource, StdinSource]


def load_acquis(path: str | Path, warnings: list[str] | None = None) -> list:
    """The data sources of an acquisition file, or of every `*.yaml`/`*.yml` in a directory (name order).

    Sources synsec does not have are skipped, one line each in `warnings`. Raises LoadErrors with every
    problem found."""
    path = Path(path)
    errors = ErrorCollector()
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    else:
        files = [path]
    sources: list = []
    skipped: list[str] = []
    for f in files:
        found = errors.guard(_load_file, f, errors, skipped)
        sources.extend(found or [])
    if not sources and not skipped and not errors.errors:
        errors.add(LoadError(Where(str(path)), "no data source defined"))
    errors.raise_if_any()
    if warnings is not None:
        warnings.extend(skipped)
    return sources


def _load_file(path: Path, errors: ErrorCollector, skipped: list[str]) -> list:
    text = read_content_file(path)          # a regular UTF-8 file under the content size cap, else a LoadError
    out = []
    for line, doc in load_documents(text, str(path)):
        where = Where(str(path), line, "")
        if not isinstance(doc, dict):
            errors.add(LoadError(where, "a data source must be a mapping"))
            continue
        kind = errors.guard(_kind, doc, where)
        if kind in _UNSUPPORTED:
            at = where_of(doc, "source", "source", where.path)
            skipped.append(f"{at.path}:{at.line}: source {kind}: not supported by synsec run, skipped "
                           f"(supported: {', '.join(_DECODERS)})")
            continue
        if kind is not None:
            src = errors.guard(_source, kind, doc, where, errors)
            if src is not None:
                out.append(src)
    return out


def _kind(doc: dict, where: Where) -> str:
    """The `source:` of a document (guessed as CrowdSec does when it is missing)."""
    kind = doc.get("source")
    at = where_of(doc, "source", "source", where.path) if "source" in doc else where.child("source")
    if kind is None:
        if "filename" in doc or "filenames" in doc:
            return "file"
        if "journalctl_filter" in doc:
            return "journalctl"
        raise LoadError(at, "missing: give `source: file` with filename or filenames")
    if not isinstance(kind, str):
        raise LoadError(at, "must be a string")
    if kind not in _DECODERS and kind not in _UNSUPPORTED:
        raise LoadError(at, f"unknown data source {kind!r} (supported: {', '.join(_DECODERS)})")
    return kind


def _source(kind: str, doc: dict, where: Where, errors: ErrorCollector):
    """Decode one document of a known kind; None (errors recorded) when it has any problem."""
    path = where.path
    n = len(errors.errors)
    for key in doc:
        if key not in _FIELDS[kind]:
            errors.add(LoadError(where_of(doc, key, str(key), path), f"unknown field for source {kind}"))
    labels = errors.guard(_labels, doc, where)
    mode = doc.get("mode", "tail")
    allowed = ("tail",) if kind == "syslog" else MODES
    if mode not in allowed:
        errors.add(LoadError(where_of(doc, "mode", "mode", path), f"{mode!r}: expected one of {', '.join(allowed)}"))
    transform = errors.guard(_transform, doc, path)
    specific = errors.guard(_DECODERS[kind], doc, where, errors)     # each decoder records all its errors
    if len(errors.errors) > n or labels is None or specific is None:
        return None
    cls, kwargs = specific
    return cls(labels=labels, mode=mode, where=where, transform=transform, **kwargs)


def _file(doc: dict, where: Where, errors: ErrorCollector):
    globs = errors.guard(_globs, doc, where)
    exclude = errors.guard(_exclude, doc, where.path)
    size = errors.guard(_positive, doc, "max_buffer_size", MAX_LINE_BYTES, where.path, "bytes")
    return FileSource, {"globs": globs, "exclude": exclude, "max_line_bytes": size}


def _journal(doc: dict, where: Where, errors: ErrorCollector):
    filters = doc.get("journalctl_filter")
    at = where_of(doc, "journalctl_filter", "journalctl_filter", where.path)
    if filters is None:
        raise LoadError(where.child("journalctl_filter"), "missing: journalctl_filter is required")
    if not isinstance(filters, list) or not filters or not all(isinstance(f, str) and f for f in filters):
        raise LoadError(at, "must be a non-empty list of journalctl arguments (e.g. _SYSTEMD_UNIT=ssh.service)")
    return JournalSource, {"filters": tuple(filters)}


def _syslog(doc: dict, where: Where, errors: ErrorCollector):
    path = where.path
    addr = doc.get("listen_addr", "127.0.0.1")
    try:
        ipaddress.ip_address(addr if isinstance(addr, str) else "")
    except ValueError:
        errors.add(LoadError(where_of(doc, "listen_addr", "listen_addr", path),
                             f"{addr!r}: expected an IP address to listen on"))
    port = doc.get("listen_port", 514)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port <= 65535:
        errors.add(LoadError(where_of(doc, "listen_port", "listen_port", path), f"{port!r}: expected a port 1-65535"))
    proto = doc.get("protocol")
    if proto not in (None, "udp", "tcp"):
        errors.add(LoadError(where_of(doc, "protocol", "protocol", path), f"{proto!r}: expected udp or tcp "
                             "(default: both)"))
    size = errors.guard(_positive, doc, "max_message_len", SYSLOG_MAX_MESSAGE, path, "bytes")
    return SyslogSource, {"addr": addr, "port": port, "protocols": (proto,) if proto else ("udp", "tcp"),
                          "max_message_len": size}


_DECODERS = {"file": _file, "journalctl": _journal, "syslog": _syslog}


def _positive(doc: dict, key: str, default: int, path: str, unit: str) -> int:
    value = doc.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise LoadError(where_of(doc, key, key, path), f"{value!r}: expected a positive number of {unit}")
    return value


def _transform(doc: dict, path: str):
    text = doc.get("transform")
    if text is None or text == "":
        return None
    at = where_of(doc, "transform", "transform", path)
    if not isinstance(text, str):
        raise LoadError(at, "expected an expression (a string)")
    return compile_expr(text, where=at, params=("evt",))


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
