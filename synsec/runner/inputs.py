"""Reading log files for replay: `-` is stdin, `.gz` is gunzipped; bad bytes never stop a replay."""

from __future__ import annotations

import gzip
import sys
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

__all__ = ["InputStats", "decode_line", "iter_lines", "MAX_LINE_BYTES"]

MAX_LINE_BYTES = 64 * 1024


@dataclass
class InputStats:
    bytes: int = 0
    too_long: int = 0
    invalid_utf8: int = 0
    binary: int = 0
    per_source: dict = field(default_factory=dict)


def _open(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    with open(path, "rb") as probe:
        magic = probe.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def decode_line(raw: bytes, stats: InputStats, src: str, max_bytes: int = MAX_LINE_BYTES) -> str | None:
    """One raw line (newline included or not) as text, counted in `stats`; None when it is skipped:
    over-long (counted) or empty. Invalid UTF-8 is replaced and NUL bytes (binary) too, both counted."""
    stats.bytes += len(raw)
    if len(raw) > max_bytes:
        stats.too_long += 1
        return None
    raw = raw.rstrip(b"\r\n")
    if not raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        stats.invalid_utf8 += 1
        text = raw.decode("utf-8", errors="replace")
    if "\x00" in text:
        stats.binary += 1
        text = text.replace("\x00", "\ufffd")
    stats.per_source[src] = stats.per_source.get(src, 0) + 1
    return text


def iter_lines(paths: list[str], stats: InputStats, max_bytes: int = MAX_LINE_BYTES) -> Iterator[tuple[str, str]]:
    """Yield (source, line) for every line; over-long lines are skipped and counted, bad UTF-8 replaced."""
    for path in paths:
        src = "stdin" if path == "-" else path
        fh = _open(path)
        try:
            for raw in fh:
                text = decode_line(raw, stats, src, max_bytes)
                if text is not None:
                    yield src, text
        finally:
            if fh is not sys.stdin.buffer:
                fh.close()
