"""Bad input lines (too long, invalid UTF-8, binary), parsed lines without a timestamp and whitelisted
overflows are exported: in `replay -o json` stats, the store behind `ccscli metrics`, and the assembly's
families; `synsec replay` and `synsec run` build their summary with one function (same keys)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from synsec.assembly.build import EngineOptions, build_engine
from synsec.assembly.metrics import LINE_ERRORS, OVERFLOWS_WHITELISTED, PARSER_ERRORS, register_engine
from synsec.cli.ccscli import ccscli
from synsec.cli.main import cli
from synsec.runner.acquis import FileSource
from synsec.metrics import Counters, parse
from synsec.runner.inputs import MAX_LINE_BYTES
from synsec.runner.live import LiveRunner
from synsec.runner.replay import replay
from synsec.runner.tail import Tailer

REPO = Path(__file__).resolve().parents[2]
SSH = "Mar  1 10:01:{s:02d} bastion sshd[{pid}]: Failed password for root from {ip} port 5{s:04d} ssh2\n"
# "March" is a month grok accepts and ParseDate does not: parsed, no timestamp
UNDATED = "March  1 10:00:30 bastion sshd[4999]: Failed password for root from 192.0.2.200 port 50999 ssh2\n"
WANT = {"too_long": 1, "invalid_utf8": 1, "binary": 1, "no_timestamp": 1, "overflows_whitelisted": 1}


@pytest.fixture(scope="module")
def log(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("inputs") / "auth.log"
    # 10.0.0.5 fails 6 times (ssh-bf overflows, the other ssh scenarios do not): the shipped private-ips
    # postoverflow whitelist drops that overflow
    lines = "".join(SSH.format(s=s, pid=5000 + s, ip="10.0.0.5") for s in range(6))
    path.write_bytes(lines.encode() + b"x" * (MAX_LINE_BYTES + 10) + b"\n" + b"bad \xff utf-8\n"
                     + b"nul \x00 byte\n" + UNDATED.encode())
    return path


def test_replay_json_and_ccscli_metrics_show_bad_lines_no_timestamp_and_whitelisted_overflows(log, tmp_path):
    """`replay -o json` stats and `ccscli metrics -o json` (the store) carry bad lines, no-timestamp lines and
    whitelisted overflows."""
    state = tmp_path / "state"
    res = CliRunner().invoke(cli, ["replay", str(log), "--type", "syslog", "--config-dir", str(REPO / "scenarios"),
                                   "--state-dir", str(state), "--reference-time", "2026-06-01T00:00:00Z",
                                   "-o", "json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    stats = json.loads(res.stdout)["stats"]
    assert {k: stats[k] for k in WANT} == WANT
    res = CliRunner().invoke(ccscli, ["--state-dir", str(state), "metrics", "-o", "json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    tables = json.loads(res.stdout)
    assert {r["kind"]: r["lines"] for r in tables["acquisition_errors"]} == {"too_long": 1, "invalid_utf8": 1,
                                                                              "binary": 1}
    assert {r["kind"]: r["count"] for r in tables["parser_errors"]}["no_timestamp"] == 1
    assert tables["whitelists"] == [{"overflows_whitelisted": 1}]


def test_register_engine_renders_line_errors_no_timestamp_and_whitelisted_overflows():
    """The families synsec_acquisition_line_errors_total{kind}, synsec_parser_errors_total{kind="no_timestamp"}
    and synsec_overflows_whitelisted_total render the counts they are given."""
    engine, _ = build_engine(EngineOptions(config_dir=REPO / "scenarios", reference_year=2026))
    counters = register_engine(Counters(), engine)
    for name, n in (("too_long", 2), ("invalid_utf8", 3), ("binary", 4), ("no_timestamp", 5),
                    ("overflows_whitelisted", 6)):
        engine.counts.inc(name, n=n)
    got = {(s.name, s.labels): s.value for s in parse(counters.render())
           if s.name in (LINE_ERRORS, OVERFLOWS_WHITELISTED, PARSER_ERRORS)}
    assert got == {(LINE_ERRORS, (("kind", "too_long"),)): 2, (LINE_ERRORS, (("kind", "invalid_utf8"),)): 3,
                   (LINE_ERRORS, (("kind", "binary"),)): 4, (PARSER_ERRORS, (("kind", "no_timestamp"),)): 5,
                   (OVERFLOWS_WHITELISTED, ()): 6}


def test_replay_and_run_summaries_have_the_same_keys_and_counts(log):
    """`synsec replay` and `synsec run` over the same file give stats with the same keys and bad-line counts."""
    opts = EngineOptions(config_dir=REPO / "scenarios", reference_year=2026)
    replayed = replay([str(log)], {"type": "syslog"}, opts).stats
    engine, content = build_engine(opts)
    tailer = Tailer([FileSource((str(log),), {"type": "syslog"})], engine.counts, from_start=True)
    runner = LiveRunner(engine, content, tailer, lambda out: None)
    runner.start()
    while runner.step():
        pass
    live = runner.summary()
    assert sorted(replayed) == sorted(live)
    assert {k: live[k] for k in ("too_long", "invalid_utf8", "binary", "no_timestamp")} == {
        k: replayed[k] for k in ("too_long", "invalid_utf8", "binary", "no_timestamp")}
