"""Scenario YAML loader: strict decoding, errors with path:line:field collected across files, compilation
with the real expr compiler, and the CrowdSec hub."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from synsec.content.scenarios import (compile_scenarios, load_scenarios, parse_scenario_files,
                                      read_scenario_dir)
from synsec.engine.buckets import BucketManager
from synsec.engine.errors import ErrorCollector, LoadErrors
from synsec.engine.model import Event

SSH = """\
# ssh bruteforce
type: leaky
name: crowdsecurity/ssh-bf
description: "Detect ssh bruteforce"
filter: "evt.Meta.log_type == 'ssh_failed-auth'"
leakspeed: "10s"
capacity: 5
groupby: evt.Meta.source_ip
blackhole: 1m
reprocess: true
labels:
 service: ssh
 type: bruteforce
 remediation: true
"""


def errors_of(files) -> list[str]:
    errors = ErrorCollector()
    specs = parse_scenario_files(files, errors)
    compile_scenarios(specs, None, errors)
    return [str(e) for e in errors.errors]


def test_valid_scenario_decodes_all_fields():
    """A hub-style leaky scenario decodes with its durations in seconds and its labels."""
    (spec,) = parse_scenario_files([("ssh.yaml", SSH)])
    assert (spec.name, spec.type, spec.capacity, spec.leakspeed, spec.blackhole) == \
        ("crowdsecurity/ssh-bf", "leaky", 5, 10.0, 60.0)
    assert spec.reprocess is True and spec.labels["remediation"] is True
    assert spec.hash == hashlib.sha256(SSH.encode()).hexdigest()


def test_unknown_key_is_an_error_with_line_and_field():
    """An unknown key is rejected (CrowdSec SetStrict) naming path, line and field."""
    errs = errors_of([("bad.yaml", SSH + "leak_speed: 10s\n")])
    assert len(errs) == 1 and errs[0].startswith("bad.yaml:15: leak_speed: unknown field")


def test_bad_duration_names_its_line():
    """A leakspeed that is not a Go duration is an error at its line."""
    errs = errors_of([("bad.yaml", SSH.replace('leakspeed: "10s"', "leakspeed: 10"))])
    assert any(e.startswith("bad.yaml:6: leakspeed: invalid duration") for e in errs)


def test_missing_name_and_type_are_errors():
    """name and type are required."""
    errs = errors_of([("bad.yaml", "description: x\nfilter: 'true'\n")])
    assert any(": name: required field is missing" in e for e in errs)
    assert any(": type: required field is missing" in e for e in errs)


def test_type_rules_of_validate_factory():
    """leaky needs capacity > 0 and leakspeed; trigger capacity 0; counter duration and capacity -1."""
    leaky = errors_of([("l.yaml", SSH.replace("capacity: 5\n", ""))])
    assert any("l.yaml:2: capacity: bad capacity" in e for e in leaky)
    trigger = errors_of([("t.yaml", SSH.replace("type: leaky", "type: trigger"))])
    assert any("t.yaml:7: capacity: trigger bucket must have 0 capacity" in e for e in trigger)
    counter = errors_of([("c.yaml", SSH.replace("type: leaky", "type: counter"))])
    assert any("duration can't be empty" in e for e in counter)
    assert any("counter bucket must have -1 capacity" in e for e in counter)


def test_unknown_type_is_an_error():
    """An unregistered bucket type is rejected at its line."""
    errs = errors_of([("u.yaml", SSH.replace("type: leaky", "type: sliding"))])
    assert any(e.startswith("u.yaml:2: type: unknown bucket type 'sliding'") for e in errs)


def test_errors_of_several_files_are_all_reported():
    """Errors from every file come back together in one LoadErrors."""
    with pytest.raises(LoadErrors) as info:
        parse_scenario_files([("a.yaml", SSH + "oops: 1\n"), ("b.yaml", SSH.replace('"10s"', '"10 parsecs"')),
                              ("c.yaml", "name: [unclosed\n")])
    paths = sorted({e.where.path for e in info.value.errors})
    assert paths == ["a.yaml", "b.yaml", "c.yaml"]


def test_multi_document_files_give_one_spec_per_document():
    """`---` separated documents each become a scenario, hashed on their own text."""
    second = SSH.replace("crowdsecurity/ssh-bf", "crowdsecurity/ssh-bf_user-enum")
    text = SSH + "---\n" + second
    a, b = parse_scenario_files([("multi.yaml", text)])
    assert (a.name, b.name) == ("crowdsecurity/ssh-bf", "crowdsecurity/ssh-bf_user-enum")
    assert b.line == 17 and a.hash != b.hash


def test_documents_sharing_a_name_get_distinct_ids():
    """Two documents with one name (CrowdSec keys buckets by filter too) load with ids name and name#2."""
    a, b = parse_scenario_files([("dup.yaml", SSH + "---\n" + SSH.replace("capacity: 5", "capacity: 3"))])
    assert (a.id, b.id) == ("crowdsecurity/ssh-bf", "crowdsecurity/ssh-bf#2")


def test_scope_and_data_and_bayesian_decode():
    """scope, data entries and bayesian_conditions decode; data names are returned for the caller to load."""
    text = """\
type: bayesian
name: test/bayes
description: d
filter: "true"
capacity: -1
leakspeed: 30s
bayesian_prior: 0.05
bayesian_threshold: 0.5
bayesian_conditions:
 - condition: evt.Meta.a == '1'
   prob_given_evil: 0.9
   prob_given_benign: 0.1
   guillotine: true
scope:
  type: Range
  expression: evt.Meta.range
data:
  - source_url: https://example.invalid/x.txt
    dest_file: x.txt
    type: string
"""
    (spec,) = parse_scenario_files([("b.yaml", text)])
    assert spec.scope_type == "Range" and spec.scope_expression == "evt.Meta.range"
    assert [(e.dest_file, e.type) for e in spec.data] == [("x.txt", "string")]
    assert spec.bayesian_conditions[0][1:4] == (0.9, 0.1, True)


HUB_DATA = """\
data:
  - source_url: https://example.invalid/bad_user_agents.regex.txt
    dest_file: bad_user_agents.regex.txt
    type: regexp
    strategy: LRU
    size: 40
    ttl: 10s
"""


def test_data_cache_options_of_the_hub_are_accepted():
    """A data entry's LRU cache options (strategy, size, ttl, cache), as in the hub's http-bad-user-agent, load."""
    (spec,) = parse_scenario_files([("b.yaml", SSH + HUB_DATA + "    cache: true\n")])
    assert [(e.dest_file, e.type) for e in spec.data] == [("bad_user_agents.regex.txt", "regexp")]


@pytest.mark.parametrize("line,field,needle", [
    ("size: 0", "data[0].size", "between 1 and"),
    ("size: 10000000", "data[0].size", "between 1 and"),
    ("size: forty", "data[0].size", "expected an integer"),
    ("strategy: MRU", "data[0].strategy", "unknown cache strategy"),
    ("ttl: 10", "data[0].ttl", "invalid duration"),
    ("cache: maybe", "data[0].cache", "expected true or false"),
])
def test_bad_data_cache_options_name_their_line_and_field(line, field, needle):
    """A bad cache option of a data entry is a load error at path:line: data[0].<field>."""
    key = line.split(":")[0]
    text = SSH + "\n".join(ln for ln in HUB_DATA.splitlines() if not ln.strip().startswith(key + ":"))
    text += f"\n    {line}\n"
    errs = errors_of([("b.yaml", text)])
    assert len(errs) == 1, errs
    lineno = text.splitlines().index(f"    {line}") + 1
    assert errs[0].startswith(f"b.yaml:{lineno}: {field}:") and needle in errs[0], errs


@pytest.mark.parametrize("version,ok", [("1.0", True), ("2.0", True), ("3.0", True), ("3.1", False),
                                        ("0.9", False), ("x", False)])
def test_scenario_format_constraint(version, ok):
    """`format:` follows current CrowdSec's scenario constraint >= 1.0, <= 3.0 (the hub's AppSec scenarios: 3.0)."""
    errs = errors_of([("f.yaml", SSH + f"format: {version}\n")])
    assert (errs == []) is ok and all(e.startswith("f.yaml:15: format:") for e in errs), errs


def test_custom_scope_without_expression_is_an_error():
    """A custom scope needs an expression to give its value."""
    errs = errors_of([("s.yaml", SSH + "scope:\n  type: username\n")])
    assert any("scope.expression" in e for e in errs)


def test_bad_expression_is_an_error_with_place():
    """An expression that does not compile is reported with path:line:field."""
    errs = errors_of([("x.yaml", SSH.replace("groupby: evt.Meta.source_ip", "groupby: evt.Meta.source_ip +"))])
    assert len(errs) == 1 and errs[0].startswith("x.yaml:8: groupby:")


def test_compiled_hub_scenario_detects_ssh_bruteforce():
    """ssh-bf compiled with the real expr compiler overflows on the 6th failed auth of one IP."""
    (spec,) = load_scenarios([("ssh.yaml", SSH)])
    m = BucketManager([spec])
    out = []
    for i in range(6):
        e = Event()
        e.ts = 1000.0 + i
        e.Meta.update({"log_type": "ssh_failed-auth", "source_ip": "198.51.100.7"})
        out += m.process(e)
    ((alert, reprocess),) = out
    assert reprocess is True and alert.EventsCount == 6 and alert.Source.Value == "198.51.100.7"
    assert alert.ScenarioHash == hashlib.sha256(SSH.encode()).hexdigest()


def hub_scenarios_dir() -> Path:
    root = Path(os.environ.get("SYNSEC_HUB_ROOT") or Path(__file__).resolve().parents[2] / ".cache/crowdsec/root")
    path = root / "usr/share/crowdsec/hub/scenarios"
    if not path.is_dir():
        pytest.skip(f"CrowdSec hub not unpacked at {root}")
    return path


@pytest.mark.hub
def test_every_hub_scenario_parses():
    """Every scenario document of the CrowdSec 1.4.6 hub passes the strict parse phase."""
    files = read_scenario_dir(hub_scenarios_dir())
    errors = ErrorCollector()
    specs = parse_scenario_files(files, errors)
    assert [str(e) for e in errors.errors] == []
    assert len(specs) >= 140


@pytest.mark.hub
def test_every_hub_scenario_compiles_with_its_data():
    """Every hub scenario compiles once its data files are in the ExprContext (missing ones empty)."""
    from synsec.engine.expr import ExprContext

    scen_dir = hub_scenarios_dir()
    data_dir = scen_dir.parents[1] / "data"
    errors = ErrorCollector()
    specs = parse_scenario_files(read_scenario_dir(scen_dir), errors)
    ctx = ExprContext()
    for spec in specs:
        for name, kind, _ in spec.data:
            path = data_dir / name
            lines = [x for x in path.read_text().splitlines() if x] if path.is_file() else []
            (ctx.regexps if kind == "regexp" else ctx.files)[name] = lines
    compiled = compile_scenarios(specs, ctx, errors)
    assert [str(e) for e in errors.errors] == []
    assert len(compiled) == len(specs)
    BucketManager(compiled)
