"""The shipped shipper configs (connectors/shippers/): valid as data, aimed at synsec.raw, labelled, and the
messages each one produces decode (streams.raw.raw_to_line) into the Line synsec's parsers expect.

Sample messages are written by hand in each shipper's documented event shape; the rsyslog one is rendered from
the template in the shipped config itself. The end-to-end run of the rsyslog config is
tests/integration/test_shipper_rsyslog.py.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from streams.raw import raw_to_line

ROOT = Path(__file__).resolve().parents[2]
SHIPPERS = ROOT / "connectors" / "shippers"
RSYSLOG = SHIPPERS / "rsyslog" / "synsec.conf"
FILEBEAT = SHIPPERS / "filebeat" / "filebeat.yml"
VECTOR = SHIPPERS / "vector" / "vector.toml"
TOPIC = "synsec.raw"
DEFAULTS = {"type": "syslog"}                   # the topology's default labels (topologies/single.yaml raw.labels)
# the log each config tails → the type label synsec needs for it (picks the s01 parser)
WANTED = {"/var/log/auth.log": "syslog", "/var/log/nginx/access.log": "nginx"}
LINES = {"syslog": 'Mar  1 10:00:00 bastion sshd[4000]: Failed password for root from 192.0.2.15 port 50000 ssh2',
         "nginx": '192.0.2.7 - - [01/Mar/2024:10:00:05 +0000] "GET /wp-login.php?a=\\"x\\" HTTP/1.1" 404 153 "-" '
                  '"Mozilla/5.0 (\\u00e9)"'}


def test_every_shipped_config_is_covered():
    """A config added under connectors/shippers/ without a test here fails (one of each is checked below)."""
    shipped = {p.relative_to(SHIPPERS).as_posix() for p in SHIPPERS.rglob("*")
               if p.is_file() and p.suffix in {".conf", ".yml", ".yaml", ".toml"}}
    assert shipped == {"rsyslog/synsec.conf", "filebeat/filebeat.yml", "vector/vector.toml"}


# --- rsyslog ---------------------------------------------------------------------------------------------------

def _rsyslog_templates(text: str) -> dict[str, list[tuple[str, str]]]:
    """name → [("constant", value) | ("property", name)] for each list template in an rsyslog config."""
    out = {}
    for m in re.finditer(r'template\(name="([^"]+)" type="list"\)\s*\{(.*?)\n\}', text, re.S):
        pieces = []
        for p in re.finditer(r'constant\(value="((?:[^"\\]|\\.)*)"\)|property\(name="([^"]+)" format="json"\)',
                             m.group(2)):
            if p.group(1) is not None:
                pieces.append(("constant", re.sub(r'\\(.)', r'\1', p.group(1))))
            else:
                pieces.append(("property", p.group(2)))
        out[m.group(1)] = pieces
    return out


def _render(pieces, props: dict) -> bytes:
    """What rsyslog writes for a list template: constants verbatim, `format="json"` properties JSON-escaped."""
    return "".join(v if kind == "constant" else json.dumps(props[v], ensure_ascii=False)[1:-1]
                   for kind, v in pieces).encode()


def _rsyslog_routes(text: str) -> dict[str, tuple[str, str]]:
    """watched file → (topic, template) through the imfile input's ruleset and its omkafka action."""
    rulesets = {m.group(1): m.group(2) for m in re.finditer(r'ruleset\(name="([^"]+)"[^)]*\)\s*\{(.*?)\n\}', text, re.S)}
    routes = {}
    for m in re.finditer(r'input\(type="imfile"([^)]*)\)', text):
        attrs = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        body = rulesets[attrs["ruleset"]]
        assert 'type="omkafka"' in body
        routes[attrs["file"]] = (re.search(r'topic="([^"]+)"', body).group(1),
                                 re.search(r'template="([^"]+)"', body).group(1))
    return routes


def test_rsyslog_routes_each_log_to_synsec_raw_with_its_type():
    """Each imfile input goes through omkafka to synsec.raw with a template whose message decodes to its type."""
    text = RSYSLOG.read_text()
    templates, routes = _rsyslog_templates(text), _rsyslog_routes(text)
    assert set(routes) == set(WANTED)
    for path, (topic, template) in routes.items():
        assert topic == TOPIC
        kind = WANTED[path]
        value = _render(templates[template], {"msg": LINES[kind], "hostname": "bastion"})
        line = raw_to_line(value, DEFAULTS)
        assert (line.Raw, line.Labels, line.Src, line.Module) == (LINES[kind], {"type": kind}, "bastion", "syslog")


def test_rsyslog_template_sends_no_header_fields():
    """The imfile templates send no programname/timereported, which would prefix rsyslog's read time to the line."""
    for pieces in _rsyslog_templates(RSYSLOG.read_text()).values():
        assert {v for kind, v in pieces if kind == "property"} == {"msg", "hostname"}


def test_rsyslogd_accepts_the_config(tmp_path):
    """`rsyslogd -N1` (Debian's rsyslog + rsyslog-kafka) validates the shipped config with a real broker address."""
    rsyslogd = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
    if not os.path.exists(rsyslogd) or not glob.glob("/usr/lib/*/rsyslog/omkafka.so"):
        pytest.fail("needs Debian's rsyslog and rsyslog-kafka (scripts/apt-packages.txt)")
    text = RSYSLOG.read_text()
    assert text.count('broker=["127.0.0.1:9092"]') == 2          # the placeholder the header comment names
    (tmp_path / "synsec.conf").write_text(text.replace('broker=["127.0.0.1:9092"]', 'broker=["kafka1.test:9093"]'))
    (tmp_path / "main.conf").write_text(f'global(workDirectory="{tmp_path}")\n'
                                        f'include(file="{tmp_path}/synsec.conf")\n')
    done = subprocess.run([rsyslogd, "-N1", "-f", str(tmp_path / "main.conf")], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0 and "error" not in done.stderr.lower(), done.stderr


# --- Filebeat --------------------------------------------------------------------------------------------------

def _filebeat_event(path: str, line: str, fields: dict) -> bytes:
    """A Filebeat 8 filestream event as output.kafka with codec.json writes it."""
    return json.dumps({"@timestamp": "2024-03-01T10:00:05.250Z",
                       "@metadata": {"beat": "filebeat", "type": "_doc", "version": "8.1.3"},
                       "message": line, "log": {"offset": 0, "file": {"path": path}},
                       "input": {"type": "filestream"}, "fields": fields, "ecs": {"version": "8.0.0"},
                       "host": {"name": "bastion"}, "agent": {"type": "filebeat", "version": "8.1.3"}}).encode()


def test_filebeat_config():
    """filebeat.yml: filestream inputs labelled by fields.type, no processors, output.kafka to synsec.raw at 2.1.0."""
    conf = yaml.safe_load(FILEBEAT.read_text())
    assert conf["processors"] == []
    out = conf["output.kafka"]
    assert out["topic"] == TOPIC and out["version"] == "2.1.0" and out["hosts"] == ["127.0.0.1:9092"]
    assert "codec.json" in out
    inputs = {tuple(i["paths"]): i for i in conf["filebeat.inputs"]}
    assert set(inputs) == {(p,) for p in WANTED}
    for (path,), spec in inputs.items():
        assert spec["type"] == "filestream" and spec["fields_under_root"] is False and spec.get("id")
        kind = WANTED[path]
        line = raw_to_line(_filebeat_event(path, LINES[kind] + "\n", spec["fields"]), DEFAULTS)
        assert (line.Raw, line.Labels, line.Src, line.Module) == (LINES[kind], {"type": kind}, path, "filestream")


# --- Vector ----------------------------------------------------------------------------------------------------

def _remap_labels(source: str) -> dict:
    m = re.fullmatch(r'\s*\.labels = (\{.*\})\s*', source, re.S)
    assert m, source
    return json.loads(m.group(1))


def test_vector_config():
    """vector.toml: file sources, remap transforms adding labels, a JSON kafka sink to synsec.raw taking both."""
    conf = tomllib.loads(VECTOR.read_text())
    sink = conf["sinks"]["synsec_kafka"]
    assert sink["type"] == "kafka" and sink["topic"] == TOPIC and sink["encoding"]["codec"] == "json"
    assert sink["bootstrap_servers"] == "127.0.0.1:9092"
    seen = set()
    for name in sink["inputs"]:
        transform = conf["transforms"][name]
        assert transform["type"] == "remap" and len(transform["inputs"]) == 1
        source = conf["sources"][transform["inputs"][0]]
        assert source["type"] == "file" and len(source["include"]) == 1
        path = source["include"][0]
        seen.add(path)
        kind = WANTED[path]
        event = {"file": path, "host": "bastion", "message": LINES[kind], "source_type": "file",
                 "timestamp": "2024-03-01T10:00:05.123456Z", "labels": _remap_labels(transform["source"])}
        line = raw_to_line(json.dumps(event).encode(), DEFAULTS)
        assert (line.Raw, line.Labels, line.Src, line.Module) == (LINES[kind], {"type": kind}, path, "file")
    assert seen == set(WANTED)
