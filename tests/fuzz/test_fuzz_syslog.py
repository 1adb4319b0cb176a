"""Fuzz the syslog data source: message parsing, TCP framing and the listener on a real loopback socket.

- `parse_message` on random bytes, on mutants of valid RFC 5424 / RFC 3164 messages and on extreme dates never
  raises; it gives None or a message whose line (`syslog_line`) can be written; crafted long messages cost
  linear time; any `journalctl -o json` entry is a line or counted, never an exception;
- `Framer` on random streams of octet-counted and newline-framed messages (some over the limit, some garbage),
  cut into random chunks: never raises, never holds more than limit + 12 bytes, returns every well-formed
  message within the limit intact and in order, and counts each oversize one exactly once;
- a real `SyslogListener` on UDP and TCP loopback fed hostile datagrams and streams: no exception escapes
  `poll`, oversize datagrams are counted `too_long` and dropped, the rest are lines or counted `unreadable`.
CI: 200 derandomized examples per property (a few seconds); `SYNSEC_FUZZ_LONG=1`: 20,000.
"""

from __future__ import annotations

import os
import socket
import time

from hypothesis import HealthCheck, example, given, settings, strategies as st

from connectors.kafka.broker import free_port
from synsec.runner.acquis import SyslogSource
from synsec.engine.counters import CounterSet
from synsec.runner.listener import SyslogListener
from synsec.runner.syslog import Framer, parse_message, syslog_line

LONG = os.environ.get("SYNSEC_FUZZ_LONG") == "1"
EXAMPLES = 20000 if LONG else 200
NOW = 1796209200.0                     # 2026-12-02T11:00:00Z
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
VALID = [
    b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xef\xbb\xbf'su root' failed",
    b'<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - [ex@32473 iut="3" a="\\]"] event',
    b"<13>Dec  2 11:00:00 bastion sshd[123]: Failed password for root from 192.0.2.1 port 22 ssh2",
    b"<13>Dec  2 11:00:00 sshd[123]: no host",
    b"<13>2026-12-02T11:00:00+01:00 bastion sshd[1]: rfc3339 in 3164",
]


def _check(data: bytes) -> None:
    msg = parse_message(data, NOW)
    if msg is not None:
        line = syslog_line(msg.ts if msg.ts is not None else NOW, msg.host, msg.app, msg.procid, msg.message)
        assert isinstance(line, str) and msg.app


@FUZZ
@given(st.binary(max_size=600))
def test_parse_random_bytes_never_raises(data):
    """Random bytes, with or without a <PRI> in front."""
    _check(data)
    _check(b"<13>" + data)
    _check(b"<13>1 " + data)


@FUZZ
@given(st.sampled_from(VALID), st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=8),
       st.integers(0, 200))
def test_parse_mutated_messages_never_raises(base, edits, cut):
    """Valid messages with bytes replaced and cut short."""
    data = bytearray(base)
    for pos, value in edits:
        if data:
            data[pos % len(data)] = value
    _check(bytes(data))
    _check(bytes(data[:cut]))


@FUZZ
@given(st.sampled_from([0, 1, 1969, 1970, 2026, 9998, 9999]) | st.integers(0, 9999),
       st.integers(1, 12) | st.integers(0, 99), st.sampled_from([1, 28, 29, 30, 31]) | st.integers(0, 99),
       st.integers(-23, 23) | st.integers(-99, 99), st.integers(0, 59), st.sampled_from(["5424", "3164"]))
@example(9999, 12, 31, -23, 59, "5424")
@example(1970, 1, 1, 23, 59, "3164")
def test_extreme_timestamps_never_raise(year, month, day, hours, minutes, rfc):
    """Any RFC 3339 date (year 0 to 9999, any offset; 9999-12-31 with a negative offset is in year 10000) is a
    message whose line can be written, or no message; it never raises (it used to: a ValueError in run)."""
    stamp = f"{year:04d}-{month:02d}-{day:02d}T23:59:59{'+' if hours >= 0 else '-'}{abs(hours):02d}:{minutes:02d}"
    _check((f"<13>1 {stamp} h app - - - m" if rfc == "5424" else f"<13>{stamp} h app: m").encode())


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                                  max_size=4), max_leaves=10)


@FUZZ
@given(st.dictionaries(st.sampled_from(["MESSAGE", "__REALTIME_TIMESTAMP", "_HOSTNAME", "SYSLOG_IDENTIFIER",
                                        "_COMM", "SYSLOG_PID", "_PID", "__CURSOR"]),
                       _JSON | st.lists(st.integers(-5, 300), max_size=30) | st.integers(-10**25, 10**25).map(str)))
def test_journal_entries_never_raise(entry):
    """Any `journalctl -o json` entry (MESSAGE of any JSON type, byte arrays with out-of-range values, huge or
    negative timestamps) is a line or counted unreadable/too_long, never an exception."""
    from synsec.runner.journal import entry_line

    counts = CounterSet()
    got = entry_line(entry, counts, 1000)
    assert got is not None or counts.total("unreadable") + counts.total("too_long") == 1


def test_crafted_long_messages_take_linear_time():
    """Structured data, brackets, spaces and colons repeated up to 256 KiB parse within 4x+ of 4x the time."""
    crafted = [lambda n: b"<13>1 - h a p m " + b"[x" * n, lambda n: b"<13>1 - h a p m " + b'[x a="' + b"\\]" * n,
               lambda n: b"<13>Dec  2 11:00:00 " + b"[" * n, lambda n: b"<13>Dec  2 11:00:00 h " + b":" * n,
               lambda n: b"<13>" + b" " * n, lambda n: b"<13>1 " + b"-" * n]
    for make in crafted:
        times = []
        for n in (16384, 65536):
            data = make(n)
            start = time.process_time()
            for _ in range(5):
                _check(data)
            times.append(time.process_time() - start)
        assert times[1] < 12 * times[0] + 0.05, (make(8), times)


def _frames(draw_items, limit: int):
    """The stream bytes, the messages expected out, and the number of oversize frames."""
    stream, expected, oversize = b"", [], 0
    for kind, size in draw_items:
        body = b"<13>" + bytes((65 + i % 26) for i in range(size))
        if kind == "counted":
            stream += str(len(body)).encode() + b" " + body
        else:
            stream += body + b"\n"
        if len(body) > limit:
            oversize += 1
        else:
            expected.append(body)
    return stream, expected, oversize


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["counted", "line"]), st.integers(0, 300)), max_size=20),
       st.lists(st.integers(1, 400), max_size=40))
def test_framer_keeps_every_message_and_counts_oversize_ones(items, cuts):
    """Well-formed streams in random chunks: every message within the limit, in order; oversize counted."""
    limit = 128
    stream, expected, oversize = _frames(items, limit)
    framer, out, pos = Framer(limit), [], 0
    for cut in cuts + [len(stream)]:
        out += framer.feed(stream[pos:pos + cut])
        assert len(framer.buf) <= limit + 12
        pos += cut
        if pos >= len(stream):
            break
    out += framer.feed(stream[pos:])
    assert out == expected and framer.too_long == oversize and not framer.bad


@FUZZ
@given(st.lists(st.binary(max_size=300), max_size=20), st.integers(1, 64))
def test_framer_on_garbage_never_raises_and_stays_bounded(chunks, limit):
    """Random bytes: no exception, held bytes within limit + 12, no message longer than the limit."""
    framer = Framer(limit)
    for chunk in chunks:
        for message in framer.feed(chunk):
            assert len(message) <= limit
        assert len(framer.buf) <= limit + 12
    framer.flush()


def test_listener_on_hostile_datagrams_and_streams():
    """A real listener: random and oversize datagrams, random TCP streams; poll never raises, oversize
    datagrams are counted and dropped, every datagram is exactly one of a line, unreadable or too_long."""
    import random

    rng = random.Random(1)
    counts = CounterSet()
    listener = SyslogListener(SyslogSource(addr="127.0.0.1", port=free_port(), max_message_len=512,
                                           labels={"type": "syslog"}), counts)
    listener.start(NOW)
    addr = ("127.0.0.1", listener.source.port)
    n = 2000 if LONG else 200
    sent_oversize, lines = 0, []
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            for i in range(n):
                size = rng.choice([0, 1, 10, 100, 511, 512, 513, 4000])
                base = rng.choice(VALID + [b""])
                data = (base + bytes(rng.randrange(256) for _ in range(size)))[:max(size, 1)]
                sent_oversize += len(data) > 512
                udp.sendto(data, addr)
                if i % 50 == 49:
                    lines += _drain(listener)
        lines += _drain(listener)
        assert counts.total("too_long") == sent_oversize
        assert len(lines) + counts.total("unreadable") + counts.total("too_long") == n       # every datagram accounted for
        for _ in range(5):
            with socket.create_connection(addr) as tcp:
                tcp.sendall(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000))))
            lines += _drain(listener)
    finally:
        listener.close()
    assert all(line.Module == "syslog" and isinstance(line.Raw, str) for line in lines)


def _drain(listener: SyslogListener) -> list:
    out, idle = [], 0
    end = time.monotonic() + 2.0
    while time.monotonic() < end and idle < 5:
        got, more = listener.poll(NOW)
        out += got
        idle = 0 if got or more else idle + 1
        if not got and not more:
            time.sleep(0.01)
    return out
