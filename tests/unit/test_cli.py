"""The CLIs on the embedded default: replay output shapes, the store behind ccscli, explain, lint, bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from click.testing import CliRunner

from synsec.cli.ccscli import ccscli
from synsec.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
NGINX_SAMPLE = REPO / "scenarios" / "samples" / "nginx-demo.log"
AUTH_SAMPLE = REPO / "scenarios" / "samples" / "auth-demo.log"


def _replay(tmp_path, *args, input=None):
    res = CliRunner().invoke(cli, ["replay", *args, "--state-dir", str(tmp_path / "state"), "-o", "json"],
                             input=input, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_replay_json_shape(tmp_path):
    """`synsec replay -o json` prints {alerts, decisions, stats} with the documented alert fields."""
    out = _replay(tmp_path, str(NGINX_SAMPLE), "--type", "nginx")
    assert set(out) == {"alerts", "decisions", "stats"}
    alert = out["alerts"][0]
    for key in ("scenario", "source", "events_count", "start_at", "stop_at", "events", "labels",
                "remediation", "simulated"):
        assert key in alert
    assert alert["source"]["ip"] == alert["source"]["value"] and alert["source"]["scope"] == "Ip"
    assert alert["events"] and "meta" in alert["events"][0]
    assert out["stats"]["lines"] == sum(1 for ln in NGINX_SAMPLE.read_text().splitlines() if ln)
    assert {d["type"] for d in out["decisions"]} == {"ban"} and out["decisions"][0]["duration"] == "4h0m0s"


def test_replay_is_deterministic(tmp_path):
    """The same file replayed twice gives identical alerts and decisions."""
    a = _replay(tmp_path, str(AUTH_SAMPLE), "--type", "syslog", "--reference-time", "2026-06-01T00:00:00Z")
    b = _replay(tmp_path, str(AUTH_SAMPLE), "--type", "syslog", "--reference-time", "2026-06-01T00:00:00Z")
    assert a["alerts"] == b["alerts"] and a["decisions"] == b["decisions"] and a["alerts"]


def test_replay_stdin_and_gzip(tmp_path):
    """`-` reads stdin and a .gz file is decompressed: both give the same alerts as the plain file."""
    plain = _replay(tmp_path, str(NGINX_SAMPLE), "--type", "nginx")
    gz = tmp_path / "access.log.gz"
    gz.write_bytes(gzip.compress(NGINX_SAMPLE.read_bytes()))
    zipped = _replay(tmp_path, str(gz), "--type", "nginx")
    stdin = _replay(tmp_path, "-", "--type", "nginx", input=NGINX_SAMPLE.read_bytes())
    def key(out):
        return [(a["scenario"], a["source"]["value"], a["events_count"], a["stop_at"]) for a in out["alerts"]]

    assert key(plain) == key(zipped) == key(stdin) and key(plain)


def test_replay_bad_input_is_counted_not_fatal(tmp_path):
    """Binary garbage, invalid UTF-8, over-long and timestamp-less lines are counted; real attacks still alert."""
    bad = tmp_path / "mixed.log"
    garbage = b"\x00\xff\xfe garbage \x80\x81\n" + b"A" * (70 * 1024) + b"\n" + b"no timestamp here\n"
    bad.write_bytes(garbage + NGINX_SAMPLE.read_bytes() + b"\xc3\x28 broken utf8\n")
    out = _replay(tmp_path, str(bad), "--type", "nginx")
    s = out["stats"]
    assert s["too_long"] == 1 and s["invalid_utf8"] >= 2 and s["binary"] == 1
    assert s["unparsed"] >= 3
    assert len(out["alerts"]) == len(_replay(tmp_path, str(NGINX_SAMPLE), "--type", "nginx")["alerts"])


def test_store_and_ccscli(tmp_path):
    """Decisions and alerts from a replay are listed by ccscli from the embedded store; delete removes them."""
    state = str(tmp_path / "state")
    _replay(tmp_path, str(AUTH_SAMPLE), "--type", "syslog")
    run = CliRunner()
    res = run.invoke(ccscli, ["--state-dir", state, "decisions", "list", "-o", "json"])
    decisions = json.loads(res.stdout)
    assert res.exit_code == 0 and decisions and all(d["origin"] == "synsec" for d in decisions)
    alerts = json.loads(run.invoke(ccscli, ["--state-dir", state, "alerts", "list", "-o", "json"]).stdout)
    assert alerts
    one = json.loads(run.invoke(ccscli, ["--state-dir", state, "alerts", "inspect", alerts[0]["id"],
                                         "-o", "json"]).stdout)
    assert one["id"] == alerts[0]["id"] and one["events"]
    ip = decisions[0]["value"]
    res = run.invoke(ccscli, ["--state-dir", state, "decisions", "delete", "--ip", ip])
    assert res.exit_code == 0 and "deleted" in res.output
    left = json.loads(run.invoke(ccscli, ["--state-dir", state, "decisions", "list", "-o", "json"]).stdout)
    assert ip not in {d["value"] for d in left}


def test_explain_json(tmp_path):
    """`ccscli explain --log` lists each node tried with its success and the scenarios the event enters."""
    line = "Mar  1 10:00:00 web1 sshd[1201]: Failed password for invalid user admin from 203.0.113.5 port 4242 ssh2"
    res = CliRunner().invoke(ccscli, ["explain", "--log", line, "--type", "syslog", "-o", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)[0]
    assert out["parsed"] is True
    assert any(s["success"] and s["meta"].get("log_type") == "ssh_failed-auth" for s in out["steps"])
    assert any(not s["success"] for s in out["steps"])
    assert {"synsec/ssh-bf", "synsec/ssh-slow-bf"} <= {b["scenario"] for b in out["buckets"]}


def test_lint_reports_every_error(tmp_path):
    """`ccscli lint` reports all content errors with path:line: field, across several files, and exits 1."""
    cfg = tmp_path / "cfg"
    (cfg / "scenarios").mkdir(parents=True)
    (cfg / "parsers" / "s01-parse").mkdir(parents=True)
    (cfg / "scenarios" / "a.yaml").write_text("type: leaky\nname: a\ndescription: d\nleakspeed: 10x\ncapacity: 5\nfilter: 'true'\n")
    (cfg / "scenarios" / "b.yaml").write_text("type: leaky\nname: b\ndescription: d\nleakspeed: 1s\ncapacity: 5\nbogus: 1\nfilter: 'true'\n")
    (cfg / "parsers" / "s01-parse" / "p.yaml").write_text(
        "name: p\nfilter: \"Nope(evt.Line.Raw)\"\nonsuccess: next_stage\n")
    res = CliRunner().invoke(ccscli, ["--config-dir", str(cfg), "lint", "-o", "json"])
    assert res.exit_code == 1
    errors = json.loads(res.stdout)["errors"]
    by_file = {}
    for e in errors:
        by_file.setdefault(Path(e["path"]).name, e)
    assert len({(e["path"], e["line"], e["message"]) for e in errors}) == len(errors), "duplicates"
    assert {"a.yaml", "b.yaml", "p.yaml"} <= set(by_file)
    assert by_file["a.yaml"]["line"] == 4 and "leakspeed" in by_file["a.yaml"]["field"]
    assert by_file["b.yaml"]["line"] == 6 and "bogus" in by_file["b.yaml"]["message"]
    assert by_file["p.yaml"]["line"] == 2 and "Nope" in by_file["p.yaml"]["message"]


def test_lint_shipped_content_is_clean():
    """synsec's own content loads without a single error."""
    res = CliRunner().invoke(ccscli, ["lint", "-o", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["errors"] == [] and out["scenarios"] >= 13 and out["parsers"] >= 8


def test_replay_workers_same_alerts(tmp_path):
    """`--workers 2` (parse/route in two processes, pour here) gives exactly the single-process alerts."""
    big = tmp_path / "big.log"
    big.write_bytes(NGINX_SAMPLE.read_bytes() * 3 + AUTH_SAMPLE.read_bytes())
    one = _replay(tmp_path, str(big), "--type", "nginx", "--no-store")
    two = _replay(tmp_path, str(big), "--type", "nginx", "--no-store", "--workers", "2")
    assert one["alerts"] and one["alerts"] == two["alerts"] and one["decisions"] == two["decisions"]
    assert one["stats"]["lines"] == two["stats"]["lines"] and two["stats"]["workers"] == 2


def test_up_rejects_a_garbage_listen_address_before_starting_anything(tmp_path):
    """`synsec up --api-listen` / `--central` given garbage: a usage error naming the option, no traceback."""
    log = tmp_path / "auth.log"
    log.write_text("")
    for option, value in (("--api-listen", "nonsense"), ("--api-listen", "127.0.0.1:99999"),
                          ("--central", "not-an-ip:8090"), ("--central", "[::1]:")):
        res = CliRunner().invoke(cli, ["up", str(log), "--type", "syslog", option, value])
        assert res.exit_code == 2, (option, value, res.output)
        assert option in res.output and "Traceback" not in res.output, res.output
        assert isinstance(res.exception, SystemExit), res.exception      # click's usage exit, nothing raised
