"""Reading log files for replay: `-` is stdin, `.gz` is gunzipped; bad bytes never stop a replay."""

from __future__ import annotations

import gzip
import sys
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

__all__ = ["InputStats", "iter_lines", "MAX_LINE_BYTES"]

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


def iter_lines(paths: list[str], stats: InputStats, max_bytes: int = MAX_LINE_BYTES) -> Iterator[tuple[str, str]]:
    """Yield (source, line) for every line; over-long lines are skipped and counted, bad UTF-8 replaced."""
    for path in paths:
        src = "stdin" if path == "-" else path
        fh = _open(path)
        try:
            for raw in fh:
                stats.bytes += len(raw)
                if len(raw) > max_bytes:
                    stats.too_long += 1
                    continue
                raw = raw.rstrip(b"\r\n")
                if not raw:
                    continue
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    stats.invalid_utf8 += 1
                    text = raw.decode("utf-8", errors="replace")
                if "\x00" in text:
                    stats.binary += 1
                    text = text.replace("\x00", "\ufffd")
                stats.per_source[src] = stats.per_source.get(src, 0) + 1
                yield src, text
        finally:
            if fh is not sys.stdin.buffer:
                fh.close()
