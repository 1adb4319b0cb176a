"""synsec.raw messages → engine `Line`s. Shippers write JSON envelopes (or plain text) there, not Avro.

A value whose first non-blank byte is `{` or `[` is a JSON envelope; anything else is one plain-text log line
that takes `default_labels` (the consumer's acquisition labels, e.g. `{"type": "syslog"}`), module `kafka` (as
CrowdSec's kafka datasource) and the `src` argument. Plain text that is not valid UTF-8 is decoded with U+FFFD
replacement characters (a log line is still worth parsing); a JSON envelope must be valid UTF-8.

Envelopes are recognised by the first shape in `shapes` (a declarative table, `DEFAULT_SHAPES`) one of whose
`detect` keys is at the top level. What each field becomes (labels always merge over `default_labels`):

- vector (detects `source_type`): `message` → Raw; `file`, else `host` → Src; `timestamp` → Time; the `labels`
  object → Labels; `source_type` → Module.
- filebeat (detects `@timestamp`): `message` → Raw; `log.file.path`, else `host.name` → Src; `@timestamp` → Time;
  the `fields` object → Labels; `input.type` → Module (else `file`).
- rsyslog JSON template (detects `programname`, `timereported`, `syslogtag` or `msg`): Raw is the syslog line
  `<timereported> <hostname> <programname>[<procid>]: <msg>` (as CrowdSec's syslog datasource rebuilds it, so the
  s00-raw syslog parser applies), or `msg`/`message` alone without those header fields; `fromhost-ip`, else
  `hostname` → Src; `timereported` → Time; Labels `type: syslog`, then the `labels` object; Module `syslog`.
- synsec, our own (detects `message`): `message` → Raw; `labels` → Labels; `src` → Src; `time` → Time;
  `module` → Module (else `kafka`).

The topology's `raw.line_field` and `raw.labels_field` rename `message` and `labels` in the vector and synsec
shapes (`shapes_with`: the envelopes a user writes or remaps); Filebeat's and rsyslog's fields are fixed.

Times are epoch seconds or RFC 3339 text (UTC when no offset); an unparseable time gives `Line.Time = 0`
("unknown": the engine takes event time from the line itself). Label values that are not strings are stored
JSON-encoded (`true`, `3`). One trailing newline is removed from the message.

Errors (`DecodeError`, for the dead-letter topic): a null value, invalid UTF-8 or invalid JSON in an envelope,
JSON that is not an object, no message field, a message that is not a string, labels that are not an object.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from functools import lru_cache
from typing import Mapping

from synsec.engine.model import Line
from synsec.wire.codecs import DecodeError

__all__ = ["Shape", "VECTOR", "FILEBEAT", "RSYSLOG", "SYNSEC", "DEFAULT_SHAPES", "shapes_with", "raw_to_line"]

@dataclass(frozen=True)
class Shape:
    """How one shipper's JSON envelope maps onto a Line. Paths are dotted (`log.file.path`); first present wins."""

    name: str
    detect: tuple[str, ...]            # top-level keys that identify the shape (any one)
    message: tuple[str, ...]           # the log line text
    src: tuple[str, ...] = ()
    time: tuple[str, ...] = ()
    labels: str = ""                   # path of an object of labels
    module: tuple[str, ...] = ()
    default_module: str = "kafka"
    fixed_labels: tuple[tuple[str, str], ...] = ()          # implied by the shape; envelope labels override
    header: tuple[tuple[str, str, str], ...] = ()            # (prefix, path, suffix) pieces put before the message
    header_needs: tuple[str, ...] = ()                       # paths that must all be present to build the header
    header_end: str = ""


VECTOR = Shape("vector", ("source_type",), ("message",), src=("file", "host"), time=("timestamp",),
               labels="labels", module=("source_type",), default_module="vector")
FILEBEAT = Shape("filebeat", ("@timestamp",), ("message",), src=("log.file.path", "host.name"),
                 time=("@timestamp",), labels="fields", module=("input.type",), default_module="file")
RSYSLOG = Shape("rsyslog", ("programname", "timereported", "syslogtag", "msg"), ("msg", "message"),
                src=("fromhost-ip", "hostname"), time=("timereported",), labels="labels",
                default_module="syslog", fixed_labels=(("type", "syslog"),),
                header=(("", "timereported", " "), ("", "hostname", " "), ("", "programname", ""),
                        ("[", "procid", "]")),
                header_needs=("timereported", "hostname", "programname"), header_end=": ")
SYNSEC = Shape("synsec", ("message",), ("message",), src=("src",), time=("time",), labels="labels",
               module=("module",), default_module="kafka")
DEFAULT_SHAPES: tuple[Shape, ...] = (VECTOR, FILEBEAT, RSYSLOG, SYNSEC)


@lru_cache(maxsize=16)
def shapes_with(line_field: str = "message", labels_field: str = "labels") -> tuple[Shape, ...]:
    """The default shapes with the line and the labels of the vector and synsec envelopes read from other
    fields (a topology's `raw.line_field`/`raw.labels_field`, e.g. `log` and `crowdsec_labels`)."""
    return (replace(VECTOR, message=(line_field,), labels=labels_field), FILEBEAT, RSYSLOG,
            replace(SYNSEC, detect=(line_field,), message=(line_field,), labels=labels_field))


_MISSING = object()


def _get(doc: dict, path: str):
    if path in doc:                    # ECS documents may hold a dotted key literally ({"log.file.path": ...})
        return doc[path]
    node = doc
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _first(doc: dict, paths: tuple[str, ...], empty_ok: bool = False):
    """The value at the first path that holds one (null never counts; "" only when `empty_ok`)."""
    for path in paths:
        value = _get(doc, path)
        if value is not _MISSING and value is not None and (empty_ok or value != ""):
            return value
    return _MISSING


def _time(value) -> float:
    if isinstance(value, bool):
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip())
        except ValueError:
            return 0.0
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return dt.timestamp()
    return 0.0


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _labels(doc: dict, shape: Shape, default_labels: Mapping) -> dict:
    labels = {**default_labels, **dict(shape.fixed_labels)}
    if shape.labels:
        found = _get(doc, shape.labels)
        if found is not _MISSING and found is not None:
            if not isinstance(found, dict):
                raise DecodeError(f"raw ({shape.name}): labels field {shape.labels!r} is a "
                                  f"{type(found).__name__}, not an object")
            labels.update((str(k), _text(v)) for k, v in found.items())
    return labels


def _raw(doc: dict, shape: Shape, message: str) -> str:
    if shape.header and all(_first(doc, (p,)) is not _MISSING for p in shape.header_needs):
        pieces = []
        for prefix, path, suffix in shape.header:
            value = _first(doc, (path,))
            if value is not _MISSING:
                pieces.append(f"{prefix}{_text(value)}{suffix}")
        return "".join(pieces) + shape.header_end + message.lstrip(" ")   # rsyslog's %msg% keeps a leading space
    return message


def _strip_newline(text: str) -> str:
    return text.removesuffix("\n").removesuffix("\r")


def _envelope(text: str, default_labels: Mapping, shapes: tuple[Shape, ...], src: str) -> Line:
    try:
        doc = json.loads(text)
    except ValueError as err:
        raise DecodeError(f"raw: invalid JSON envelope: {err}") from None
    if not isinstance(doc, dict):
        raise DecodeError(f"raw: JSON envelope is a {type(doc).__name__}, not an object")
    shape = next((s for s in shapes if any(k in doc for k in s.detect)), None)
    if shape is None:
        keys = sorted({k for s in shapes for k in s.detect})
        raise DecodeError(f"raw: JSON envelope has no message field (no key among {', '.join(keys)})")
    message = _first(doc, shape.message, empty_ok=True)
    if message is _MISSING:
        raise DecodeError(f"raw ({shape.name}): no message field (looked for {', '.join(shape.message)})")
    if not isinstance(message, str):
        raise DecodeError(f"raw ({shape.name}): message is a {type(message).__name__}, not a string")
    found_src = _first(doc, shape.src)
    module = _first(doc, shape.module)
    line = Line(_strip_newline(_raw(doc, shape, message)),
                src if found_src is _MISSING else _text(found_src),
                _labels(doc, shape, default_labels),
                shape.default_module if module is _MISSING else _text(module),
                _time(_first(doc, shape.time)) if shape.time else 0.0)
    if "\\u" in text:          # a JSON \ud800 escape gives a lone surrogate: no UTF-8 (nor Avro) text can hold it
        for value in (line.Raw, line.Src, line.Module, *line.Labels.keys(), *line.Labels.values()):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise DecodeError(f"raw ({shape.name}): a lone surrogate escape in {value!r}") from None
    return line


def raw_to_line(value: bytes | None, default_labels: Mapping[str, str], shapes: tuple[Shape, ...] = DEFAULT_SHAPES,
                *, src: str = "") -> Line:
    """The Line in one synsec.raw message value. `src` is the Src of plain-text lines (e.g. the topic)."""
    if value is None:
        raise DecodeError("raw: null value")
    if value.lstrip()[:1] in (b"{", b"["):
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError as err:
            raise DecodeError(f"raw: JSON envelope is not valid UTF-8 ({err.reason} at byte {err.start})") from None
        return _envelope(text, default_labels, shapes, src)
    return Line(_strip_newline(value.decode("utf-8", errors="replace")), src, dict(default_labels), "kafka")
