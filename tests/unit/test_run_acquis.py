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


def test_unsupported_and_unknown_sources_name_file_line_and_field(tmp_path):
    """journalctl is rejected as unsupported, an unknown source as unknown, each at its line, in one pass."""
    errors = _errors(tmp_path, "filename: /a.log\nlabels: {type: syslog}\n---\nsource: journalctl\n"
                               "journalctl_filter: [_SYSTEMD_UNIT=ssh.service]\nlabels: {type: syslog}\n"
                               "---\nsource: carrier-pigeon\nlabels: {type: x}\n")
    path = tmp_path / "acquis.yaml"
    assert errors == [
        f"{path}:4: source: CrowdSec data source 'journalctl' is not supported by synsec run (supported: file)",
        f"{path}:8: source: unknown data source 'carrier-pigeon' (supported: file)"]


def test_journalctl_without_source_is_guessed_then_rejected(tmp_path):
    """As in CrowdSec, journalctl_filter without `source` means journalctl, which is unsupported here."""
    [err] = _errors(tmp_path, "journalctl_filter: [x]\nlabels: {type: syslog}\n")
    assert ":1: source: " in err and "'journalctl' is not supported" in err


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
