"""journald through `journalctl -o json` for `synsec run` (CrowdSec's journalctl data source) and replay.

CrowdSec runs `journalctl --follow -n 0 FILTERS` and reads its default short output. synsec runs
`journalctl FILTERS -o json` (`--follow` in mode tail) instead, so that each entry comes with its cursor and
exact time, and writes the same short line CrowdSec's parsers see: `TIME HOST IDENTIFIER[PID]: MESSAGE`
(`synsec.runner.syslog.syslog_line`; IDENTIFIER is SYSLOG_IDENTIFIER, else _COMM, as journalctl prints it).
MESSAGE may be a string or, for a binary or non-UTF-8 message, an array of bytes; `__REALTIME_TIMESTAMP` is
the line's time. The filters are passed to journalctl as they are written, as CrowdSec does (matches such as
`_SYSTEMD_UNIT=ssh.service`, or options such as `--directory=/var/log/journal`).

The cursor of the last entry handed out is saved with the run state; a restart resumes with `--after-cursor`,
neither skipping nor repeating an entry. Without a cursor, mode tail starts at the end (`-n 0`, as CrowdSec)
and mode cat (and the replay DSN `journalctl://filters=...`) reads everything once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Callable, Iterator
from urllib.parse import parse_qs

from synsec.engine.errors import LoadError, Where
from synsec.engine.model import Line
from synsec.runner.acquis import JournalSource
from synsec.engine.counters import CounterSet
from synsec.runner.inputs import LineSplitter, decode_text, read_lines
from synsec.runner.syslog import syslog_line, valid_time

__all__ = ["JournalReader", "entry_line", "journal_argv", "source_of_dsn", "iter_journal", "JSON_LINE_BYTES"]

JSON_LINE_BYTES = 1 << 20          # one entry as JSON (its MESSAGE is then held to the source's own limit)
_STDERR_WARNINGS = 5                # journalctl stderr lines shown as warnings (per reader)
RESTART_S = 10.0                    # a follow that exits is restarted after this long (CrowdSec: 10 s)


def journal_argv(source: JournalSource, cursor: str | None, journalctl: str = "journalctl") -> list[str]:
    """The journalctl command line for `source`, resuming after `cursor` when there is one."""
    argv = [journalctl, *source.filters, "-o", "json", "--no-pager"]
    if source.since:
        argv += ["--since", source.since]
    if source.mode == "tail":
        argv.append("--follow")
    if cursor:
        argv += ["--after-cursor", cursor]
    elif source.mode == "tail":
        argv += ["-n", "0"]
    return argv


def _message(value, counts: CounterSet) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(b, int) and 0 <= b < 256 for b in value):
        return decode_text(bytes(value), counts)
    return None


def _field(entry: dict, *names: str) -> str | None:
    for name in names:
        value = entry.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def entry_line(entry: dict, counts: CounterSet, max_bytes: int) -> tuple[str, float] | None:
    """(line, time) of one `journalctl -o json` entry; None (counted) without a usable MESSAGE or time, or when
    the message is longer than `max_bytes`."""
    message = _message(entry.get("MESSAGE"), counts)
    try:
        ts = int(entry.get("__REALTIME_TIMESTAMP")) / 1e6
    except (TypeError, ValueError, OverflowError):
        ts = None
    if message is None or ts is None or not valid_time(ts):
        counts.inc("unreadable")
        return None
    if len(message) > max_bytes:
        counts.inc("too_long")
        return None
    message = message.rstrip("\n")
    app = _field(entry, "SYSLOG_IDENTIFIER", "_COMM") or "unknown"
    pid = _field(entry, "SYSLOG_PID", "_PID")
    return syslog_line(ts, _field(entry, "_HOSTNAME"), app, pid, message), ts


def _decode(text: str, counts: CounterSet) -> dict | None:
    try:
        entry = json.loads(text)
    except ValueError:
        entry = None
    if not isinstance(entry, dict):
        counts.inc("unreadable")
        return None
    return entry


class JournalReader:
    """One `journalctl` child process read without blocking; `poll()` returns the Lines of new entries."""

    def __init__(self, source: JournalSource, counts: CounterSet, cursor: str | None = None,
                 warn: Callable[[str], None] = lambda _msg: None, journalctl: str = "journalctl"):
        self.source = source
        self.counts = counts
        self.cursor = cursor
        self.warn = warn
        self.journalctl = journalctl
        self.proc: subprocess.Popen | None = None
        self.lines = LineSplitter(counts, JSON_LINE_BYTES)
        self.errors = b""
        self.warned = 0
        self.done = False
        self._down_since: float | None = None

    def start(self, now: float) -> None:
        """Run journalctl. Without a journalctl on this host the source is skipped with one warning, as
        CrowdSec skips a data source that cannot run (a container with no journal), and the others run."""
        if shutil.which(self.journalctl) is None:
            at = self.source.where
            self.warn(f"{at.path}:{at.line}: source journalctl: no {self.journalctl} command on this host, skipped")
            self.done = True
            return
        argv = journal_argv(self.source, self.cursor, self.journalctl)
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE)
        except OSError as err:
            raise LoadError(self.source.where.child("journalctl_filter"), f"cannot run journalctl: {err}") from None
        for pipe in (self.proc.stdout, self.proc.stderr):
            os.set_blocking(pipe.fileno(), False)
        self.lines.reset()
        self._down_since = None

    def poll(self, now: float, chunk: int = 1 << 20) -> tuple[list[Line], bool]:
        """New entries as Lines, and whether more output is waiting. A follow that ended is restarted later."""
        if self.proc is None:
            if not self.done and self._down_since is not None and now - self._down_since >= RESTART_S:
                self.counts.inc("journal_restarts")
                self.start(now)
            return [], False
        out: list[Line] = []
        data, ended = b"", False
        while len(data) < chunk:                  # a pipe gives at most its capacity (64 KiB) per read
            got = self._read(self.proc.stdout, chunk - len(data))
            if not got:
                ended = got is None
                break
            data += got
        self._stderr(self._read(self.proc.stderr, 4096) or b"")
        src, labels = self.source.src, self.source.labels
        for text in self.lines.feed(data, src) if data else ():
            entry = _decode(text, self.counts)
            if entry is None:
                continue
            got = entry_line(entry, self.counts, self.source.max_line_bytes)
            cursor = entry.get("__CURSOR")
            if isinstance(cursor, str):
                self.cursor = cursor
            if got is not None:
                out.append(Line(got[0], src, labels, "journalctl", got[1]))
        if ended or (not data and self.proc.poll() is not None):
            self._ended(now)
        return out, len(data) >= chunk

    def _stderr(self, data: bytes) -> None:
        """Keep journalctl's last stderr bytes, and warn with its first lines (permission hints, bad filters)."""
        if not data:
            return
        self.errors = (self.errors + data)[-4096:]
        for raw in data.split(b"\n")[:-1][:max(0, _STDERR_WARNINGS - self.warned)]:
            if raw.strip():
                self.warned += 1
                self.warn(f"{self.source.where}: {self.source.src}: journalctl: "
                          f"{raw.decode('utf-8', errors='replace').strip()[:300]}")

    @staticmethod
    def _read(pipe, n: int) -> bytes | None:
        """Up to n bytes; b"" when nothing is waiting, None at end of stream."""
        try:
            data = os.read(pipe.fileno(), n)
        except BlockingIOError:
            return b""
        return data if data else None

    def _ended(self, now: float) -> None:
        code = self.proc.wait()
        errors = self.errors.decode("utf-8", errors="replace").strip()
        self.close()
        if self.source.mode == "cat" and code == 0:
            self.done = True
            return
        what = f"journalctl exited with {code}" + (f": {errors.splitlines()[-1]}" if errors else "")
        self.warn(f"{self.source.where}: {self.source.src}: {what}"
                  + ("" if self.source.mode == "cat" else f"; restarting in {RESTART_S:.0f}s"))
        self.done = self.source.mode == "cat"
        self._down_since = now

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            for pipe in (self.proc.stdout, self.proc.stderr):
                pipe.close()
            self.proc = None
        self.errors = b""


def source_of_dsn(dsn: str, labels: dict) -> JournalSource:
    """CrowdSec's one-shot form `journalctl://filters=F1&filters=F2[&since=...]` as a mode-cat source."""
    where = Where(dsn)
    query = dsn[len("journalctl://"):]
    if not query:
        raise LoadError(where, "empty journalctl:// DSN (expected journalctl://filters=...)")
    params = parse_qs(query, keep_blank_values=True)
    for key in params:
        if key not in ("filters", "since", "log_level"):
            raise LoadError(where, f"unsupported key {key!r} in journalctl DSN (filters, since)")
    filters = tuple(params.get("filters", ()))
    if not filters:
        raise LoadError(where, "journalctl DSN without filters (journalctl://filters=_SYSTEMD_UNIT=ssh.service)")
    since = params.get("since", [None])[-1]
    return JournalSource(filters, labels, "cat", where, since=since)


def iter_journal(source: JournalSource, counts: CounterSet, journalctl: str = "journalctl") -> Iterator[Line]:
    """Every entry of a mode-cat source, blocking (replay); a journalctl failure is a LoadError with its stderr."""
    argv = journal_argv(source, None, journalctl)
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as err:
        raise LoadError(source.where, f"cannot run journalctl: {err}") from None
    try:
        for text in read_lines(proc.stdout, counts, source.src, JSON_LINE_BYTES):
            entry = _decode(text, counts)
            got = entry_line(entry, counts, source.max_line_bytes) if entry is not None else None
            if got is not None:
                yield Line(got[0], source.src, source.labels, "journalctl", got[1])
        errors = proc.stderr.read(65536).decode("utf-8", errors="replace").strip()
        if proc.wait() != 0:
            raise LoadError(source.where, f"journalctl exited with {proc.returncode}"
                            + (f": {errors.splitlines()[-1]}" if errors else ""))
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
