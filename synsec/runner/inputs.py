"""Reading log lines for replay and run: `-` is stdin, `.gz` is gunzipped, `journalctl://` a journal; bad bytes
never stop a replay, and no line, however long, is held whole in memory (`LineSplitter`). The readers count into
a `synsec.engine.counters.CounterSet` (the engine's, so one set holds a run's counts): `bytes` by source, and bad
lines by kind — `too_long` and `unreadable` (not in its source's format; skipped), `invalid_utf8` and `binary`
(replaced, kept)."""

from __future__ import annotations

import gzip
import sys
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from synsec.engine.counters import CounterSet

__all__ = ["LineSplitter", "decode_line", "decode_text", "iter_lines", "read_lines", "MAX_LINE_BYTES"]

MAX_LINE_BYTES = 64 * 1024


def _open(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    with open(path, "rb") as probe:
        magic = probe.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def decode_line(raw: bytes, counts: CounterSet, src: str, max_bytes: int = MAX_LINE_BYTES) -> str | None:
    """One raw line (newline included or not) as text, counted in `counts`; None when it is skipped:
    over-long (counted) or empty. Invalid UTF-8 is replaced and NUL bytes (binary) too, both counted."""
    counts.inc("bytes", src, n=len(raw))
    if len(raw) > max_bytes:
        counts.inc("too_long")
        return None
    raw = raw.rstrip(b"\r\n")
    if not raw:
        return None
    return decode_text(raw, counts)


def decode_text(raw: bytes, counts: CounterSet) -> str:
    """Bytes of a line as text: invalid UTF-8 and NUL bytes are replaced by U+FFFD, and counted."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        counts.inc("invalid_utf8")
        text = raw.decode("utf-8", errors="replace")
    if "\x00" in text:
        counts.inc("binary")
        text = text.replace("\x00", "\ufffd")
    return text


@dataclass
class LineSplitter:
    """Cuts a byte stream, fed in chunks of any size, into decoded lines (`decode_line`), in bounded memory.

    Only the unfinished last line is held between chunks, and never `limit` bytes of it: a line of `limit`
    bytes or more (its newline included) is counted `too_long` as soon as that many bytes of it have come,
    and the rest of it is dropped as it arrives, however long it is."""

    counts: CounterSet
    limit: int = MAX_LINE_BYTES
    partial: bytes = b""                  # the unfinished last line, while it is shorter than `limit`
    skipping: bool = False                # inside an over-long line: drop bytes until its newline
    pending: int = 0                      # bytes of the unfinished last line, held or dropped

    def feed(self, data: bytes, src: str) -> list[str]:
        """The lines that `data` completes (over-long, empty ones left out)."""
        counts = self.counts
        if self.skipping:
            nl = data.find(b"\n")
            counts.inc("bytes", src, n=len(data) if nl < 0 else nl + 1)
            if nl < 0:
                self.pending += len(data)
                return []
            data, self.skipping, self.pending = data[nl + 1:], False, 0
        parts = (self.partial + data).split(b"\n") if self.partial else data.split(b"\n")
        rest = parts.pop()
        out: list[str] = []
        append, limit = out.append, self.limit - 1      # limit - 1: the newline counts
        total, too_long = len(parts), 0                 # bytes (the newlines too) and lines skipped
        for raw in parts:                               # decode_line's rules, counted once for the chunk
            total += len(raw)
            if len(raw) > limit:
                too_long += 1
                continue
            raw = raw.rstrip(b"\r\n")
            if raw:
                append(decode_text(raw, counts))
        counts.inc("bytes", src, n=total)
        if too_long:
            counts.inc("too_long", n=too_long)
        self.partial, self.pending = rest, len(rest)
        if len(rest) >= self.limit:                        # an over-long line still being written
            counts.inc("too_long")
            counts.inc("bytes", src, n=len(rest))
            self.partial, self.skipping = b"", True
        return out

    def flush(self, src: str) -> str | None:
        """The unterminated last line (at the end of the stream), if any; the splitter is then empty."""
        text = None
        if self.partial and not self.skipping:
            text = decode_line(self.partial, self.counts, src, self.limit)
        self.reset()
        return text

    def reset(self) -> None:
        self.partial, self.skipping, self.pending = b"", False, 0


def read_lines(fh: BinaryIO, counts: CounterSet, src: str, max_bytes: int = MAX_LINE_BYTES,
               chunk: int = 1 << 20) -> Iterator[str]:
    """Every line of a binary stream, read `chunk` bytes at a time (`read1` where the stream has it, so a pipe's
    lines come as they are written): memory stays within `chunk` + `max_bytes` whatever the lines' length."""
    lines = LineSplitter(counts, max_bytes)
    read = getattr(fh, "read1", None) or fh.read
    while data := read(chunk):
        yield from lines.feed(data, src)
    last = lines.flush(src)
    if last is not None:
        yield last


def iter_lines(paths: list[str], counts: CounterSet, max_bytes: int = MAX_LINE_BYTES) -> Iterator[tuple[str, str]]:
    """Yield (source, line) for every line; over-long lines are skipped and counted, bad UTF-8 replaced.
    A path `journalctl://filters=...` is CrowdSec's one-shot journal DSN (`synsec.runner.journal`)."""
    for path in paths:
        if path.startswith("journalctl://"):
            from synsec.runner.journal import iter_journal, source_of_dsn

            source = source_of_dsn(path, {})
            yield from ((line.Src, line.Raw) for line in iter_journal(source, counts))
            continue
        src = "stdin" if path == "-" else path
        fh = _open(path)
        try:
            for text in read_lines(fh, counts, src, max_bytes):
                yield src, text
        finally:
            if fh is not sys.stdin.buffer:
                fh.close()
