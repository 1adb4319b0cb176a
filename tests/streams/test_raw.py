"""synsec.raw → Line: plain text, the synsec/Filebeat/Vector/rsyslog envelopes, and poison values."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings, strategies as st

from synsec.engine.model import Line, StrMap
from synsec.wire.codecs import DecodeError
from streams.raw import DEFAULT_SHAPES, Shape, raw_to_line, shapes_with

T0 = datetime(2024, 3, 1, 10, 0, 5, tzinfo=timezone.utc).timestamp()
SSHD = "Failed password for invalid user admin from 192.0.2.7 port 52311 ssh2"
NGINX = ('192.0.2.50 - - [01/Mar/2024:10:00:05 +0000] "GET /wp-login.php HTTP/1.1" 404 153 "-" '
         '"Mozilla/5.0 (X11; Linux x86_64)"')


def env(doc) -> bytes:
    return json.dumps(doc).encode()


def line_tuple(line: Line) -> tuple:
    return line.Raw, line.Src, dict(line.Labels), line.Module, line.Time


# --- plain text --------------------------------------------------------------------------------------------
def test_plain_text_takes_default_labels():
    """A non-JSON value is one line with the default labels, module kafka, the given src, one newline removed."""
    line = raw_to_line(b"Mar  1 10:00:05 web1 sshd[7]: hello\r\n", {"type": "syslog"}, src="synsec.raw")
    assert line_tuple(line) == ("Mar  1 10:00:05 web1 sshd[7]: hello", "synsec.raw", {"type": "syslog"}, "kafka", 0)
    assert type(line.Labels) is StrMap
    assert raw_to_line(b"a\n\n", {}).Raw == "a\n"


def test_plain_text_invalid_utf8_is_replaced():
    """Plain text with a stray non-UTF-8 byte is kept, the byte read as U+FFFD."""
    assert raw_to_line(b"user \xe9ric failed", {"type": "x"}).Raw == "user \ufffdric failed"


def test_default_labels_not_shared():
    """Each Line gets its own labels: changing one changes neither the defaults nor the next line."""
    defaults = {"type": "nginx"}
    first = raw_to_line(b"x", defaults)
    first.Labels["type"] = "changed"
    assert defaults == {"type": "nginx"} and raw_to_line(b"x", defaults).Labels == {"type": "nginx"}


# --- envelopes ---------------------------------------------------------------------------------------------
def test_synsec_envelope():
    """Our shape: message, labels over the defaults (non-strings JSON-encoded), src, time, module."""
    doc = {"message": NGINX, "labels": {"type": "nginx", "weight": 3, "prod": True}, "src": "/var/log/x.log",
           "time": T0, "module": "file"}
    line = raw_to_line(env(doc), {"type": "syslog", "env": "test"})
    assert line_tuple(line) == (NGINX, "/var/log/x.log", {"type": "nginx", "env": "test", "weight": "3",
                                                          "prod": "true"}, "file", T0)
    assert line_tuple(raw_to_line(env({"message": "m"}), {"type": "t"}, src="topic")) == \
        ("m", "topic", {"type": "t"}, "kafka", 0.0)


def test_filebeat_envelope():
    """Filebeat: message, fields → labels, log.file.path → Src, @timestamp → Time, input.type → Module."""
    doc = {"@timestamp": "2024-03-01T10:00:05.250Z", "@metadata": {"beat": "filebeat", "version": "8.12.0"},
           "message": NGINX, "log": {"offset": 1234, "file": {"path": "/var/log/nginx/access.log"}},
           "fields": {"type": "nginx"}, "input": {"type": "filestream"}, "host": {"name": "web1"},
           "agent": {"type": "filebeat"}, "ecs": {"version": "8.0.0"}}
    assert line_tuple(raw_to_line(env(doc), {"type": "syslog"})) == \
        (NGINX, "/var/log/nginx/access.log", {"type": "nginx"}, "filestream", T0 + 0.25)
    flat = {"@timestamp": "2024-03-01T10:00:05Z", "message": "m", "log.file.path": "/a.log"}   # dotted ECS key
    assert line_tuple(raw_to_line(env(flat), {"type": "t"})) == ("m", "/a.log", {"type": "t"}, "file", T0)


def test_vector_envelope_and_label_field():
    """Vector: message, file (else host) → Src, timestamp (ns precision) → Time, source_type → Module."""
    doc = {"message": NGINX, "source_type": "file", "file": "/var/log/nginx/access.log", "host": "web1",
           "timestamp": "2024-03-01T10:00:05.123456789Z", "labels": {"type": "nginx"},
           "crowdsec": {"type": "apache2"}}
    line = raw_to_line(env(doc), {"type": "syslog"})
    assert line_tuple(line) == (NGINX, "/var/log/nginx/access.log", {"type": "nginx"}, "file", T0 + 0.123456)
    assert raw_to_line(env(doc), {}, shapes_with(labels_field="crowdsec")).Labels == {"type": "apache2"}
    no_file = {"message": "m", "source_type": "journald", "host": "web1"}
    assert line_tuple(raw_to_line(env(no_file), {"type": "t"})) == ("m", "web1", {"type": "t"}, "journald", 0.0)


def test_raw_line_field_and_labels_field_are_honoured():
    """A topology's raw.line_field/labels_field rename the line and labels of Vector's and synsec's envelopes
    (regression: they were parsed and documented but the decoder always read `message` and `labels`)."""
    shapes = shapes_with(line_field="log", labels_field="crowdsec")
    ours = {"log": SSHD, "crowdsec": {"type": "syslog"}, "message": "not the line", "labels": {"type": "x"}}
    assert line_tuple(raw_to_line(env(ours), {"type": "t"}, shapes)) == (SSHD, "", {"type": "syslog"}, "kafka", 0.0)
    vector = {"log": NGINX, "source_type": "file", "file": "/a.log", "crowdsec": {"type": "nginx"}}
    assert raw_to_line(env(vector), {}, shapes).Raw == NGINX
    assert raw_to_line(env(vector), {}, shapes).Labels == {"type": "nginx"}
    with pytest.raises(DecodeError, match="no message field"):
        raw_to_line(env({"message": SSHD}), {}, shapes)              # the line must be where the topology says
    filebeat = {"@timestamp": "2024-03-01T10:00:05Z", "message": "m", "fields": {"type": "nginx"}}
    assert raw_to_line(env(filebeat), {}, shapes).Raw == "m"         # Filebeat's fields are its own


def test_rsyslog_envelope_rebuilds_syslog_line():
    """rsyslog: timereported, hostname, programname[procid] and msg become a syslog line labelled type=syslog."""
    doc = {"timereported": "2024-03-01T10:00:05+00:00", "hostname": "web1", "programname": "sshd",
           "procid": "4242", "msg": " " + SSHD, "fromhost-ip": "10.0.0.5", "syslogtag": "sshd[4242]:"}
    line = raw_to_line(env(doc), {"type": "nginx"})
    assert line_tuple(line) == (f"2024-03-01T10:00:05+00:00 web1 sshd[4242]: {SSHD}", "10.0.0.5",
                                {"type": "syslog"}, "syslog", T0)
    del doc["procid"]
    assert raw_to_line(env(doc), {}).Raw == f"2024-03-01T10:00:05+00:00 web1 sshd: {SSHD}"
    bare = {"message": SSHD, "programname": "sshd", "labels": {"type": "custom"}}    # no header: msg alone
    assert line_tuple(raw_to_line(env(bare), {})) == (SSHD, "", {"type": "custom"}, "syslog", 0.0)


def test_custom_shape_from_the_table():
    """A shape added to the table (Fluent Bit's `log` key) is used without code changes, before the defaults."""
    fluent = Shape("fluentbit", ("log",), ("log",), src=("filename",), labels="labels", default_module="fluentbit")
    doc = {"log": "a line", "filename": "/var/log/y.log", "labels": {"type": "y"}, "message": "not this"}
    assert line_tuple(raw_to_line(env(doc), {}, (fluent, *DEFAULT_SHAPES))) == \
        ("a line", "/var/log/y.log", {"type": "y"}, "fluentbit", 0.0)


@pytest.mark.parametrize("value, expected", [
    (1709287205, T0), ("2024-03-01T10:00:05", T0), ("2024-03-01T11:00:05+01:00", T0), ("yesterday", 0.0),
    (True, 0.0), ([1], 0.0),
])
def test_envelope_times(value, expected):
    """Epoch numbers and RFC 3339 text (naive = UTC) give Line.Time; anything else is 0 (unknown)."""
    assert raw_to_line(env({"message": "m", "time": value}), {}).Time == expected


def test_every_shipper_parses_like_the_plain_line():
    """The same sshd and nginx lines through each shipper's envelope give the engine the same Meta."""
    from synsec.assembly.build import EngineOptions, build_engine

    engine, _ = build_engine(EngineOptions(reference_year=2024))

    def meta(line: Line) -> dict:
        evt = engine.parse(line)
        assert evt is not None, f"{line.Raw!r} {dict(line.Labels)} did not parse"
        assert evt.Meta.get("datasource_path", line.Src) == line.Src
        return {k: v for k, v in evt.Meta.items() if not k.startswith("datasource_")}   # Src/Module differ by design

    sshd_plain = meta(raw_to_line(f"Mar  1 10:00:05 web1 sshd[4242]: {SSHD}".encode(), {"type": "syslog"}))
    assert sshd_plain["source_ip"] == "192.0.2.7"
    rsyslog = {"timereported": "2024-03-01T10:00:05+00:00", "hostname": "web1", "programname": "sshd",
               "procid": "4242", "msg": " " + SSHD}
    assert meta(raw_to_line(env(rsyslog), {})) == sshd_plain

    nginx_plain = meta(raw_to_line(NGINX.encode(), {"type": "nginx"}))
    assert nginx_plain["source_ip"] == "192.0.2.50"
    for doc in ({"@timestamp": "2024-03-01T10:00:05Z", "message": NGINX, "fields": {"type": "nginx"}},
                {"message": NGINX, "source_type": "file", "file": "a", "labels": {"type": "nginx"}},
                {"message": NGINX, "labels": {"type": "nginx"}}):
        assert meta(raw_to_line(env(doc), {"type": "syslog"})) == nginx_plain


# --- poison ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value, message", [
    (None, "raw: null value"),
    (b'{"message": "caf\xe9"}', r"JSON envelope is not valid UTF-8 \(invalid continuation byte at byte 16\)"),
    (b'{"message": "x"', "invalid JSON envelope"),
    (b"  [1, 2]", "JSON envelope is a list, not an object"),
    (b'{"labels": {"type": "x"}}', "no message field \\(no key among"),
    (b'{"@timestamp": "2024-03-01T10:00:05Z"}', r"raw \(filebeat\): no message field \(looked for message\)"),
    (b'{"message": 42}', r"raw \(synsec\): message is a int, not a string"),
    (b'{"message": "m", "labels": "nginx"}', "labels field 'labels' is a str, not an object"),
    (b'{"message": "a\\ud800b"}', "lone surrogate escape"),
])
def test_poison(value, message):
    """Undecodable values raise DecodeError saying what is wrong."""
    with pytest.raises(DecodeError, match=message):
        raw_to_line(value, {"type": "syslog"})


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80) | st.builds(lambda d: json.dumps(d).encode(), st.dictionaries(
    st.sampled_from(["message", "msg", "labels", "fields", "@timestamp", "source_type", "time", "src",
                     "programname", "hostname", "timereported"]),
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.dictionaries(st.text(max_size=3),
                                                                                       st.text(max_size=3)))))
def test_any_bytes_give_a_line_or_decode_error(value):
    """Whatever arrives on synsec.raw, the result is a Line of strings or a DecodeError — nothing else."""
    try:
        line = raw_to_line(value, {"type": "syslog"})
    except DecodeError:
        return
    assert all(isinstance(v, str) for v in (line.Raw, line.Src, line.Module, *line.Labels, *line.Labels.values()))
    line.Raw.encode("utf-8")          # always Avro-encodable downstream


@given(message=st.text(st.characters(blacklist_categories=("Cs",))).filter(lambda m: not m.endswith(("\n", "\r"))),
       labels=st.dictionaries(st.text(st.characters(blacklist_categories=("Cs",))), st.text(st.characters(
           blacklist_categories=("Cs",))), max_size=4))
def test_synsec_envelope_keeps_message_and_labels_exactly(message, labels):
    """Any message and string labels in our envelope come back exactly (unicode included)."""
    line = raw_to_line(json.dumps({"message": message, "labels": labels}).encode(), {})
    assert (line.Raw, dict(line.Labels)) == (message, labels)


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_one_trailing_line_terminator_is_removed(ending):
    """A shipper's trailing LF, CRLF or CR is not part of the line (the envelope's and plain text's alike)."""
    assert raw_to_line(json.dumps({"message": "a b" + ending}).encode(), {}).Raw == "a b"
    assert raw_to_line(("a b" + ending).encode(), {}).Raw == "a b"
