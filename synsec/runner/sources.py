"""Every input of `synsec run` behind one poll: files (`Tailer`), journald (`JournalReader`), syslog listeners
(`SyslogListener`) and stdin, with each source's `transform` applied to its lines.

`Inputs.poll(now)` returns engine `Line`s (text, source, labels, module, time) and whether more is waiting;
`positions()` and `cursors()` are what the run state saves so that a restart resumes files and journals.
`transform` is CrowdSec's: an expr over `evt` (the line's event) that returns the new line (a string) or a
list of lines; an error, nil or any other value passes the line on unchanged, counted in `transform_errors`.
Every input counts into one `synsec.engine.counters.CounterSet` (`counts`: the run's engine's).
"""

from __future__ import annotations

import os
import select
import sys
import time
from typing import BinaryIO, Callable

from synsec.engine.counters import CounterSet
from synsec.engine.expr import ExprRuntimeError
from synsec.engine.model import Event, Line
from synsec.runner.acquis import FileSource, JournalSource, StdinSource, SyslogSource
from synsec.runner.inputs import LineSplitter
from synsec.runner.journal import JournalReader
from synsec.runner.listener import SyslogListener
from synsec.runner.tail import Tailer

__all__ = ["Inputs", "StdinReader", "transformed"]


def transformed(transform, line: Line, counts: CounterSet) -> list[Line]:
    """The lines a source's `transform` makes of `line` (CrowdSec's semantics, see the module doc)."""
    try:
        out = transform(Event(line))
    except ExprRuntimeError:
        counts.inc("transform_errors")
        return [line]
    if isinstance(out, str):
        return [_with_raw(line, out)]
    if isinstance(out, (list, tuple)):
        lines = []
        for item in out:
            if isinstance(item, str):
                lines.append(_with_raw(line, item))
            else:
                counts.inc("transform_errors")
                lines.append(line)
        return lines
    counts.inc("transform_errors")
    return [line]


def _with_raw(line: Line, raw: str) -> Line:
    return Line(raw, line.Src, dict(line.Labels), line.Module, line.Time)


class StdinReader:
    """Lines of standard input read without blocking; `done` at its end."""

    def __init__(self, source: StdinSource, counts: CounterSet, stream: BinaryIO | None = None):
        self.source = source
        self.stream = stream if stream is not None else getattr(sys.stdin, "buffer", None)   # None: closed
        self.lines = LineSplitter(counts, source.max_line_bytes)
        self.done = False
        self.fd: int | None = None
        self.was_blocking = True

    def start(self, now: float) -> None:
        try:
            if self.stream is None:
                raise ValueError("no stdin")
            self.fd = self.stream.fileno()
            self.was_blocking = os.get_blocking(self.fd)
            os.set_blocking(self.fd, False)       # shared with the shell on a terminal: restored by close()
        except (OSError, ValueError):             # stdin closed (`<&-`): nothing to read
            self.done = True

    def poll(self, now: float, chunk: int = 1 << 20) -> tuple[list[Line], bool]:
        if self.done:
            return [], False
        try:
            data = os.read(self.fd, chunk)
        except BlockingIOError:
            return [], False
        except OSError:                           # EIO on a terminal that went away: the end of stdin
            data = b""
        labels = self.source.labels
        if not data:
            self.done = True
            last = self.lines.flush("stdin")
            return ([Line(last, "stdin", labels, "stdin")] if last is not None else []), False
        return [Line(text, "stdin", labels, "stdin") for text in self.lines.feed(data, "stdin")], len(data) == chunk

    def close(self) -> None:
        if self.fd is not None:
            try:
                os.set_blocking(self.fd, self.was_blocking)
            except OSError:
                pass
            self.fd = None


class Inputs:
    """The inputs of one `synsec run`, polled in turn."""

    def __init__(self, sources: list, counts: CounterSet, *, saved: dict | None = None, saved_globs: tuple = (),
                 cursors: dict | None = None, from_start: bool = False,
                 warn: Callable[[str], None] = lambda _msg: None, journalctl: str = "journalctl",
                 tailer: Tailer | None = None):
        self.sources = list(sources)
        self.counts = counts
        self.tailer = tailer or Tailer([s for s in sources if isinstance(s, FileSource)], counts, saved=saved or {},
                                       saved_globs=tuple(saved_globs), from_start=from_start)
        cursors = cursors or {}
        self.journals = [JournalReader(s, counts, cursors.get(s.src), warn, journalctl)
                         for s in sources if isinstance(s, JournalSource)]
        self.listeners = [SyslogListener(s, counts, warn) for s in sources if isinstance(s, SyslogSource)]
        self.stdin = [StdinReader(s, counts) for s in sources if isinstance(s, StdinSource)]
        self._saved_cursors = dict(cursors)

    @classmethod
    def of(cls, tailer: Tailer) -> "Inputs":
        """A tailer alone as Inputs (files only)."""
        return cls(tailer.sources, tailer.counts, tailer=tailer)

    def _readers(self) -> list:
        return [*self.journals, *self.listeners, *self.stdin]

    # --- the runner's interface ---
    def start(self, now: float) -> list[str]:
        """Open every input; the file patterns that match nothing yet. A listener that cannot bind, or a
        journalctl that cannot run, raises LoadError (the inputs started so far are closed)."""
        missing = self.tailer.start(now)
        try:
            for reader in self._readers():
                reader.start(now)
        except BaseException:
            self.close()
            raise
        return missing

    def rescan(self, now: float) -> bool:
        return self.tailer.rescan(now)

    def poll(self, now: float) -> tuple[list[Line], bool]:
        """New lines from every input (transformed), and whether some input has more right away."""
        out: list[Line] = []
        lines, more = self.tailer.poll_sources(now)
        for source, path, text in lines:
            self._add(source, Line(text, path, source.labels, "file"), out)
        for reader in self._readers():
            got, pending = reader.poll(now)
            more |= pending
            for line in got:
                self._add(reader.source, line, out)
        return out, more

    def _add(self, source, line: Line, out: list[Line]) -> None:
        if source.transform is None:
            out.append(line)
        else:
            out.extend(transformed(source.transform, line, self.counts))

    def wait(self, timeout: float) -> None:
        """Sleep up to `timeout`, waking as soon as a socket, journalctl or stdin has something to read (files
        are polled: they have no such signal)."""
        fds = [fd for listener in self.listeners for fd in listener.fds()]
        fds += [j.proc.stdout for j in self.journals if j.proc is not None]
        fds += [r.fd for r in self.stdin if not r.done and r.fd is not None]
        if not fds:
            time.sleep(timeout)
            return
        waiter = select.poll()                    # poll, not select: no limit on descriptor numbers
        for fd in fds:
            waiter.register(fd, select.POLLIN)
        waiter.poll(timeout * 1000)               # a descriptor closed meanwhile reports POLLNVAL: no wait

    def finished(self) -> bool:
        """True when stdin is read to its end and no other input follows anything (nothing more will come)."""
        if not self.stdin or not all(r.done for r in self.stdin) or self.listeners:
            return False
        if any(j.source.mode == "tail" or not j.done for j in self.journals):
            return False
        return all(s.mode == "cat" for s in self.tailer.sources) and not self.tailer.following()

    def positions(self) -> dict:
        return self.tailer.positions()

    def patterns(self) -> list[str]:
        return self.tailer.patterns()

    def cursors(self) -> dict:
        """{journal source: cursor of its last entry handed out} (previous runs' other sources kept)."""
        out = dict(self._saved_cursors)
        out.update({j.source.src: j.cursor for j in self.journals if j.cursor})
        return out

    def following(self) -> list[str]:
        return self.tailer.following()

    def describe(self) -> str:
        """What is read, for the start message: files, journals, listeners, stdin."""
        parts = [f"{len(self.following())} file(s)"]
        if self.journals:
            parts.append(f"{len(self.journals)} journal(s)")
        for listener in self.listeners:
            parts.append("syslog on " + " ".join(listener.addresses))
        if self.stdin:
            parts.append("stdin")
        return ", ".join(parts)

    def close(self) -> None:
        self.tailer.close()
        for reader in self._readers():
            reader.close()
