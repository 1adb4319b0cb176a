"""synsec.runner.inputs: replay's line reader holds no over-long line in memory, whatever its length."""

from __future__ import annotations

from click.testing import CliRunner

from synsec.cli.main import cli
from synsec.engine.counters import CounterSet
from synsec.runner.inputs import MAX_LINE_BYTES, LineSplitter, read_lines

MIB = 1 << 20


class GeneratedStream:
    """A binary stream whose bytes come from a generator of chunks; records the largest read asked for."""

    def __init__(self, chunks):
        self.chunks, self.buf, self.largest_read = iter(chunks), b"", 0

    def read(self, n: int = -1) -> bytes:
        self.largest_read = max(self.largest_read, n)
        while len(self.buf) < n:
            nxt = next(self.chunks, None)
            if nxt is None:
                break
            self.buf += nxt
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def _huge_line_stream(line_bytes: int, piece: int = MIB):
    """'before', a `line_bytes` line of 'a' (generated piece by piece, never whole), 'after' unterminated."""
    yield b"before\n"
    for _ in range(line_bytes // piece):
        yield b"a" * piece
    yield b"\nafter"


def test_replay_over_long_line_is_never_buffered_whole():
    """A 64 MiB line read through read_lines is skipped and counted while the reader asks for at most one
    chunk at a time and never returns a line longer than the limit; the lines around it come through."""
    counts = CounterSet()
    stream = GeneratedStream(_huge_line_stream(64 * MIB))
    lines = list(read_lines(stream, counts, "gen", chunk=MIB))
    assert lines == ["before", "after"]
    assert counts.total("too_long") == 1 and counts.total("bytes") == 64 * MIB + len("before\n\nafter")
    assert stream.largest_read <= MIB and max(map(len, lines)) < MAX_LINE_BYTES


def test_replay_over_long_line_splitter_holds_less_than_the_limit():
    """Fed a 64 MiB line in 1 MiB chunks, the splitter never holds `limit` bytes or more between chunks."""
    splitter = LineSplitter(CounterSet(), limit=MAX_LINE_BYTES)
    held = []
    for chunk in _huge_line_stream(64 * MIB):
        out = splitter.feed(chunk, "gen")
        held.append(len(splitter.partial))
        assert all(len(text) < MAX_LINE_BYTES for text in out)
    assert max(held) < MAX_LINE_BYTES and splitter.flush("gen") == "after"
    assert splitter.counts.total("too_long") == 1


def test_replay_line_lengths_at_the_limit_match_the_tailer():
    """A line of limit-1 bytes plus its newline is kept; one byte more is too long, in any chunking."""
    data = b"x" * 15 + b"\n" + b"y" * 16 + b"\nz\n"
    for size in (1, 3, 7, len(data)):
        counts = CounterSet()
        got = list(read_lines(GeneratedStream(data[i:i + size] for i in range(0, len(data), size)), counts,
                              "gen", max_bytes=16, chunk=size))
        assert got == ["x" * 15, "z"] and counts.total("too_long") == 1 and counts.total("bytes") == len(data), size


def test_replay_reference_time_garbage_is_a_clean_usage_error(tmp_path):
    """`--reference-time garbage` exits 2 with a message naming the option, not a traceback."""
    log = tmp_path / "a.log"
    log.write_text("")
    res = CliRunner().invoke(cli, ["replay", str(log), "--type", "syslog", "--reference-time", "garbage",
                                   "--no-store"])
    assert res.exit_code == 2 and "--reference-time" in res.output and "RFC 3339" in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
