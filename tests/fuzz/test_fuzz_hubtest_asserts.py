"""Fuzz of hubtest assertion files: hostile `parser.assert` / `scenario.assert` text is read as a stranger's.

Lines of synsec's own assertion files are mutated (characters dropped, repeated, swapped, replaced by pieces of
expr and Python such as `__class__`, `.Evt.SetMeta(`, `((((`, very long strings) and evaluated against the results
of a real run. For each file: `check_lines` raises nothing, counts every non-empty line once, and each failure
names the file and a line that exists. CI mode is derandomized and bounded (a few seconds); `SYNSEC_FUZZ_LONG=1`
runs many more examples.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synsec.assembly.build import EngineOptions
from synsec.runner.hubtest import HubTestRunner, check_lines, read_config
from synsec.runner.hubtest.install import install_test
from synsec.runner.hubtest.results import scenario_results
from synsec.runner.hubtest.run import replay_test

LONG = os.environ.get("SYNSEC_FUZZ_LONG") == "1"
EXAMPLES = 2000 if LONG else 40
OWN = Path(__file__).resolve().parents[2] / "scenarios"
PIECES = ["__class__", "__globals__", ".Evt.SetMeta(\"a\", \"b\")", "((((", "]]", "results", "[0]", "[\"s01-parse\"]",
          " == ", " in ", "len(", "basename(", "datasource_path", "\"", "'", "\\", "nil", "1..1000000",
          "map(1..100000, {#})", "x" * 5000, ".GetMeta(", ".Overflow.Alert", "; let x = 1; x", "\x00", "\u202e"]


def _results(name: str, work: Path):
    """The parse collector and the alerts of a real run of one of synsec's own tests."""
    runner = HubTestRunner(OWN, reference_year=2026)
    cfg = read_config(OWN / ".tests" / name)
    install_test(cfg, OWN, runner.index, work, runner.data_dirs)
    opts = EngineOptions.from_flags(config_dir=work, data_dirs=runner.data_dirs, reference_year=2026)
    return replay_test(cfg, opts, 0.0)


def _mutate(lines: list[str], draw) -> list[str]:
    out = list(lines)
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(out) - 1))
        line = out[i]
        op = draw(st.sampled_from(["drop", "insert", "cut", "dup", "newline"]))
        at = draw(st.integers(0, len(line)))
        if op == "drop":
            out[i] = line[:at] + line[at + 1:]
        elif op == "insert":
            out[i] = line[:at] + draw(st.sampled_from(PIECES)) + line[at:]
        elif op == "cut":
            out[i] = line[:at]
        elif op == "dup":
            out[i] = line * draw(st.integers(2, 20))
        else:
            out.insert(i, draw(st.sampled_from(["", " ", "\t", "\r"])))
    return out


def test_mutated_assertion_files_never_crash(tmp_path: Path):
    """Mutated assertion files are evaluated line by line: no exception, every line counted, failures placed."""
    collector, _ = _results("sshd-logs", tmp_path / "parser")
    _, out = _results("ssh-bf", tmp_path / "scenario")
    targets = [((OWN / ".tests" / "sshd-logs" / "parser.assert").read_text().splitlines()[:40], collector.results),
               ((OWN / ".tests" / "ssh-bf" / "scenario.assert").read_text().splitlines()[:40],
                scenario_results(out.alerts))]

    @settings(max_examples=EXAMPLES, derandomize=not LONG, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data):
        lines, results = targets[data.draw(st.integers(0, 1))]
        text = "\n".join(_mutate(lines, data.draw))
        report = check_lines("fuzz.assert", text, results)
        numbered = text.split("\n")
        assert report.count == sum(1 for line in numbered if line.rstrip("\r").strip())
        for fail in report.fails:
            assert fail.file == "fuzz.assert" and 1 <= fail.line <= len(numbered)

    run()
