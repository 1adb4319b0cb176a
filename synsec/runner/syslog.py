"""Syslog messages as CrowdSec's syslog and journalctl data sources turn them into lines.

- `parse_message(data, now)`: one RFC 5424 message, else one RFC 3164 (BSD) message, as a `SyslogMessage`
  (time, host, app, procid, text), or None when it is neither (or has no app name, which CrowdSec refuses);
- `syslog_line(...)`: the line the parsers see — `TIMESTAMP HOST APP[PID]: MESSAGE`, what the stock
  `crowdsecurity/syslog-logs` parser (`SYSLOGLINE`) reads into `program`, `pid` and `message`. The time is
  written as RFC 3339 in UTC (`journalctl -o short-iso` style) so that the line keeps its year and zone;
- `Framer`: cuts a TCP byte stream into messages (RFC 6587: octet counting `LEN SP MSG` or a newline after
  each message, chosen per message), in bounded memory: a message longer than the limit is counted and
  dropped as it arrives, never held whole.
Nothing here reads a clock or a socket: `now` (for the year of an RFC 3164 date) is passed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

__all__ = ["SyslogMessage", "parse_message", "syslog_line", "valid_time", "Framer", "MAX_TS"]

_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                       "Dec"), 1)}
_PRI = re.compile(rb"<([0-9]{1,3})>")
_RFC3339 = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?"
                      r"([Zz]|[+-][0-9]{2}:[0-9]{2})")
_BSD_DATE = re.compile(r"([A-Z][a-z]{2}) {1,2}([0-9]{1,2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})")
_TAG = re.compile(r"([^\s\[\]:]{1,128})(?:\[([^\]\s]{1,128})\])?:? ?")
_BOM = "\ufeff"


@dataclass(frozen=True)
class SyslogMessage:
    ts: float | None          # epoch seconds, None when the message had none
    host: str | None
    app: str | None
    procid: str | None
    message: str
    rfc: str                  # "5424" or "3164"


MAX_TS = 253402300800.0       # 10000-01-01T00:00:00Z: later times cannot be written as a date


def valid_time(ts: float) -> bool:
    """A time a line can carry: from 1970 to the end of year 9999 (a hostile message may claim anything)."""
    return 0.0 <= ts < MAX_TS


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _rfc3339(text: str) -> float | None:
    m = _RFC3339.fullmatch(text)
    if not m:
        return None
    year, month, day, hour, minute, second, frac, zone = m.groups()
    try:
        zone = "+00:00" if zone in ("Z", "z") else zone
        stamp = datetime.fromisoformat(f"{year}-{month}-{day}T{hour}:{minute}:{second}{zone}")
    except ValueError:
        return None
    ts = stamp.timestamp() + (float("0" + frac) if frac else 0.0)
    return ts if valid_time(ts) else None


def _pri(data: bytes) -> int | None:
    """The length of the `<PRI>` header (PRI 0-191), or None."""
    m = _PRI.match(data)
    if not m or int(m.group(1)) > 191:
        return None
    return m.end()


def _field(rest: str) -> tuple[str | None, str] | None:
    """One space-separated RFC 5424 header field ('-' is nil) and what follows it."""
    value, sep, after = rest.partition(" ")
    if not value or not sep or any(not ("!" <= c <= "~") for c in value):
        return None
    return (None if value == "-" else value), after


def _structured_data(rest: str) -> str | None:
    """What follows the STRUCTURED-DATA field ('-' or `[...]` elements, with \\] escapes), or None."""
    if rest.startswith("-"):
        return rest[1:]
    i, n = 0, len(rest)
    if not rest.startswith("["):
        return None
    while i < n and rest[i] == "[":
        i += 1
        quoted = False
        while i < n:
            c = rest[i]
            if quoted and c == "\\":
                i += 2
                continue
            if c == '"':
                quoted = not quoted
            elif c == "]" and not quoted:
                break
            i += 1
        if i >= n:
            return None
        i += 1
    return rest[i:]


def _parse_5424(text: str) -> SyslogMessage | None:
    version, sep, rest = text.partition(" ")
    if not sep or not version.isascii() or not version.isdigit() or version.startswith("0") or len(version) > 2:
        return None
    fields = []
    for _ in range(5):                                  # TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
        got = _field(rest)
        if got is None:
            return None
        value, rest = got
        fields.append(value)
    stamp, host, app, procid, _msgid = fields
    ts = None
    if stamp is not None:
        ts = _rfc3339(stamp)
        if ts is None:
            return None
    rest = _structured_data(rest)
    if rest is None or (rest and not rest.startswith(" ")):
        return None
    message = rest[1:]
    if message.startswith(_BOM):
        message = message[1:]
    return SyslogMessage(ts, host, app, procid, message, "5424")


def _bsd_date(text: str, now: float) -> tuple[float | None, str]:
    """An RFC 3164 `Mmm dd hh:mm:ss` date (year of `now`, UTC) or an RFC 3339 one, and the rest."""
    m = _BSD_DATE.match(text)
    if m and m.group(1) in _MONTHS:
        month, day = _MONTHS[m.group(1)], int(m.group(2))
        year = datetime.fromtimestamp(now, timezone.utc).year
        try:
            stamp = datetime(year, month, day, int(m.group(3)), int(m.group(4)), int(m.group(5)),
                             tzinfo=timezone.utc).timestamp()
            if stamp > now + 86400:                   # December's message read in January: last year's
                stamp = datetime(year - 1, month, day, int(m.group(3)), int(m.group(4)), int(m.group(5)),
                                 tzinfo=timezone.utc).timestamp()
        except ValueError:
            return None, text
        return stamp, text[m.end():].lstrip(" ")
    word, _sep, rest = text.partition(" ")
    ts = _rfc3339(word)
    return (ts, rest) if ts is not None else (None, text)


def _parse_3164(text: str, now: float) -> SyslogMessage | None:
    ts, rest = _bsd_date(text, now)
    if ts is None:
        return None
    host = None
    word, sep, after = rest.partition(" ")
    # HOSTNAME is left out by some local senders: a first word that already looks like a tag is the tag
    if sep and word and not word.endswith(":") and "[" not in word:
        host, rest = word, after
    m = _TAG.match(rest)
    if not m:
        return None
    return SyslogMessage(ts, host, m.group(1), m.group(2), rest[m.end():], "3164")


def parse_message(data: bytes, now: float) -> SyslogMessage | None:
    """An RFC 5424 message, else an RFC 3164 one, else None. `now`: the year of an RFC 3164 date."""
    head = _pri(data)
    if head is None:
        return None
    text = _text(data[head:]).rstrip("\r\n")
    msg = _parse_5424(text)
    if msg is None:
        msg = _parse_3164(text, now)
    if msg is None or not msg.app:
        return None
    return msg


def syslog_line(ts: float, host: str | None, app: str, procid: str | None, message: str) -> str:
    """`2026-12-02T11:24:41.543150+00:00 host app[pid]: message` (host `unknownhost` when missing, as CrowdSec;
    a procid that is not a number becomes 1, as CrowdSec does)."""
    stamp = datetime.fromtimestamp(ts, timezone.utc).isoformat()
    pid = "" if procid is None else f"[{procid if procid.isascii() and procid.isdigit() else 1}]"
    return f"{stamp} {host or 'unknownhost'} {app}{pid}: {message}"


class Framer:
    """TCP syslog framing (RFC 6587) in bounded memory: `feed(data) -> [message bytes]`.

    Each message is either octet-counted (`LEN SP MSG`, LEN a decimal without leading zero) or ends at a
    newline (non-transparent framing). At most `limit` bytes of one message are ever held: a longer one is
    counted in `too_long` and its bytes are dropped as they arrive. `bad` counts octet counts that are not
    numbers (the rest of the stream cannot be framed: the connection should be closed)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.buf = b""
        self.skip = 0              # bytes of an over-long octet-counted message still to drop
        self.skip_line = False     # inside an over-long newline-framed message: drop until its newline
        self.too_long = 0
        self.bad = False

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        buf = self.buf + data if self.buf else data
        self.buf = b""
        while buf and not self.bad:
            if self.skip:
                n = min(self.skip, len(buf))
                self.skip -= n
                buf = buf[n:]
                continue
            if self.skip_line:
                nl = buf.find(b"\n")
                if nl < 0:
                    return out
                self.skip_line, buf = False, buf[nl + 1:]
                continue
            first = buf[:1]
            if first.isdigit() and first != b"0":
                buf = self._counted(buf, out)
            elif first in (b"\n", b"\r", b" ", b"\x00"):
                buf = buf[1:]                             # stray separators between messages
            else:
                buf = self._line(buf, out)
            if buf is None:
                return out
        return out

    def flush(self) -> list[bytes]:
        """At the end of the stream: its last newline-framed message if it had no newline."""
        buf, self.buf = self.buf, b""
        if buf and not self.skip and not self.skip_line and not self.bad and not buf[:1].isdigit():
            return [buf.rstrip(b"\r")]
        return []

    def _counted(self, buf: bytes, out: list[bytes]) -> bytes | None:
        sp = buf.find(b" ", 0, 12)
        if sp < 0:
            if len(buf) >= 12:
                self.bad = True
            else:
                self.buf = buf                            # the count is not complete yet
            return None
        digits = buf[:sp]
        if not digits.isdigit():
            self.bad = True
            return None
        size = int(digits)
        body = buf[sp + 1:]
        if size > self.limit:
            self.too_long += 1
            self.skip = size
            return body
        if len(body) < size:
            self.buf = buf                                # at most limit + 12 bytes held
            return None
        out.append(body[:size])
        return body[size:]

    def _line(self, buf: bytes, out: list[bytes]) -> bytes | None:
        nl = buf.find(b"\n", 0, self.limit + 1)
        if nl < 0:
            if len(buf) > self.limit:
                self.too_long += 1
                self.skip_line = True
                return buf[self.limit:]
            self.buf = buf
            return None
        out.append(buf[:nl].rstrip(b"\r"))
        return buf[nl + 1:]
