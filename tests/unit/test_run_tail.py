"""synsec.runner.tail.Tailer: appends, partial lines, rotation, truncation, globs, bad lines, resumable offsets."""

from __future__ import annotations

import os

from synsec.runner.acquis import FileSource
from synsec.engine.counters import CounterSet
from synsec.runner.tail import Tailer


def _tailer(*globs, mode="tail", saved=None, max_bytes=64 * 1024, **kw) -> Tailer:
    src = FileSource(tuple(str(g) for g in globs), {"type": "syslog"}, mode, max_line_bytes=max_bytes)
    return Tailer([src], CounterSet(), saved=saved or {}, **kw)


def _texts(tailer: Tailer, now: float = 0.0) -> list[str]:
    lines, _more = tailer.poll(now)
    return [text for _labels, _path, text in lines]


def _append(path, text: str | bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(text.encode() if isinstance(text, str) else text)


def test_tail_mode_starts_at_the_end_and_holds_partial_lines(tmp_path):
    """Existing content is skipped (mode tail); appends come once; a partial line waits for its newline."""
    log = tmp_path / "a.log"
    log.write_text("old line\n")
    t = _tailer(log)
    assert t.start(0.0) == [] and _texts(t) == []
    _append(log, "one\ntw")
    assert _texts(t) == ["one"]
    assert _texts(t) == []
    _append(log, "o\nthree\n")
    assert _texts(t) == ["two", "three"]


def test_from_start_reads_what_is_there_then_follows(tmp_path):
    """`from_start` (synsec up --from-start): the files found at start are read from their first byte."""
    log = tmp_path / "a.log"
    log.write_text("old line\n")
    t = _tailer(log, from_start=True)
    t.start(0.0)
    assert _texts(t) == ["old line"]
    _append(log, "new\n")
    assert _texts(t) == ["new"]


def test_labels_and_source_path_travel_with_each_line(tmp_path):
    """Each line comes with its source's labels and the path it was read from."""
    log = tmp_path / "a.log"
    log.write_text("")
    t = _tailer(log)
    t.start(0.0)
    _append(log, "x\n")
    assert t.poll(0.0)[0] == [({"type": "syslog"}, str(log), "x")]


def test_rotation_by_rename_drains_the_old_file_then_follows_the_new_one(tmp_path):
    """After a rename + new file, lines still written to the old file are read, then the new file from 0."""
    log = tmp_path / "a.log"
    log.write_text("")
    t = _tailer(log, rescan_s=0.0, grace_s=5.0)
    t.start(0.0)
    _append(log, "before\n")
    assert _texts(t, 1.0) == ["before"]
    log.rename(tmp_path / "a.log.1")
    _append(tmp_path / "a.log.1", "late write to old\nunterminated")
    log.write_text("fresh\n")
    assert sorted(_texts(t, 2.0)) == ["fresh", "late write to old"]
    assert t.counts.total("rotations") == 1
    assert _texts(t, 8.0) == ["unterminated"]       # closed after the grace: its last line is complete
    assert t.following() == [str(log)]
    _append(log, "next\n")
    assert _texts(t, 9.0) == ["next"]


def test_rotated_name_matched_by_the_glob_is_not_read_twice(tmp_path):
    """With a glob matching `a.log*`, the renamed file is the same file: its lines are not read again."""
    log = tmp_path / "a.log"
    log.write_text("")
    t = _tailer(tmp_path / "a.log*", rescan_s=0.0)
    t.start(0.0)
    _append(log, "one\n")
    assert _texts(t, 1.0) == ["one"]
    log.rename(tmp_path / "a.log.1")
    log.write_text("two\n")
    assert _texts(t, 2.0) == ["two"]
    assert _texts(t, 30.0) == []
    assert t.following() == [str(log), str(tmp_path / "a.log.1")]


def test_copytruncate_restarts_at_zero(tmp_path):
    """A file truncated in place (copytruncate) is read again from its start."""
    log = tmp_path / "a.log"
    log.write_text("")
    t = _tailer(log)
    t.start(0.0)
    _append(log, "a long first line\nsecond\n")
    assert len(_texts(t)) == 2
    with open(log, "r+b") as fh:
        fh.truncate(0)
    _append(log, "after\n")
    assert _texts(t) == ["after"] and t.counts.total("truncations") == 1


def test_files_appearing_later_are_read_from_their_start(tmp_path):
    """A file that starts matching the glob after start is read from byte 0; .gz and excluded are skipped."""
    import re

    src = FileSource((str(tmp_path / "*.log"),), {"type": "syslog"}, exclude=(re.compile(r"skip"),))
    t = Tailer([src], CounterSet(), rescan_s=1.0)
    assert t.start(0.0) == [str(tmp_path / "*.log")]          # warned about: nothing matches yet
    (tmp_path / "new.log").write_text("first\nsecond\n")
    (tmp_path / "skip.log").write_text("no\n")
    (tmp_path / "old.log.gz").write_bytes(b"\x1f\x8b")
    assert _texts(t, 0.5) == []                                 # not rescanned yet
    assert _texts(t, 1.0) == ["first", "second"]


def test_bad_lines_are_counted_like_replay(tmp_path):
    """Over-long lines (even when written in pieces), invalid UTF-8 and NUL bytes are counted as replay does."""
    log = tmp_path / "a.log"
    log.write_text("")
    t = _tailer(log, max_bytes=16)
    t.start(0.0)
    _append(log, b"x" * 20)
    assert _texts(t) == [] and t.counts.total("too_long") == 1
    _append(log, b"yyyy\nok\n\xff\xfe bad\nnul\x00here\n" + b"z" * 15 + b"\n" + b"w" * 16 + b"\n")
    assert _texts(t) == ["ok", "\ufffd\ufffd bad", "nul\ufffdhere", "z" * 15]   # 16 bytes with its newline
    assert (t.counts.total("too_long"), t.counts.total("invalid_utf8"), t.counts.total("binary")) == (2, 1, 1)


def test_cat_mode_reads_once_including_an_unterminated_last_line(tmp_path):
    """mode cat reads the whole file once, last line without newline included, and then no more."""
    log = tmp_path / "a.log"
    log.write_text("one\ntwo")
    t = _tailer(log, mode="cat", rescan_s=0.0)
    t.start(0.0)
    assert _texts(t) == ["one", "two"]
    _append(log, "\nthree\n")
    assert _texts(t, 5.0) == [] and t.following() == []


def test_saved_positions_resume_without_rereading(tmp_path):
    """A new Tailer given positions() resumes after the last complete line, even for a partial one."""
    log = tmp_path / "a.log"
    log.write_text("")
    t = _tailer(log)
    t.start(0.0)
    _append(log, "one\ntw")
    assert _texts(t) == ["one"]
    saved = t.positions()
    t.close()
    _append(log, "o\nthree\n")
    t2 = _tailer(log, saved=saved)
    t2.start(0.0)
    assert _texts(t2) == ["two", "three"] and t2.counts.total("resumed") == 1


def test_saved_position_of_another_file_is_not_trusted(tmp_path):
    """A file rotated while stopped is read from 0; same inode with other first bytes is not resumed."""
    log = tmp_path / "a.log"
    log.write_text("one\n")
    t = _tailer(log, mode="cat")
    t.start(0.0)
    _texts(t)
    saved = t.positions()
    os.rename(log, tmp_path / "a.log.1")
    log.write_text("new file\n")
    t2 = _tailer(log, saved=saved)
    t2.start(0.0)
    assert _texts(t2) == ["new file"]
    forged = {str(log): dict(saved[str(log)], ino=log.stat().st_ino)}
    t3 = _tailer(log, saved=forged)
    t3.start(0.0)
    assert _texts(t3) == ["new file"] and t3.counts.total("resumed") == 0


def test_run_crash_rescan_reports_a_new_file_before_reading_it(tmp_path):
    """rescan() is True when a file was opened and none of its lines is read yet: its position (0) can be
    saved first, so a crash before the next save still reads it from its start."""
    t = Tailer([FileSource((str(tmp_path / "*.log"),), {"type": "syslog"})], CounterSet(), rescan_s=1.0)
    t.start(0.0)
    (tmp_path / "new.log").write_text("first\n")
    assert t.rescan(0.5) is False                               # not due yet
    assert t.rescan(1.0) is True
    assert t.positions()[str(tmp_path / "new.log")]["offset"] == 0
    assert _texts(t, 1.2) == ["first"] and t.rescan(2.0) is False


def test_run_crash_file_appearing_while_stopped_is_read_from_its_start(tmp_path):
    """A file that a glob of the previous run matches, with no saved position, appeared while synsec was
    stopped: it is read whole; a file matched only by a new glob starts at its end (a first start)."""
    old, new = tmp_path / "a" / "x.log", tmp_path / "b" / "y.log"
    old.parent.mkdir()
    new.parent.mkdir()
    first = _tailer(tmp_path / "a" / "*.log")
    first.start(0.0)
    saved, globs = first.positions(), first.patterns()
    first.close()
    old.write_text("written while stopped\n")
    new.write_text("old news\n")
    sources = [FileSource((str(tmp_path / d / "*.log"),), {"type": "syslog"}) for d in ("a", "b")]
    second = Tailer(sources, CounterSet(), saved=saved, saved_globs=tuple(globs))
    second.start(0.0)
    assert _texts(second) == ["written while stopped"]


def test_run_crash_over_long_line_is_not_resumed_from_its_middle(tmp_path):
    """Saved while an over-long line is being skipped, the position is that line's start: after a restart it
    is skipped again (counted), never read from its middle as a line of its own."""
    log = tmp_path / "a.log"
    log.write_text("")
    t = _tailer(log, max_bytes=16)
    t.start(0.0)
    _append(log, b"ok\n" + b"x" * 20)
    assert _texts(t) == ["ok"] and t.counts.total("too_long") == 1
    saved = t.positions()
    assert saved[str(log)]["offset"] == 3
    t.close()
    _append(log, b"yy\nnext\n")
    t2 = _tailer(log, saved=saved, max_bytes=16)
    t2.start(0.0)
    assert _texts(t2) == ["next"] and t2.counts.total("too_long") == 1
