"""synsec.runner.sources: stdin read without blocking (and its blocking mode given back), `transform` semantics."""

from __future__ import annotations

import os

from synsec.engine.errors import Where
from synsec.engine.expr import compile_expr
from synsec.engine.model import Line
from synsec.runner.acquis import StdinSource
from synsec.engine.counters import CounterSet
from synsec.runner.sources import Inputs, StdinReader, transformed


def test_stdin_reader_reads_a_pipe_then_ends_and_restores_blocking_mode():
    """Lines come as written (the last one without newline at EOF); the fd is blocking again after close."""
    r, w = os.pipe()
    stream = os.fdopen(r, "rb", buffering=0)
    reader = StdinReader(StdinSource({"type": "syslog"}), CounterSet(), stream)
    reader.start(0.0)
    assert not os.get_blocking(r) and reader.poll(0.0) == ([], False)
    os.write(w, b"one\ntw")
    assert [line.Raw for line in reader.poll(0.0)[0]] == ["one"]
    os.write(w, b"o")
    os.close(w)
    lines = reader.poll(0.0)[0] + reader.poll(0.0)[0]              # "o", then the end
    assert [(line.Raw, line.Src, line.Module) for line in lines] == [("two", "stdin", "stdin")] and reader.done
    reader.close()
    assert os.get_blocking(r)
    stream.close()


def test_inputs_finish_at_the_end_of_stdin_only_when_nothing_else_follows():
    """stdin alone: finished at EOF; a tail-mode file next to it keeps the run going."""
    from synsec.runner.acquis import FileSource

    for extra, finished in (([], True), ([FileSource(("/nonexistent/x.log",), {"type": "syslog"})], False)):
        r, w = os.pipe()
        inputs = Inputs([StdinSource({"type": "syslog"}), *extra], CounterSet())
        inputs.stdin[0].stream = os.fdopen(r, "rb", buffering=0)
        inputs.start(0.0)
        os.close(w)
        inputs.poll(0.0)
        assert inputs.finished() is finished
        inputs.close()
        inputs.stdin[0].stream.close()


def test_transform_results_follow_crowdsec():
    """A string replaces the line, a list gives one line per string item (a non-string item passes the line on,
    counted), anything else or a runtime error passes the line on, counted."""
    counts = CounterSet()
    line = Line("a|b", "src", {"type": "x"}, "file", 5.0)

    def run(text):
        fn = compile_expr(text, where=Where("t.yaml", 1, "transform"), params=("evt",))
        return [(out.Raw, out.Src, dict(out.Labels), out.Time) for out in transformed(fn, line, counts)]

    assert run('Upper(evt.Line.Raw)') == [("A|B", "src", {"type": "x"}, 5.0)]
    assert run('Split(evt.Line.Raw, "|")') == [("a", "src", {"type": "x"}, 5.0), ("b", "src", {"type": "x"}, 5.0)]
    assert counts.total("transform_errors") == 0
    assert [r[0] for r in run('["x", 1]')] == ["x", "a|b"] and counts.total("transform_errors") == 1
    assert [r[0] for r in run("42")] == ["a|b"] and counts.total("transform_errors") == 2
    assert [r[0] for r in run("nil")] == ["a|b"] and counts.total("transform_errors") == 3
    assert [r[0] for r in run('int("x") > 1 ? "y" : "z"')] == ["a|b"] and counts.total("transform_errors") == 4


def test_journal_source_without_journalctl_is_skipped_with_one_warning(tmp_path):
    """No journalctl command (a container): the journal source warns once, path:line: source, and reads
    nothing; the inputs still start (CrowdSec skips a data source that cannot run)."""
    from synsec.runner.acquis import JournalSource

    warnings: list[str] = []
    src = JournalSource(("_SYSTEMD_UNIT=ssh.service",), {"type": "syslog"}, where=Where("acquis.yaml", 9))
    inputs = Inputs([src], CounterSet(), warn=warnings.append, journalctl=str(tmp_path / "journalctl"))
    inputs.start(0.0)
    assert inputs.poll(0.0) == ([], False) and inputs.poll(20.0) == ([], False)
    assert warnings == [f"acquis.yaml:9: source journalctl: no {tmp_path / 'journalctl'} command on this host, "
                        "skipped"]
    inputs.close()
