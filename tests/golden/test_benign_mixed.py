"""The benign mixed-host golden (scenarios/benign-mixed) exercises every service parser, and the same log with one
brute force appended alerts on exactly that attacker: its zero alerts come from the content, not from unread lines."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from synsec.assembly.build import EngineOptions, build_engine
from synsec.content.loader import default_content_dir, load_content
from synsec.engine.model import Event, Line

LOG = Path(__file__).resolve().parent / "scenarios" / "benign-mixed" / "input.log"
LABELS = {"type": "syslog"}
# program of the syslog envelope -> the log_type its parser gives to some of its benign lines
EXPECTED = {"nginx": {"http_access-log", "http_error-log"}, "apache2": {"http_error-log"},
            "sshd": {"ssh_failed-auth", "ssh_success-auth"}, "postfix/smtpd": {"smtp_reject"},
            "postfix/submission/smtpd": {"smtp_failed-auth"}, "dovecot": {"dovecot_failed-auth"},
            "vsftpd": {"ftp_failed-auth"}, "proftpd": {"ftp_failed-auth"}, "mariadbd": {"mysql_failed_auth"},
            "kernel": {"iptables_drop"}}


@pytest.fixture(scope="module")
def engine_factory():
    content = load_content(default_content_dir())
    return lambda: build_engine(EngineOptions(reference_year=2024), content)[0]


def test_every_service_parser_reads_the_benign_log(engine_factory):
    """Each program's lines reach the log types of its parser (so the golden's silence is not unparsed lines)."""
    engine, seen = engine_factory(), {}
    for text in LOG.read_text().splitlines():
        evt = Event(Line(text, str(LOG), LABELS))
        if engine.parsers.parse(evt, engine.ctx):
            seen.setdefault(evt.Parsed.get("program", ""), set()).add(evt.Meta.get("log_type", ""))
    for program, types in EXPECTED.items():
        assert types <= seen.get(program, set()), f"{program}: parsed log types {seen.get(program)}"


def test_benign_log_plus_one_attack_alerts_only_the_attacker(engine_factory):
    """Appending a SASL brute force (6 failures in 5 s) gives exactly one alert, for that address."""
    engine = engine_factory()
    attack = [f"Mar  1 10:40:0{i} mx1 postfix/smtpd[9]: warning: unknown[203.0.113.250]: SASL LOGIN authentication "
              "failed: UGFzc3dvcmQ6" for i in range(6)]
    alerts = []
    for text in LOG.read_text().splitlines() + attack:
        alerts += engine.process(Line(text, str(LOG), LABELS)).alerts
    alerts += engine.finish().alerts
    assert Counter((a.Scenario, a.Source.Value) for a in alerts) == {("synsec/postfix-sasl-bf", "203.0.113.250"): 1}
