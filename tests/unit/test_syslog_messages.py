"""synsec.runner.syslog and journal entries: the lines CrowdSec's syslog and journalctl sources hand to the
parsers (`TIME HOST APP[PID]: MESSAGE`), from RFC 5424, RFC 3164 and `journalctl -o json` entries."""

from __future__ import annotations

from synsec.runner.acquis import JournalSource
from synsec.engine.counters import CounterSet
from synsec.runner.journal import entry_line, journal_argv, source_of_dsn
from synsec.runner.syslog import Framer, parse_message, syslog_line

NOW = 1796209200.0                     # 2026-12-02T11:00:00Z


def _line(data: bytes, now: float = NOW) -> str | None:
    msg = parse_message(data, now)
    return None if msg is None else syslog_line(msg.ts if msg.ts is not None else now, msg.host, msg.app,
                                                 msg.procid, msg.message)


def test_rfc5424_messages_become_syslog_lines_in_utc():
    """Header fields, structured data (with escapes), BOM and the offset of the timestamp are handled."""
    assert _line(b'<165>1 2003-08-24T05:14:15.000003-07:00 web1 sshd 8710 ID1 [a@1 x="\\]"][b@2] Failed x') == \
        "2003-08-24T12:14:15.000003+00:00 web1 sshd[8710]: Failed x"
    assert _line(b"<34>1 2003-10-11T22:14:15Z - su - - - \xef\xbb\xbfmsg") == \
        "2003-10-11T22:14:15+00:00 unknownhost su: msg"


def test_rfc3164_messages_with_and_without_host():
    """BSD dates take the year of `now` (last year's for a December date read in January); a missing host is
    CrowdSec's `unknownhost`; a procid that is not a number becomes 1, as in CrowdSec."""
    assert _line(b"<13>Dec  2 10:59:00 bastion sshd[123]: Failed password") == \
        "2026-12-02T10:59:00+00:00 bastion sshd[123]: Failed password"
    assert _line(b"<13>Dec 2 10:59:00 h sshd: one space") == "2026-12-02T10:59:00+00:00 h sshd: one space"
    assert _line(b"<13>Dec  2 10:59:00 sshd: no host") == "2026-12-02T10:59:00+00:00 unknownhost sshd: no host"
    assert _line(b"<13>Dec 31 23:59:00 h cron[x]: y", now=NOW + 31 * 86400) == \
        "2026-12-31T23:59:00+00:00 h cron[1]: y"
    assert _line(b"<13>Dec 31 23:59:00 h cron: y", now=1798761600.0 + 60) == \
        "2026-12-31T23:59:00+00:00 h cron: y"                     # read on 2027-01-01


def test_not_syslog_is_none():
    """No PRI, PRI over 191, or no app name: not a message (counted unreadable by the listener)."""
    assert parse_message(b"hello", NOW) is None
    assert parse_message(b"<192>Dec  2 10:59:00 h a: b", NOW) is None
    assert parse_message(b"<13>1 - - - - - -", NOW) is None


def test_framer_mixes_octet_counting_and_newlines():
    """Octet-counted and newline-framed messages in one stream, split anywhere; oversize ones counted."""
    framer = Framer(16)
    out = framer.feed(b"4 <1>a<1>b\n<1>" + b"c" * 20 + b"\n3") + framer.feed(b"0 " + b"d" * 30 + b"4 <1>e")
    assert out == [b"<1>a", b"<1>b", b"<1>e"] and framer.too_long == 2


def test_journal_entries_become_short_lines():
    """MESSAGE (string or byte array), SYSLOG_IDENTIFIER else _COMM, SYSLOG_PID else _PID, __REALTIME_TIMESTAMP
    as the time; an entry without MESSAGE is counted unreadable."""
    counts = CounterSet()
    entry = {"__REALTIME_TIMESTAMP": "1796209200000001", "_HOSTNAME": "h", "_COMM": "sshd", "_PID": "7",
             "MESSAGE": list(b"caf\xc3\xa9 \xff")}
    assert entry_line(entry, counts, 1000) == ("2026-12-02T11:00:00.000001+00:00 h sshd[7]: café \ufffd",
                                              1796209200.000001)
    assert counts.total("invalid_utf8") == 1
    assert entry_line({"__REALTIME_TIMESTAMP": "1", "SYSLOG_IDENTIFIER": "x"}, counts, 1000) is None
    assert counts.total("unreadable") == 1
    assert entry_line({**entry, "MESSAGE": "y" * 2000}, counts, 1000) is None and counts.total("too_long") == 1


def test_journalctl_command_lines():
    """tail: --follow from the end (-n 0) or after the saved cursor; the DSN is a one-shot read with --since."""
    src = JournalSource(("_SYSTEMD_UNIT=ssh.service",), {"type": "syslog"})
    assert journal_argv(src, None) == ["journalctl", "_SYSTEMD_UNIT=ssh.service", "-o", "json", "--no-pager",
                                       "--follow", "-n", "0"]
    assert journal_argv(src, "s=1")[-3:] == ["--follow", "--after-cursor", "s=1"]
    dsn = source_of_dsn("journalctl://filters=_SYSTEMD_UNIT=ssh.service&filters=_PID=3&since=yesterday", {})
    assert journal_argv(dsn, None) == ["journalctl", "_SYSTEMD_UNIT=ssh.service", "_PID=3", "-o", "json",
                                       "--no-pager", "--since", "yesterday"]
