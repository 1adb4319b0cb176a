"""Follow log files like `tail -F` for `synsec run`: appends, rotation, truncation, globs, resumable offsets.

A file is known by its identity `(st_dev, st_ino)`, not by its name:
- **rotation** (rename + new file): the renamed file keeps being read while it grows (the writer may hold it a
  moment longer) and is closed after `grace_s` without growth, its last unterminated line emitted; the new file
  at the name is read from its start. If a glob also matches the rotated name (`auth.log*`), the file is the
  same one under a new name and is not read twice;
- **truncation** (copytruncate): a file smaller than what was read restarts at 0;
- **globs** are expanded again every `rescan_s`: files that appear later are read from their start;
- a **partial last line** waits for its newline; a line longer than the source's limit is skipped and counted,
  as are invalid UTF-8 and binary lines (`synsec.runner.inputs.LineSplitter`, as replay does). After a restart
  an over-long line is skipped again from its start, never read from its middle.

At start a file is read from its end (`mode: tail`, CrowdSec's behaviour) or its start (`mode: cat`, read once),
unless `saved` positions (from `positions()` of a previous run) name it: then reading resumes at the saved offset
when the file's identity and first bytes match — or at 0 if the name now holds a different file (it rotated
while synsec was stopped). A file with no saved position that a glob of the previous run (`saved_globs`)
matches appeared while synsec was stopped: it is read from its start too. `.gz` files are never tailed (read them with `synsec replay`). The caller passes the
time in (`now`): nothing here reads a clock.
"""

from __future__ import annotations

import glob
import hashlib
import os
import stat as stat_mod
from dataclasses import dataclass, field
from typing import BinaryIO

from synsec.engine.counters import CounterSet
from synsec.runner.acquis import FileSource
from synsec.runner.inputs import LineSplitter

__all__ = ["Tailer", "HEAD_BYTES"]

HEAD_BYTES = 128          # the first bytes of a file, hashed to recognise it again after a restart


@dataclass
class _File:
    path: str
    source: FileSource
    key: tuple[int, int]
    fh: BinaryIO | None
    pos: int                              # bytes read so far
    last_growth: float
    lines: LineSplitter                   # holds the last line until its newline comes
    rotated_at: float | None = None       # when its name stopped naming it
    done: bool = False                    # mode cat: read to the end once
    head: tuple[int, str] = (-1, "")      # (n, sha1 of the file's first n bytes), n = min(offset, HEAD_BYTES)

    @property
    def offset(self) -> int:
        """Where a restart resumes: after the last complete line."""
        return self.pos - self.lines.pending           # an over-long line is skipped again


@dataclass
class Tailer:
    sources: list[FileSource]
    counts: CounterSet                            # lines' bytes and errors, files opened/rotated/truncated/resumed
    saved: dict = field(default_factory=dict)     # path -> {"dev", "ino", "offset", "head", "head_len"}
    saved_globs: tuple = ()                       # the patterns of the run that saved `saved` (`patterns()`)
    rescan_s: float = 1.0
    grace_s: float = 5.0
    chunk: int = 1 << 20                          # bytes read per file per poll (fairness, bounded memory)
    from_start: bool = False                      # files found at start are read from their first byte

    def __post_init__(self):
        self.files: dict[tuple[int, int], _File] = {}
        self._last_scan = None
        self._saved_by_key = {(e.get("dev"), e.get("ino")): e for e in self.saved.values() if isinstance(e, dict)}

    # --- public ---
    def start(self, now: float) -> list[str]:
        """Open the files the sources match now; returns the patterns that match nothing (to warn about)."""
        matched = self._scan(now, initial=True)
        return [g for s in self.sources for g in s.globs if g not in matched]

    def rescan(self, now: float) -> bool:
        """Expand the globs again if `rescan_s` has passed; True when a file was opened (none of its lines is
        read yet: a caller that saves `positions()` now resumes it from its start after a crash)."""
        if self._last_scan is not None and now - self._last_scan < self.rescan_s:
            return False
        opened = len(self.files)
        self._scan(now, initial=False)
        return len(self.files) > opened

    def poll(self, now: float) -> tuple[list[tuple[dict, str, str]], bool]:
        """New complete lines as (labels, path, text), and whether some file has more to read right away."""
        lines, more = self.poll_sources(now)
        return [(source.labels, path, text) for source, path, text in lines], more

    def poll_sources(self, now: float) -> tuple[list[tuple[FileSource, str, str]], bool]:
        """Like `poll`, each line with its source (its labels, its transform) instead of its labels."""
        self.rescan(now)
        out: list[tuple[FileSource, str, str]] = []
        more = False
        for key, f in list(self.files.items()):
            if f.fh is None:
                continue
            more |= self._read(f, now, out)
            if f.rotated_at is not None and now - max(f.rotated_at, f.last_growth) >= self.grace_s:
                self._close_rotated(key, f, out)
        return out, more

    def positions(self) -> dict:
        """{path: {dev, ino, offset, head, head_len}} to resume from (previous runs' other paths kept)."""
        out = dict(self.saved)
        for f in self.files.values():
            if f.rotated_at is not None:
                continue
            head_len, head = self._head(f)
            out[f.path] = {"dev": f.key[0], "ino": f.key[1], "offset": f.offset, "head": head,
                           "head_len": head_len}
        return out

    def patterns(self) -> list[str]:
        """The globs followed (saved with `positions()`: a file one of them matches after a restart that has no
        saved position appeared while synsec was stopped, and is read from its start)."""
        return sorted({g for s in self.sources if s.mode == "tail" for g in s.globs})

    def following(self) -> list[str]:
        """Paths of the files being followed (not those rotated away or read to the end in mode cat)."""
        return sorted(f.path for f in self.files.values() if f.rotated_at is None and not f.done)

    def close(self) -> None:
        for f in self.files.values():
            if f.fh is not None:
                f.fh.close()
                f.fh = None

    # --- discovery ---
    def _expand(self, initial: bool) -> tuple[dict, set]:
        """{path: (source, stat)} of the regular files the sources match, and the patterns that matched."""
        found: dict = {}
        matched: set = set()
        for source in self.sources:
            if source.mode == "cat" and not initial:
                continue                                  # cat reads what is there at start, once
            for pattern in source.globs:
                paths = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
                for path in paths:
                    if path in found or path.endswith(".gz") or source.excluded(path):
                        continue
                    try:
                        st = os.stat(path)
                    except OSError:
                        continue
                    if stat_mod.S_ISREG(st.st_mode):
                        found[path] = (source, st, pattern)
                        matched.add(pattern)
        return found, matched

    def _scan(self, now: float, initial: bool) -> set:
        self._last_scan = now
        found, matched = self._expand(initial)
        names = {}
        for path, (source, st, pattern) in found.items():
            key = (st.st_dev, st.st_ino)
            names[path] = key
            f = self.files.get(key)
            if f is None:
                self._open(path, source, st, key, initial and pattern not in self.saved_globs, now)
            elif f.path != path or f.rotated_at is not None:
                f.path, f.rotated_at = path, None          # renamed to a name the globs match: same file
        for f in self.files.values():
            if f.source.mode == "tail" and f.rotated_at is None and names.get(f.path) != f.key:
                f.rotated_at = now                         # its name is gone or names another file
                self.counts.inc("rotations")
        return matched

    def _open(self, path: str, source: FileSource, st, key, initial: bool, now: float) -> None:
        try:
            fh = open(path, "rb", buffering=0)
        except OSError:
            return
        pos = self._resume_at(path, key, st, fh)
        if pos is None:
            rotated_while_stopped = path in self.saved
            pos = st.st_size if initial and source.mode == "tail" and not rotated_while_stopped \
                and not self.from_start else 0
        else:
            self.counts.inc("resumed")
        fh.seek(pos)
        self.files[key] = _File(path, source, key, fh, pos, now, LineSplitter(self.counts, source.max_line_bytes))
        self.counts.inc("opened")

    def _resume_at(self, path: str, key, st, fh) -> int | None:
        """The saved offset of this very file (same identity and first bytes), under any saved name."""
        e = self._saved_by_key.get(key)
        if e is None:
            return None
        offset, head_len = int(e.get("offset", 0)), int(e.get("head_len", 0))
        if offset > st.st_size or hashlib.sha1(os.pread(fh.fileno(), head_len, 0)).hexdigest() != e.get("head"):
            return None                                    # inode reused by another file, or truncated
        return offset

    @staticmethod
    def _head(f: _File) -> tuple[int, str]:
        """(n, sha1 of the first n bytes) for n = min(offset, HEAD_BYTES); cached once the file is closed."""
        n = min(f.offset, HEAD_BYTES)
        if f.head[0] != n and f.fh is not None:
            f.head = (n, hashlib.sha1(os.pread(f.fh.fileno(), n, 0)).hexdigest())
        return f.head

    # --- reading ---
    def _read(self, f: _File, now: float, out: list) -> bool:
        size = os.fstat(f.fh.fileno()).st_size
        if size < f.pos:                                   # truncated in place (copytruncate)
            self.counts.inc("truncations")
            f.pos = 0
            f.lines.reset()
            f.fh.seek(0)
        if size > f.pos:
            data = f.fh.read(min(size - f.pos, self.chunk)) or b""
            f.pos += len(data)
            f.last_growth = now
            self._split(f, data, out)
        if f.pos < size:
            return True
        if f.source.mode == "cat":
            self._finish_cat(f, out)                       # read what was there, once
        return False

    def _split(self, f: _File, data: bytes, out: list) -> None:
        source, path = f.source, f.path
        out.extend((source, path, text) for text in f.lines.feed(data, path))

    def _flush_partial(self, f: _File, out: list) -> None:
        text = f.lines.flush(f.path)
        if text is not None:
            out.append((f.source, f.path, text))

    def _finish_cat(self, f: _File, out: list) -> None:
        self._flush_partial(f, out)
        self._head(f)
        f.done = True
        f.fh.close()
        f.fh = None

    def _close_rotated(self, key, f: _File, out: list) -> None:
        self._flush_partial(f, out)
        f.fh.close()
        del self.files[key]
