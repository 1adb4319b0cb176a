"""`ccscli hubtest`: synsec's own hub tests pass, a wrong assertion fails naming file:line, results are shaped as
CrowdSec records them, and hostile test directories are refused with a clear message."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from synsec.cli.ccscli import ccscli

OWN = Path(__file__).resolve().parents[2] / "scenarios"


def _ccscli(*args: str):
    return CliRunner().invoke(ccscli, ["hubtest", *args], catch_exceptions=False)


@pytest.fixture
def hub(tmp_path: Path) -> Path:
    """A copy of synsec's own content with its tests, to spoil."""
    out = tmp_path / "hub"
    shutil.copytree(OWN, out, ignore=shutil.ignore_patterns("samples"))
    return out


def test_own_content_tests_pass():
    """`ccscli hubtest run --all` on synsec's own content passes every test (parser and scenario assertions)."""
    res = _ccscli("run", "--all", "--hub", str(OWN), "-o", "json")
    out = json.loads(res.output)
    assert res.exit_code == 0, res.output
    summary = out["summary"]
    assert summary["tests"] >= 5 and summary["passed"] == summary["tests"]
    assert summary["parser_tests"] >= 2 and summary["scenario_tests"] >= 3
    assert summary["parser_assertions"] > 100 and summary["scenario_assertions"] > 100
    names = {t["name"] for t in out["tests"]}
    assert {"sshd-logs", "nginx-logs", "ssh-bf", "http-probing"} <= names


def test_wrong_assertion_is_a_failure_naming_file_and_line(hub: Path):
    """A false assertion fails the run (exit 1) and is reported as file:line with the value its left side had."""
    scen = hub / ".tests" / "ssh-bf" / "scenario.assert"
    lines = scen.read_text().splitlines()
    lines[0] = "len(results) == 7"
    scen.write_text("\n".join(lines) + "\n")
    parser = hub / ".tests" / "sshd-logs" / "parser.assert"
    text = parser.read_text().splitlines()
    idx = next(i for i, line in enumerate(text) if 'Meta["source_ip"] == "192.0.2.10"' in line)
    text[idx] = text[idx].replace("192.0.2.10", "192.0.2.99")
    parser.write_text("\n".join(text) + "\n")
    res = _ccscli("run", "ssh-bf", "sshd-logs", "--hub", str(hub))
    assert res.exit_code == 1
    assert f"{scen}:1: len(results) == 7  (len(results) is 4)" in res.output
    assert f"{parser}:{idx + 1}: " in res.output and '"192.0.2.10"' in res.output
    assert "0/2 tests passed" in res.output


def test_parser_results_are_shaped_as_crowdsec_records_them(hub: Path):
    """results[stage][node] lists each top-level node's outcome per line, with Idx, Evt and Success; the
    `success` stage is present and empty; a line no s01 parser takes is Success false there."""
    (hub / ".tests" / "sshd-logs" / "parser.assert").write_text("\n".join([
        'len(results["success"][""]) == 0',
        'len(results) == 4 && len(results["s01-parse"]) == 1',      # top-level nodes only, never their children
        'results["s01-parse"]["synsec/sshd-logs"][0].Idx == 1',
        'results["s01-parse"]["synsec/sshd-logs"][4].Success == false',
        'results["s01-parse"]["synsec/sshd-logs"][4].Evt.Parsed["program"] == "CRON"',
        'results["s00-raw"]["synsec/syslog-logs"][0].Evt.Meta["source_ip"] == ""',
        'results["s01-parse"]["synsec/sshd-logs"][0].Evt.Meta["source_ip"] == "192.0.2.10"',
        'results["datasource"] == nil',
        'basename(results["s02-enrich"]["synsec/dateparse-enrich"][0].Evt.Meta["datasource_path"]) == "sshd-logs.log"',
        'results["s02-enrich"]["synsec/dateparse-enrich"][0].Evt.Meta["datasource_path"] == "sshd-logs.log"',
    ]) + "\n")
    res = _ccscli("run", "sshd-logs", "--hub", str(hub))
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("line, why", [
    ('results["s00-raw"]["synsec/syslog-logs"][0].__class__ == 1', "cannot fetch '__class__'"),
    ('results["s00-raw"]["synsec/syslog-logs"][0].Evt.Meta', "not a condition"),
    ("len(results) ==", "error"),
    ("Exec('id') == 1", "unknown func"),
])
def test_hostile_assertions_are_failures_not_crashes(hub: Path, line: str, why: str):
    """An assertion that escapes nothing, does not compile or is not a condition is one failure at its line."""
    path = hub / ".tests" / "nginx-logs" / "parser.assert"
    path.write_text(line + "\n")
    res = _ccscli("run", "nginx-logs", "--hub", str(hub))
    assert res.exit_code == 1
    assert f"{path}:1: {line}" in res.output and why in res.output


def test_log_file_outside_the_test_is_refused(hub: Path):
    """A config.yaml whose log_file leaves the test directory is an error naming config.yaml, line and field."""
    cfg = hub / ".tests" / "ssh-bf" / "config.yaml"
    cfg.write_text(cfg.read_text().replace("log_file: ssh-bf.log", "log_file: ../../parsers/s00-raw/syslog-logs.yaml"))
    res = _ccscli("run", "ssh-bf", "--hub", str(hub))
    assert res.exit_code == 1
    assert f"{cfg}:" in res.output and "log_file" in res.output and "not a file of the test directory" in res.output


def test_create_then_run_shows_the_assertions_to_write(hub: Path):
    """`create` writes cscli's skeleton; running it fails (empty assertion files) and shows generated ones,
    which pass once written."""
    res = _ccscli("create", "my-ssh", "--hub", str(hub), "-t", "syslog", "-p", "synsec/sshd-logs",
                  "-s", "synsec/ssh-bf")
    assert res.exit_code == 0, res.output
    test = hub / ".tests" / "my-ssh"
    shutil.copyfile(hub / ".tests" / "ssh-bf" / "ssh-bf.log", test / "my-ssh.log")
    out = json.loads(_ccscli("run", "my-ssh", "--hub", str(hub), "-o", "json").output)["tests"][0]
    assert not out["success"]
    for kind, file in (("parser", "parser.assert"), ("scenario", "scenario.assert")):
        assert out[kind]["generated"].startswith("len(results) == ")
        (test / file).write_text(out[kind]["generated"])
    assert _ccscli("run", "my-ssh", "--hub", str(hub)).exit_code == 0
    assert _ccscli("create", "my-ssh", "--hub", str(hub), "-t", "syslog").exit_code == 1


def test_list_explain_and_coverage():
    """`list` names the tests, `explain` shows each line's parsers per stage and the scenarios it entered,
    `coverage` counts the parsers and scenarios with assertions."""
    listed = json.loads(_ccscli("list", "--hub", str(OWN), "-o", "json").output)
    assert "ssh-bf" in {t["name"] for t in listed}
    res = _ccscli("explain", "ssh-bf", "--hub", str(OWN))
    assert res.exit_code == 0
    first = res.output.split("\n\n")[0]
    assert first.startswith("line: 2024-03-01T10:00:00+00:00 bastion sshd[2000]: Failed password for root")
    assert "s01-parse" in first and "🟢 synsec/sshd-logs" in first and "🟢 synsec/ssh-bf" in first
    cov = json.loads(_ccscli("coverage", "--hub", str(OWN), "-o", "json").output)
    covered = {i["name"] for i in cov["parsers"]["items"] if i["tests"]}
    assert {"synsec/sshd-logs", "synsec/nginx-logs"} <= covered
    assert "synsec/ssh-bf" in {i["name"] for i in cov["scenarios"]["items"] if i["tests"]}


def test_overflows_are_sorted_and_keyed_as_cscli_reads_them():
    """Overflows sort by scenario then sources, descending (cscli's LoadScenarioDump); a source is keyed by its IP
    even once a postoverflow made it a range; alert events answer GetMeta."""
    from synsec.engine.model import Alert, Source
    from synsec.runner.hubtest.results import scenario_results

    def alert(scenario, ip, scope="Ip", value=None):
        return Alert(Scenario=scenario, Source=Source(Scope=scope, Value=value or ip, IP=ip), EventsCount=1,
                     StartAt=0.0, StopAt=0.0, Events=[{"timestamp": 0.0, "meta": {"source_ip": ip}}])

    out = scenario_results([alert("a/x", "1.2.3.4"), alert("a/x", "1.2.3.9"), alert("b/y", "1.2.3.1"),
                            alert("a/x", "2001:0db8::1", "Range", "2001:db8::/64")])
    assert [e.Overflow.GetSources() for e in out] == [["1.2.3.1"], ["2001:0db8::1"], ["1.2.3.9"], ["1.2.3.4"]]
    assert out[1].Overflow.Sources["2001:0db8::1"].GetValue() == "2001:db8::/64"
    assert out[0].Overflow.Alert.Events[0].GetMeta("source_ip") == "1.2.3.1"


def test_events_without_a_time_are_poured_into_trigger_buckets_only(hub: Path):
    """As CrowdSec's time machine: an event without MarshaledTime (no dateparse-enrich) is parsed but skipped by
    TimeMachinePour, so the leaky ssh-bf makes no overflow; a trigger's processor overflows before that pour, so a
    trigger bucket still takes it (one overflow per failing source, its blackhole holding the rest). A time that
    ParseDate fails to read is a time all the same (CrowdSec stamps the event with the current time)."""
    test = hub / ".tests" / "ssh-bf"
    (hub / "scenarios" / "ssh-trigger.yaml").write_text(
        "type: trigger\nname: t/ssh-trigger\ndescription: x\nfilter: evt.Meta.log_type == 'ssh_failed-auth'\n"
        "groupby: evt.Meta.source_ip\nblackhole: 24h\nlabels:\n  remediation: true\n")
    timed = (test / "config.yaml").read_text()
    untimed = timed.replace("- synsec/dateparse-enrich\n", "")
    (test / "config.yaml").write_text(untimed)
    (test / "scenario.assert").write_text("len(results) == 0\n")
    out = json.loads(_ccscli("run", "ssh-bf", "--hub", str(hub), "-o", "json").output)
    assert out["tests"][0]["success"] and out["tests"][0]["alerts"] == 0
    (test / "config.yaml").write_text(untimed.replace("- synsec/ssh-bf\n", "- synsec/ssh-bf\n- ./scenarios/ssh-trigger.yaml\n"))
    (test / "scenario.assert").write_text("len(results) == 4\n"
                                          'results[0].Overflow.Alert.GetScenario() == "t/ssh-trigger"\n')
    res = _ccscli("run", "ssh-bf", "--hub", str(hub), "-o", "json")
    assert res.exit_code == 0, res.output
    (test / "config.yaml").write_text(timed)
    out = json.loads(_ccscli("run", "ssh-bf", "--hub", str(hub), "-o", "json").output)
    assert out["tests"][0]["alerts"] >= 1
    (hub / "parsers" / "s02-enrich" / "aaa-garbage-time.yaml").write_text(     # before dateparse-enrich
        "name: t/garbage-time\ndescription: x\nfilter: evt.StrTime != ''\nstatics:\n"
        "  - target: evt.StrTime\n    value: not a date\n")
    (test / "config.yaml").write_text(timed.replace("- synsec/dateparse-enrich\n",
                                                    "- ./parsers/s02-enrich/aaa-garbage-time.yaml\n"
                                                    "- synsec/dateparse-enrich\n"))
    out = json.loads(_ccscli("run", "ssh-bf", "--hub", str(hub), "-o", "json").output)
    assert out["tests"][0]["alerts"] >= 1      # ParseDate ran and failed: CrowdSec dates it now, and pours it


def test_an_overflow_of_several_sources_is_one_result():
    """An overflow whose events came from two IPs (a conditional bucket grouped by user) is one result holding
    both sources, as CrowdSec's dump records it; two overflows stay two results."""
    from synsec.engine.model import Alert, Source
    from synsec.runner.hubtest.results import scenario_results

    events = [{"timestamp": 1.0, "meta": {"source_ip": "192.0.2.1"}},
              {"timestamp": 2.0, "meta": {"source_ip": "192.0.2.2"}}]

    def alert(ip, message="Ip 2 sources performed 'a/x'", stop=2.0):
        return Alert(Scenario="a/x", Source=Source(Scope="Ip", Value=ip, IP=ip), EventsCount=2, StartAt=1.0,
                     StopAt=stop, Events=[dict(e) for e in events], Message=message)

    out = scenario_results([alert("192.0.2.1"), alert("192.0.2.2"), alert("192.0.2.3", stop=9.0)])
    assert len(out) == 2
    both = next(e for e in out if len(e.Overflow.GetSources()) == 2)
    assert sorted(both.Overflow.GetSources()) == ["192.0.2.1", "192.0.2.2"]
    assert both.Overflow.Sources["192.0.2.2"].GetScope() == "Ip"
