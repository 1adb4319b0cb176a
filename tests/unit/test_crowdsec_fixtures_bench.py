"""bench/crowdsec_fixtures.py on a checkout of our own making in CrowdSec's fixture layout: the scenario and parser
lists with `{{.TestDirectory}}`, test.json's overflows and bucket ends, test.yaml's documents matched on Stage,
Process, Whitelisted and the expected map keys; a wrong expectation fails under a named cause."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[2]
fixtures = SimpleNamespace(**runpy.run_path(str(REPO / "bench" / "crowdsec_fixtures.py")))

LEAKY = """type: leaky
name: t/leaky
description: d
filter: "evt.Line.Labels.type == 'x'"
groupby: evt.Meta.source_ip
capacity: 1
leakspeed: 1s
"""
CANCEL = """type: leaky
name: t/cancel
description: d
filter: "evt.Meta.user == 'stop'"
groupby: evt.Meta.source_ip
capacity: 3
leakspeed: 10s
cancel_on: "true"
"""
PARSER = """name: t/parser
filter: "evt.Line.Labels.type == 'x'"
onsuccess: next_stage
grok:
  pattern: "^user %{WORD:user} from %{IP:ip}$"
  apply_on: Line.Raw
statics:
  - meta: source_ip
    expression: evt.Parsed.ip
  - meta: flag
    value: yes
"""


def _event(ts: str, ip: str, user: str = "") -> dict:
    return {"Line": {"Labels": {"type": "x"}, "Raw": "r"}, "MarshaledTime": ts,
            "Meta": {"source_ip": ip, "user": user}}


def _overflow(ip: str, n: int) -> dict:
    return {"Alert": {"sources": {ip: {"scope": "Ip", "value": ip, "ip": ip}},
                      "Alert": {"scenario": "t/leaky", "events_count": n}}}


@pytest.fixture
def checkout(tmp_path) -> Path:
    """Two bucket fixtures and a parser fixture in CrowdSec's layout."""
    buckets = tmp_path / "pkg" / "leakybucket" / "testdata"
    one = buckets / "one"
    one.mkdir(parents=True)
    (one / "bucket.yaml").write_text(LEAKY + "---\n" + CANCEL)
    (one / "scenarios.yaml").write_text(" - filename: {{.TestDirectory}}/bucket.yaml\n")
    lines = [_event("2020-01-01T10:00:00+00:00", "192.0.2.1"), _event("2020-01-01T10:00:00.5+00:00", "192.0.2.1"),
             _event("2020-01-01T10:00:01+00:00", "192.0.2.2", "stop")]
    # 192.0.2.1 overflows; 192.0.2.2's t/leaky bucket underflows within the harness window (lifetime 2 s), its
    # t/cancel bucket is canceled: two ends without an alert
    results = [_overflow("192.0.2.1", 2), {"Alert": {}}, {"Alert": {}}]
    (one / "test.json").write_text(json.dumps({"lines": lines, "results": results}))
    (buckets / "hub").mkdir()                                   # the hub dir of the Go harness: not a fixture
    parser = tmp_path / "pkg" / "parser" / "testdata" / "grok"
    parser.mkdir(parents=True)
    (parser / "p.yaml").write_text(PARSER)
    (parser / "parsers.yaml").write_text(" - filename: {{.TestDirectory}}/p.yaml\n   stage: s00-raw\n")
    (parser / "test.yaml").write_text("""lines:
  - Line: {Labels: {type: x}, Raw: user bob from 192.0.2.9}
  - Line: {Labels: {type: x}, Raw: garbage}
results:
  - {Process: false, Stage: s00-raw}
  - Meta: {source_ip: 192.0.2.9, flag: yes}
    Parsed: {user: bob}
    Process: true
    Stage: s00-raw
---
lines:
  - Line: {Labels: {type: y}, Raw: user bob from 192.0.2.9}
results:
  - {Process: false}
""")
    (tmp_path / "config" / "patterns").mkdir(parents=True)
    return tmp_path


def test_the_harness_passes_fixtures_whose_expectations_hold(checkout, tmp_path):
    """Overflows with their sources, bucket ends (an underflow within the window, a cancel) and parser documents
    in any order all match: exit 0, every fixture passed, in the JSON too."""
    out = tmp_path / "r.json"
    assert fixtures.main(["--crowdsec", str(checkout), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [(f["family"], f["name"], f["passed"]) for f in report["fixtures"]] == [
        ("leakybucket", "one", True), ("parser", "grok", True)]
    assert report["summary"]["leakybucket"]["passed"] == 1 and report["summary"]["parser"]["passed"] == 1


@pytest.mark.parametrize("change,cause", [
    (lambda t: t["results"].pop(), "bucket ends without alert"),                       # one end too many
    (lambda t: t["results"][0]["Alert"]["Alert"].update(events_count=3), "overflows differ"),
    (lambda t: t["results"][0]["Alert"]["sources"]["192.0.2.1"].update(range="192.0.2.0/24"),
     "overflow sources differ"),                                                      # a source field too many
])
def test_a_wrong_bucket_expectation_fails_under_its_cause(checkout, change, cause):
    """A result count, an events_count or a source field that differs fails the fixture, named by cause."""
    path = checkout / "pkg" / "leakybucket" / "testdata" / "one" / "test.json"
    test = json.loads(path.read_text())
    change(test)
    path.write_text(json.dumps(test))
    (res,) = [f for f in fixtures.run(checkout) if f.family == "leakybucket"]
    assert not res.passed and res.cause.startswith(cause)


def test_a_wrong_parser_expectation_fails_and_a_load_error_is_named(checkout):
    """An expected Meta value the parser does not give fails the parser fixture; a scenario that does not load
    is a `load error` naming the file."""
    test = checkout / "pkg" / "parser" / "testdata" / "grok" / "test.yaml"
    test.write_text(test.read_text().replace("flag: yes", "flag: no"))
    bucket = checkout / "pkg" / "leakybucket" / "testdata" / "one" / "bucket.yaml"
    bucket.write_text(LEAKY.replace("capacity: 1", "capacity: 0"))
    by_family = {f.family: f for f in fixtures.run(checkout)}
    assert by_family["parser"].cause == "parser result differs: Meta" and "flag" in by_family["parser"].detail
    assert by_family["leakybucket"].cause == "load error" and "bucket.yaml" in by_family["leakybucket"].detail
