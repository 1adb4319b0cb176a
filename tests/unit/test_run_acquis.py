"""synsec.runner.acquis: CrowdSec acquisition files for `synsec run`, and their errors (path:line: field)."""

from __future__ import annotations

import pytest

from synsec.engine.errors import LoadErrors
from synsec.runner.acquis import load_acquis

GOOD = """\
filenames:
  - /var/log/nginx/*.log
  - /var/log/nginx/access.log
exclude_regexps: ['\\.gz$']
labels:
  type: nginx
---
source: file
filename: /var/log/auth.log
mode: cat
log_level: info
labels: {type: syslog, env: prod}
---
# an empty document is skipped
"""


def _errors(tmp_path, text: str) -> list[str]:
    path = tmp_path / "acquis.yaml"
    path.write_text(text)
    with pytest.raises(LoadErrors) as info:
        load_acquis(path)
    return [str(e) for e in info.value.errors]


def test_crowdsec_acquis_with_several_documents_loads(tmp_path):
    """filename/filenames, labels, mode, exclude_regexps and ignored CrowdSec fields load into sources."""
    path = tmp_path / "acquis.yaml"
    path.write_text(GOOD)
    first, second = load_acquis(path)
    assert first.globs == ("/var/log/nginx/*.log", "/var/log/nginx/access.log") and first.mode == "tail"
    assert first.labels == {"type": "nginx"} and first.excluded("/var/log/nginx/a.log.gz")
    assert second.globs == ("/var/log/auth.log",) and second.mode == "cat"
    assert second.labels == {"type": "syslog", "env": "prod"}
    assert second.where.path == str(path) and second.where.line == 8


def test_acquis_directory_loads_every_yaml_in_name_order(tmp_path):
    """A directory (acquis.d) gives the sources of each *.yaml file, in file name order."""
    (tmp_path / "b.yaml").write_text("filename: /b.log\nlabels: {type: syslog}\n")
    (tmp_path / "a.yml").write_text("filename: /a.log\nlabels: {type: nginx}\n")
    (tmp_path / "notes.txt").write_text("not yaml")
    assert [s.globs for s in load_acquis(tmp_path)] == [("/a.log",), ("/b.log",)]


def test_unsupported_sources_are_one_warning_each_and_unknown_ones_errors(tmp_path):
    """A CrowdSec source synsec does not have (docker, kinesis…) is skipped with one warning naming
    path:line: source, the others load; an unknown source is an error at its line."""
    path = tmp_path / "acquis.yaml"
    path.write_text("filename: /a.log\nlabels: {type: syslog}\n---\nsource: docker\n"
                    "container_name: [nginx]\nlabels: {type: nginx}\n---\nsource: kinesis\nstream_name: x\n"
                    "labels: {type: x}\n")
    warnings: list[str] = []
    [only] = load_acquis(path, warnings)
    assert only.globs == ("/a.log",)
    assert warnings == [f"{path}:4: source docker: not supported by synsec run, skipped (supported: file, "
                        "journalctl, syslog)",
                        f"{path}:8: source kinesis: not supported by synsec run, skipped (supported: file, "
                        "journalctl, syslog)"]
    [err] = _errors(tmp_path, "source: carrier-pigeon\nlabels: {type: x}\n")
    assert err == f"{path}:1: source: unknown data source 'carrier-pigeon' (supported: file, journalctl, syslog)"


def test_journalctl_and_syslog_sources_load_with_crowdsec_keys(tmp_path):
    """journalctl_filter (source guessed from it, as in CrowdSec) and the syslog listener's keys with their
    CrowdSec defaults (127.0.0.1:514, 2048 bytes, UDP and TCP)."""
    path = tmp_path / "acquis.yaml"
    path.write_text("journalctl_filter: [_SYSTEMD_UNIT=ssh.service]\nlabels: {type: syslog}\n---\n"
                    "source: syslog\nlabels: {type: syslog}\n---\nsource: syslog\nlisten_addr: '::1'\n"
                    "listen_port: 5514\nprotocol: tcp\nmax_message_len: 8192\nlabels: {type: syslog}\n")
    journal, default, tcp = load_acquis(path)
    assert journal.filters == ("_SYSTEMD_UNIT=ssh.service",) and journal.mode == "tail"
    assert journal.src == "journalctl-_SYSTEMD_UNIT=ssh.service"
    assert (default.addr, default.port, default.protocols, default.max_message_len) == (
        "127.0.0.1", 514, ("udp", "tcp"), 2048)
    assert (tcp.addr, tcp.port, tcp.protocols, tcp.max_message_len) == ("::1", 5514, ("tcp",), 8192)


def test_journalctl_and_syslog_errors_name_their_field(tmp_path):
    """Empty filters, a bad address, port, protocol or mode, a file key on a syslog source: path:line: field."""
    errors = _errors(tmp_path, "source: journalctl\njournalctl_filter: []\nlabels: {type: syslog}\n---\n"
                               "source: syslog\nlisten_addr: localhost\nlabels: {type: syslog}\n---\n"
                               "source: syslog\nlisten_port: 70000\nprotocol: sctp\nmode: cat\nfilename: /x\n"
                               "labels: {type: syslog}\n")
    path = tmp_path / "acquis.yaml"
    assert any(e.startswith(f"{path}:2: journalctl_filter: must be a non-empty list") for e in errors), errors
    assert f"{path}:6: listen_addr: 'localhost': expected an IP address to listen on" in errors
    assert f"{path}:10: listen_port: 70000: expected a port 1-65535" in errors
    assert f"{path}:11: protocol: 'sctp': expected udp or tcp (default: both)" in errors
    assert f"{path}:12: mode: 'cat': expected one of tail" in errors
    assert f"{path}:13: filename: unknown field for source syslog" in errors


def test_debian_stock_acquis_loads(tmp_path):
    """Debian's crowdsec 1.4.6 /etc/crowdsec/acquis.yaml (files and journalctl) loads with no error."""
    from tests.hubutil import hub_root, require_hub

    require_hub()
    sources = load_acquis(hub_root() / "etc" / "crowdsec" / "acquis.yaml")
    assert [type(s).__name__ for s in sources] == ["FileSource", "FileSource", "JournalSource", "FileSource"]
    assert sources[2].filters == ("_SYSTEMD_UNIT=ssh.service",) and sources[2].labels == {"type": "syslog"}


def test_transform_is_compiled_at_load_and_its_errors_named(tmp_path):
    """`transform` compiles once as an expr over evt; a bad one is a load error naming its line."""
    path = tmp_path / "acquis.yaml"
    path.write_text("filename: /a.log\nlabels: {type: syslog}\ntransform: 'Split(evt.Line.Raw, \"|\")'\n")
    [src] = load_acquis(path)
    assert src.transform.text == 'Split(evt.Line.Raw, "|")'
    [err] = _errors(tmp_path, "filename: /a.log\nlabels: {type: syslog}\ntransform: 'evt.Line.Raw +'\n")
    assert err.startswith(f"{path}:3: transform: ")


def test_bad_fields_are_all_reported_with_their_lines(tmp_path):
    """Unknown field, bad mode, missing type, bad regexp and bad filenames each name their line and field."""
    errors = _errors(tmp_path, "filename: /a.log\nlabels: {env: x}\nmode: follow\nfilname: typo\n"
                               "---\nfilenames: /not/a/list\nlabels: {type: t}\n"
                               "exclude_regexps: ['(']\n---\nlabels: {type: t}\n")
    path = tmp_path / "acquis.yaml"
    assert f"{path}:4: filname: unknown field for source file" in errors
    assert f"{path}:3: mode: 'follow': expected one of tail, cat" in errors
    assert f"{path}:2: labels.type: missing: labels need a type" in errors
    assert f"{path}:6: filenames: must be a list of paths" in errors
    assert any(e.startswith(f"{path}:8: exclude_regexps[0]: bad regexp") for e in errors)
    assert f"{path}:10: source: missing: give `source: file` with filename or filenames" in errors


def test_invalid_yaml_and_empty_file_are_errors(tmp_path):
    """A YAML syntax error names its line; a file without any source says so."""
    [err] = _errors(tmp_path, "filename: /a.log\nlabels: [unclosed\n")
    assert err.startswith(str(tmp_path / "acquis.yaml") + ":") and "invalid YAML" in err
    [err] = _errors(tmp_path, "# nothing\n")
    assert err.endswith("no data source defined")


def test_hostile_acquis_files_are_load_errors(tmp_path):
    """An acquisition file that is a FIFO, over the content size cap or not UTF-8 is a load error naming it
    (a FIFO used to block `synsec run` at start; a huge file was read whole)."""
    import os

    from synsec.content.yamlload import MAX_FILE_BYTES

    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * MAX_FILE_BYTES + "\n")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"filename: /var/log/caf\xe9.log\nlabels: {type: syslog}\n")
    for path, message in ((fifo, "not a regular file"), (big, "larger than"), (latin, "not UTF-8")):
        with pytest.raises(LoadErrors) as info:
            load_acquis(path)
        [err] = [str(e) for e in info.value.errors]
        assert err.startswith(str(path)) and message in err, err
